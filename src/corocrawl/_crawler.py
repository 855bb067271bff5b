"""``Crawler``: the public way to write and run a spider."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import itertools
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._config import CrawlConfig
from ._engine import BeforeFetch, Callback, Engine, FailureHook, PageHook
from ._exceptions import ConfigError, RunningLoopError
from ._fetcher import RedirectCheck
from ._items import CrawlItems
from ._politeness import HostPacing, HostPolicy, HostRule, Pacer
from ._request import Request, parse_url
from ._run import RunOutput, observe_crawl, output_for
from ._running import graceful_signals, loop_factory
from ._stats import CrawlStats, PageEvent
from .frontier import Frontier, MemoryFrontier
from .sinks import Item, ItemSink, MemorySink

if TYPE_CHECKING:
    from .redis import RedisOptions

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

        crawler.run()                 # in a script: in memory
        crawler.run(db="movies.db")   # in SQLite: run it again to resume
        await crawler.crawl()         # inside a running loop (Jupyter)
        crawler.export("movies.csv")  # or .jsonl; crawler.items streams them

    Callbacks yield ``Request``s and items: dicts, dataclasses, attrs classes
    or pydantic models (stored with their fields).
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
        redirect_check: RedirectCheck | None = None,
        **settings: Any,
    ) -> None:
        try:
            self.config = dataclasses.replace(config or CrawlConfig(), **settings)
        except TypeError as exc:
            valid = ", ".join(f.name for f in dataclasses.fields(CrawlConfig))
            raise ConfigError(f"{exc}; valid settings are: {valid}") from None
        self._memory_sink = MemorySink() if sinks is None else None
        memory = self._memory_sink
        self._memory_items = None if memory is None else CrawlItems(
            lambda: list(memory.items.values()), "memory", count=lambda: len(memory.items))
        #: Where the last crawl's items are: memory, a db= file or a redis= crawl.
        self._items: CrawlItems | None = self._memory_items
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
        # Scope of redirect targets beyond allowed_domains (a generic crawl's rules).
        self.redirect_check = redirect_check
        self.callbacks: dict[str, Callback] = {}
        self.start_requests: list[Request] = []
        self.default_callback: str | None = None
        self.stats = CrawlStats()
        #: Called with each processed request (see ``corocrawl._engine.PageHook``).
        self.page_hooks: list[PageHook] = []
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
    def items(self) -> CrawlItems:
        """The crawl's items, streamed from where it stored them (memory, ``db=``, ``redis=``).

        >>> crawler.run(db="docs.db")
        >>> [item["title"] for item in crawler.items]
        """
        if self._items is None:
            raise ConfigError(
                "this crawler writes items to the sinks= it was given: read them from there "
                "(or run it with db= and read crawler.items)"
            )
        return self._items

    def export(self, path: str | os.PathLike[str], fields: Sequence[str] | None = None) -> int:
        """Write the crawl's items to ``path`` (.jsonl or .csv by extension); return the count.

        >>> crawler.export("items.csv", fields=["url", "title"])
        """
        from .sinks._files import export_items

        return export_items(self.items, Path(path), fields)

    def stop(self, reason: str = "stopped") -> None:
        """Stop gracefully: no new requests, in-flight ones finish, items are flushed."""
        if self._engine is not None:
            self._engine.stop(reason)

    async def crawl(
        self,
        db: str | os.PathLike[str] | None = None,
        *,
        redis: str | RedisOptions | None = None,
        crawl_name: str | None = None,
        fresh: bool = False,
        progress: bool | None = None,
        log_json: str | os.PathLike[str] | None = None,
        handle_signals: bool = False,
    ) -> CrawlStats:
        """Run the crawl in the current event loop and return its stats.

        ``db``: keep the crawl in this SQLite file; the same call again resumes
        it (``fresh=True`` starts over). ``redis`` (a ``redis://`` URL): be one
        worker of the crawl ``crawl_name`` shared through Redis (or a
        ``corocrawl.redis.RedisOptions`` for lease time and the like). Neither: in
        memory. ``progress``: a live line and the end summary on stderr (default:
        only on a terminal). ``log_json``: write JSON-lines events to that file.
        ``handle_signals``: the first Ctrl-C/SIGTERM stops gracefully, a second
        at once (main thread only; leave it off inside Jupyter).

        When nothing succeeded, a one-line warning on stderr names the first
        error and what to do (e.g. a browser ``user_agent`` for HTTP 418).
        """
        if handle_signals:
            with graceful_signals(self.stop):
                return await self.crawl(db, redis=redis, crawl_name=crawl_name, fresh=fresh,
                                        progress=progress, log_json=log_json)
        output = output_for(progress, os.fspath(log_json) if log_json is not None else None)
        return await self._crawl_into(db, redis=redis, crawl_name=crawl_name, fresh=fresh,
                                      output=output)

    async def _crawl_into(
        self,
        db: str | os.PathLike[str] | None = None,
        *,
        redis: str | RedisOptions | None = None,
        crawl_name: str | None = None,
        fresh: bool = False,
        output: RunOutput | None = None,
    ) -> CrawlStats:
        """:meth:`crawl` with every display choice explicit (for commands: one runner).

        ``output`` says what to show: the progress mode, the summary, events,
        the nothing-succeeded warning. ``crawl()`` picks it from ``progress``.
        """
        output = output or RunOutput()
        if not self.start_requests:
            raise ConfigError("nothing to crawl: give start URLs with @crawler.start(url, ...)")
        if redis is not None:
            if db is not None:
                raise ConfigError("give db= or redis=, not both: a shared crawl lives in Redis")
            if fresh:
                # Clearing a crawl other workers may be running is not one worker's call.
                raise ConfigError("fresh (--fresh) starts a stored crawl over; to start a "
                                  "shared crawl over, give it a new crawl_name (--crawl-name)")
            return await self._crawl_shared(redis, crawl_name, output)
        if db is not None:
            return await self._crawl_stored(Path(db), fresh, output)
        self._items = self._memory_items
        return await observe_crawl(self, self._crawl_bare, output,
                                   items=self._count_items)

    def _count_items(self) -> int | None:
        return len(self._items) if self._items is not None else None

    async def _crawl_stored(self, db: Path, fresh: bool, output: RunOutput) -> CrawlStats:
        from .store import SqliteStore

        if self.frontier is not None or self._memory_sink is None:
            raise ConfigError("db= stores the frontier and the items itself: "
                              "leave out frontier= and sinks=")
        key = self.item_key if isinstance(self.item_key, str) else None
        store = SqliteStore(db, fresh=fresh, item_key=key)
        self._items = CrawlItems(store.iter_items, str(db), count=lambda: _stored_count(db))
        stats = await self._crawl_with(store.frontier, [store.sink], output)
        if output.warn and stats.requests == 0 and not fresh:
            warning = _stuck_warning(db)
            if warning is not None:
                print(warning, file=sys.stderr)
        return stats

    async def _crawl_shared(self, redis: str | RedisOptions, crawl_name: str | None,
                            output: RunOutput) -> CrawlStats:
        from .redis import DEFAULT_CRAWL_NAME, RedisOptions, crawl_shared, read_items

        if isinstance(redis, RedisOptions):
            options = redis
        else:
            options = RedisOptions(redis, crawl_name or DEFAULT_CRAWL_NAME)

        def shared_items() -> Iterator[Item]:
            pairs = _outside_loop(lambda: read_items(options.url, options.crawl_name))
            return (item for _, item in pairs)

        self._items = CrawlItems(shared_items, f"redis crawl {options.crawl_name!r}")
        saved = self.frontier, self.sinks
        try:
            return await observe_crawl(self, lambda: crawl_shared(self, options), output,
                                       items=self._count_items)
        finally:
            self.frontier, self.sinks = saved

    async def _crawl_with(self, frontier: Frontier, sinks: list[ItemSink],
                          output: RunOutput) -> CrawlStats:
        saved = self.frontier, self.sinks
        self.frontier, self.sinks = frontier, sinks
        try:
            return await observe_crawl(self, self._crawl_bare, output, items=self._count_items)
        finally:
            self.frontier, self.sinks = saved

    async def _crawl_bare(self) -> CrawlStats:
        """The engine alone, on the crawler's frontier and sinks (used by Redis workers too)."""
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
            on_page=self._on_page if self.page_hooks else None,
            redirect_check=self.redirect_check,
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

    def _on_page(self, event: PageEvent) -> None:
        for hook in self.page_hooks:
            hook(event)

    def run(
        self,
        db: str | os.PathLike[str] | None = None,
        *,
        redis: str | RedisOptions | None = None,
        crawl_name: str | None = None,
        fresh: bool = False,
        progress: bool | None = None,
        log_json: str | os.PathLike[str] | None = None,
        handle_signals: bool = True,
    ) -> CrawlStats:
        """Run the crawl to the end in a new event loop (uvloop when installed).

        Takes the same options as :meth:`crawl`. The first Ctrl-C or SIGTERM
        stops gracefully; a second one stops at once.

        >>> crawler.run(db="docs.db")      # kill it, run it again: it resumes
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
            return runner.run(self.crawl(
                db, redis=redis, crawl_name=crawl_name, fresh=fresh, progress=progress,
                log_json=log_json, handle_signals=handle_signals))


def _stored_count(db: Path) -> int:
    from .store import StoreReader

    with StoreReader(db) as reader:
        return reader.item_count()


def _stuck_warning(db: Path) -> str | None:
    """A resumed crawl that had nothing left to do, though it failed: say how to retry."""
    from .store import StoreReader

    with StoreReader(db) as reader:
        counts = reader.counts()
        items = sum(1 for _ in itertools.islice(reader.iter_items(), 1))
    if counts["failed"] == 0 or items:
        return None
    failed = counts["failed"]
    return (f"corocrawl: warning: nothing left to crawl in {db}: {failed} "
            f"request{'s' if failed != 1 else ''} failed before and stay failed; fix the cause "
            "(see corocrawl status "
            f"--db {db}), then corocrawl retry-failed --db {db} or run with fresh=True (--fresh)")


def _outside_loop(call: Callable[[], Any]) -> Any:
    """``call()``, which runs its own event loop: in a thread when one is running here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


def crawl_urls(urls: Iterable[str], callback: Callback, **settings: Any) -> list[Item]:
    """Fetch ``urls`` with ``callback`` and return the items: the one-liner case.

    >>> crawl_urls(["https://example.com/"], lambda r: [{"title": r.css_first("title").text()}])
    """
    crawler = Crawler(**settings)
    crawler.handler(callback)
    crawler.add_start(*(Request(str(parse_url(u)), callback.__name__) for u in urls))
    crawler.run()
    return list(crawler.items)
