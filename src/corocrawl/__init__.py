"""corocrawl: a fast, crash-safe web crawler built on asyncio coroutines.

>>> from corocrawl import Crawler
>>> crawler = Crawler(concurrency=32)
"""

from .__about__ import __version__
from ._config import CrawlConfig, Timeouts
from ._crawler import Crawler, crawl_urls
from ._exceptions import CorocrawlError
from ._politeness import HostRule
from ._request import Request
from ._response import Response
from ._stats import CrawlError, CrawlStats
from .frontier import Frontier, MemoryFrontier, Outcome
from .sinks import ItemSink, MemorySink

__all__ = [
    "CorocrawlError",
    "CrawlConfig",
    "CrawlError",
    "CrawlStats",
    "Crawler",
    "Frontier",
    "HostRule",
    "ItemSink",
    "MemoryFrontier",
    "MemorySink",
    "Outcome",
    "Request",
    "Response",
    "Timeouts",
    "__version__",
    "crawl_urls",
]
