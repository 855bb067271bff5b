"""corocrawl: a fast, crash-safe web crawler built on asyncio coroutines.

>>> from corocrawl import Crawler
>>> crawler = Crawler(concurrency=32)

The public names are loaded on first use (PEP 562 ``__getattr__``), so
``import corocrawl`` — and ``corocrawl --help`` — does not pay for aiohttp and
the engine until a name that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .__about__ import __version__

if TYPE_CHECKING:
    from ._config import CrawlConfig, Timeouts
    from ._crawler import Crawler, crawl_urls
    from ._exceptions import CorocrawlError
    from ._politeness import HostRule
    from ._request import Request
    from ._response import Response
    from ._stats import CrawlError, CrawlStats
    from .frontier import Frontier, MemoryFrontier, Outcome
    from .sinks import ItemSink, MemorySink

#: Public name → the module that defines it.
_LAZY = {
    "CorocrawlError": "._exceptions",
    "CrawlConfig": "._config",
    "CrawlError": "._stats",
    "CrawlStats": "._stats",
    "Crawler": "._crawler",
    "Frontier": ".frontier",
    "HostRule": "._politeness",
    "ItemSink": ".sinks",
    "MemoryFrontier": ".frontier",
    "MemorySink": ".sinks",
    "Outcome": ".frontier",
    "Request": "._request",
    "Response": "._response",
    "Timeouts": "._config",
    "crawl_urls": "._crawler",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'corocrawl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # the next lookup is a plain global
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
