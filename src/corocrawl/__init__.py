"""corocrawl: a fast, crash-safe web crawler built on asyncio coroutines.

>>> from corocrawl import Crawler
>>> crawler = Crawler(concurrency=32)

Everything a spider needs is a name here; modules starting with ``_`` are not
part of the API. The public names are loaded on first use (PEP 562
``__getattr__``), so ``import corocrawl`` — and ``corocrawl --help`` — does not
pay for aiohttp and the engine until a name that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .__about__ import __version__

if TYPE_CHECKING:
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

#: Public name → the module that defines it.
_LAZY = {
    "BlockedError": "._exceptions",
    "ConfigError": "._exceptions",
    "CorocrawlError": "._exceptions",
    "CrawlConfig": "._config",
    "CrawlError": "._stats",
    "CrawlItems": "._items",
    "CrawlStats": "._stats",
    "Crawler": "._crawler",
    "Frontier": ".frontier",
    "HostRule": "._politeness",
    "InvalidResponse": "._exceptions",
    "InvalidSelector": "._exceptions",
    "InvalidURL": "._exceptions",
    "ItemSink": ".sinks",
    "MemoryFrontier": ".frontier",
    "MemorySink": ".sinks",
    "MissingExtra": "._exceptions",
    "Outcome": ".frontier",
    "PosterReport": "._posters",
    "PosterResult": "._posters",
    "Request": "._request",
    "Response": "._response",
    "StorageError": "._exceptions",
    "Timeouts": "._config",
    "UsageError": "._exceptions",
    "crawl_urls": "._crawler",
    "download_posters": "._posters",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'corocrawl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # the next lookup is a plain global
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
