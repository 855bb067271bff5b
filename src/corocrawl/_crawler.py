"""``Crawler``: the public way to write and run a spider."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from ._config import CrawlConfig
from ._engine import BeforeFetch, Callback, Engine, FailureHook
from ._exceptions import ConfigError, RunningLoopError
from ._politeness import HostPacing, HostPolicy, HostRule, Pacer
from ._request import Request, parse_url
from ._running import graceful_signals, loop_factory
from ._stats import CrawlStats
from .frontier import Frontier, MemoryFrontier
from .sinks import Item, ItemSink, MemorySink

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class Crawler:
    """A spider and how to run it.

    Settings are ``CrawlConfig`` fields, given as keywords or as ``config=``::

        crawler = Crawler(concurrency=64, per_host=16)

        @crawler.start("https://movie.douban.com/cinema/later/beijing/")
        async def listing(resp):
            for a in resp.css("#showing-soon .item h3 a"):
                yield resp.follow(a.attrs["href"], detail)

        @crawler.handler
        async def detail(resp):
            yield {"poster": resp.css_first("#mainpic img").attrs["src"]}

        crawler.run()            # in a script
        await crawler.crawl()    # inside a running loop (Jupyter)

    Without ``frontier=`` and ``sinks=`` the crawl lives in memory and
    ``crawler.items`` holds its items afterwards.
    """

    def __init__(
        self,
        config: CrawlConfig | None = None,
        *,
        frontier: Frontier | None = None,
        sinks: Sequence[ItemSink] | None = None,
        item_key: str | Callable[[Item], str | None] | None = None,
        host_policy: HostPolicy | None = None,
        handle_http_errors: bool = False,
        pacer: Pacer | None = None,
        on_failure: FailureHook | None = None,
        before_fetch: BeforeFetch | None = None,
        **settings: Any,
    ) -> None:
        try:
            self.config = dataclasses.replace(config or CrawlConfig(), **settings)
        except TypeError as exc:
            valid = ", ".join(f.name for f in dataclasses.fields(CrawlConfig))
            raise ConfigError(f"{exc}; valid settings are: {valid}") from None
        self._memory_sink = MemorySink() if sinks is None else None
        self.frontier = frontier
        self.sinks: list[ItemSink] = list(sinks) if sinks is not None else [self._memory_sink]  # type: ignore[list-item]
        self.item_key = item_key
        self.host_policy = host_policy
        self.handle_http_errors = handle_http_errors
        # Hooks of generic crawls (corocrawl.spiders.generic): adaptive spacing per
        # host, a record for each request that failed for good, and robots.txt
        # checked (and fetched when new) before each fetch.
        self.pacer = pacer
        self.on_failure = on_failure
        self.before_fetch = before_fetch
        self.callbacks: dict[str, Callback] = {}
        self.start_requests: list[Request] = []
        self.default_callback: str | None = None
        self.stats = CrawlStats()
        self._engine: Engine | None = None

    # -- declaring the spider ------------------------------------------------

    def handler(self, func: F) -> F:
        """Register a callback by its name, so requests naming it survive a restart."""
        name = func.__name__
        known = self.callbacks.get(name)
        if known is not None and known is not func:
            raise ConfigError(f"two different callbacks are named {name!r}; rename one")
        self.callbacks[name] = func
        if self.default_callback is None:
            self.default_callback = name
        return func

    def start(self, *urls: str, **request_kwargs: Any) -> Callable[[F], F]:
        """Decorate the callback that handles the start URLs.

        >>> @crawler.start("https://example.com/")
        ... async def parse(resp): ...
        """
        for url in urls:
            parse_url(url)  # fail now, with a clear message, not mid-crawl

        def decorate(func: F) -> F:
            self.handler(func)
            self.add_start(*(Request(str(parse_url(u)), func.__name__, **request_kwargs)
                             for u in urls))
            return func

        return decorate

    def add_start(self, *requests: Request) -> None:
        """Add start requests (for URLs known only at run time)."""
        self.start_requests.extend(requests)

    # -- running ---------------------------------------------------------------

    @property
    def items(self) -> list[Item]:
        """Items of the last crawl, when it kept them in memory (no ``sinks=``)."""
        if self._memory_sink is None:
            raise ConfigError("this crawler writes items to its sinks; read them from there")
        return list(self._memory_sink.items.values())

    def stop(self, reason: str = "stopped") -> None:
        """Stop gracefully: no new requests, in-flight ones finish, items are flushed."""
        if self._engine is not None:
            self._engine.stop(reason)

    async def crawl(self, *, handle_signals: bool = False) -> CrawlStats:
        """Run the crawl in the current event loop and return its stats.

        ``handle_signals``: the first Ctrl-C/SIGTERM stops gracefully, a second
        at once (main thread only; leave it off inside Jupyter).
        """
        if handle_signals:
            with graceful_signals(self.stop):
                return await self.crawl()
        if not self.start_requests:
            raise ConfigError("nothing to crawl: give start URLs with @crawler.start(url, ...)")
        self.stats = CrawlStats()
        default = HostRule(self.config.per_host, self.config.delay, self.config.jitter)
        engine = Engine(
            config=self.config,
            frontier=self.frontier if self.frontier is not None else MemoryFrontier(),
            sinks=self.sinks,
            callbacks=self.callbacks,
            default_callback=self.default_callback,
            pacing=HostPacing(default, self.host_policy, self.pacer),
            item_key=self.item_key,
            handle_http_errors=self.handle_http_errors,
            stats=self.stats,
            on_failure=self.on_failure,
            before_fetch=self.before_fetch,
        )
        self._engine = engine
        timer = None
        if self.config.max_time is not None:
            timer = asyncio.get_running_loop().call_later(
                self.config.max_time, engine.stop, f"max_time={self.config.max_time}s reached")
        try:
            return await engine.run(self.start_requests)
        finally:
            if timer is not None:
                timer.cancel()
            self._engine = None

    def run(self, *, handle_signals: bool = True) -> CrawlStats:
        """Run the crawl to the end in a new event loop (uvloop when installed).

        The first Ctrl-C or SIGTERM stops gracefully; a second one stops at once.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RunningLoopError(
                "crawler.run() cannot start a new event loop inside a running one "
                "(Jupyter, async code): use 'await crawler.crawl()' instead"
            )
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            return runner.run(self.crawl(handle_signals=handle_signals))


def crawl_urls(urls: Iterable[str], callback: Callback, **settings: Any) -> list[Item]:
    """Fetch ``urls`` with ``callback`` and return the items: the one-liner case.

    >>> crawl_urls(["https://example.com/"], lambda r: [{"title": r.css_first("title").text()}])
    """
    crawler = Crawler(**settings)
    crawler.handler(callback)
    crawler.add_start(*(Request(str(parse_url(u)), callback.__name__) for u in urls))
    crawler.run()
    return crawler.items
