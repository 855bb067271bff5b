"""The embedded replica of douban's upcoming-movies site.

An ``aiohttp.web`` app serving douban-structured list and detail pages for
synthetic, seeded movies, with injectable latency, errors, bot blocking and a
GBK-encoded list page. It is the target of ``corocrawl demo``, the tests and the
benchmarks::

    from corocrawl.demo import DemoConfig, DemoServerThread, expected_items

    with DemoServerThread(DemoConfig(movies=200, error_rate=0.1)) as server:
        start = server.url("/cinema/later/beijing/")
        ...                                   # crawl it
        print(server.stats.max_in_flight)
"""

from __future__ import annotations

from ._app import build_app, transient_fault
from ._config import DemoConfig
from ._data import CITY_NAMES, Movie, city_name, expected_items, make_movies
from ._server import DemoServer, DemoServerThread
from ._stats import DemoStats

__all__ = [
    "CITY_NAMES",
    "DemoConfig",
    "DemoServer",
    "DemoServerThread",
    "DemoStats",
    "Movie",
    "build_app",
    "city_name",
    "expected_items",
    "make_movies",
    "transient_fault",
]
