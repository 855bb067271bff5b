"""corocrawl: a fast, crash-safe web crawler built on asyncio coroutines.

>>> from corocrawl import Crawler
>>> crawler = Crawler(concurrency=32)

Everything a spider needs is a name here; modules starting with ``_`` are not
part of the API.
"""

from .__about__ import __version__
from ._config import CrawlConfig, Timeouts
from ._crawler import Crawler, crawl_urls
from ._exceptions import (
    BlockedError,
    ConfigError,
    CorocrawlError,
    InvalidResponse,
    InvalidSelector,
    InvalidURL,
    MissingExtra,
    StorageError,
    UsageError,
)
from ._items import CrawlItems
from ._politeness import HostRule
from ._posters import PosterReport, PosterResult, download_posters
from ._request import Request
from ._response import Response
from ._stats import CrawlError, CrawlStats
from .frontier import Frontier, MemoryFrontier, Outcome
from .sinks import ItemSink, MemorySink

__all__ = [
    "BlockedError",
    "ConfigError",
    "CorocrawlError",
    "CrawlConfig",
    "CrawlError",
    "CrawlItems",
    "CrawlStats",
    "Crawler",
    "Frontier",
    "HostRule",
    "InvalidResponse",
    "InvalidSelector",
    "InvalidURL",
    "ItemSink",
    "MemoryFrontier",
    "MemorySink",
    "MissingExtra",
    "Outcome",
    "PosterReport",
    "PosterResult",
    "Request",
    "Response",
    "StorageError",
    "Timeouts",
    "UsageError",
    "__version__",
    "crawl_urls",
    "download_posters",
]
