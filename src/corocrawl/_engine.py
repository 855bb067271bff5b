"""The crawl engine: the lesson's producer/consumer picture, made robust.

    frontier ──lease──> worker × concurrency ──(outcome, items)──> committer
       ^   ^             (fetch, release, callback)                  │
       │   └─ release ◄──────┘                                       │
       └───────────────────────── settle ◄── sinks.write ◄───────────┘

Workers are a fixed pool in one TaskGroup. Each leases a request (the
frontier hands out only requests of hosts with a free slot whose delay has
passed, so no worker ever waits for a busy host), fetches it, releases the
host's slot, runs the callback and hands the result to the committer through
a bounded queue (back-pressure: a slow disk slows the workers instead of
growing memory). The committer writes items first and then settles the
outcomes, so an acknowledged request always has its items stored.

With ``processes=N`` (``corocrawl._parallel``) this engine stays the crawl's
face in the main process (frontier, sinks, pacing, hooks, stats) and N forked
engines, one per process, do the fetching and parsing against it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from yarl import URL

from ._callbacks import drive, stops_crawl
from ._config import CrawlConfig
from ._exceptions import StorageError, UsageError
from ._fetcher import Fetcher, FetchError, RedirectCheck, check_status
from ._items import as_item
from ._politeness import HostPacing
from ._request import Request, is_plain_url, parse_url
from ._response import HTML_TYPES, Response
from ._stats import CrawlStats, PageEvent
from .frontier import Frontier, Lease, Outcome
from .sinks import Item, ItemSink, KeyedItem

log = logging.getLogger(__name__)

Callback = Callable[[Response], Any]
#: Turns a request that failed for good into items to store (e.g. a page record
#: with the error). Hook for generic crawls; ``exc.response`` is the error page, if any.
FailureHook = Callable[[Request, FetchError], Awaitable[Sequence[Item]]]


@dataclass(frozen=True, slots=True)
class Admission:
    """A ``before_fetch`` hook's decision about a leased request.

    ``fetch`` False: not fetched and settled done (the hook accounts for it).
    ``later`` seconds: not fetched now; it goes back to the frontier and its
    host waits that long (e.g. the Crawl-delay just learned from robots.txt).
    """

    fetch: bool = True
    later: float | None = None


FETCH = Admission()
SKIP = Admission(fetch=False)
#: Hook for generic crawls: decide about a request before it is fetched (robots.txt),
#: with the crawl's own Fetcher for any fetch it needs first.
BeforeFetch = Callable[[Request, Fetcher], Awaitable[Admission]]
#: Called once per processed request with what became of it: how progress,
#: summaries and ``--log-json`` watch a crawl, whatever its frontier or processes.
PageHook = Callable[[PageEvent], None]
#: Seconds a worker waits for a request before checking whether the crawl is over.
#: The usual end does not wait for it: the commit that settles the last page
#: finds nothing left and wakes the idle workers (``_finish_if_drained``).
_IDLE_POLL = 0.05
#: The longest Retry-After we wait for; past it the request fails instead.
_MAX_RETRY_AFTER = 600.0


class Engine:
    """Runs one crawl to completion or until stopped. Built by ``Crawler``."""

    def __init__(
        self,
        *,
        config: CrawlConfig,
        frontier: Frontier,
        sinks: Sequence[ItemSink],
        callbacks: Mapping[str, Callback],
        default_callback: str | None,
        pacing: HostPacing,
        item_key: str | Callable[[Item], str | None] | None = None,
        handle_http_errors: bool = False,
        stats: CrawlStats | None = None,
        on_failure: FailureHook | None = None,
        before_fetch: BeforeFetch | None = None,
        on_page: PageHook | None = None,
        redirect_check: RedirectCheck | None = None,
    ) -> None:
        self.config = config
        self.on_failure = on_failure
        self.before_fetch = before_fetch
        self.on_page = on_page
        self.redirect_check = redirect_check
        self.frontier = frontier
        self.sinks = list(sinks)
        self.callbacks = dict(callbacks)
        self.default_callback = default_callback
        self.pacing = pacing
        self.item_key = item_key
        self.handle_http_errors = handle_http_errors
        self.stats = stats or CrawlStats()
        self._results: asyncio.Queue[tuple[Outcome, list[KeyedItem]] | None] = asyncio.Queue(
            maxsize=max(64, config.concurrency * 4)
        )
        self._stopping = asyncio.Event()
        self._finished = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._leased = 0
        self._blocked_hosts: set[str] = set()
        self._fatal: BaseException | None = None
        #: True in a crawl process of processes=N: callbacks are the ones registered
        #: before the fork, and a request naming another one is the user's error.
        self.callbacks_fixed = False

    # -- control -------------------------------------------------------------

    def stop(self, reason: str = "stopped") -> None:
        """Stop leasing new requests; in-flight ones finish within ``stop_grace``."""
        if not self._stopping.is_set():
            log.info("stopping: %s", reason)
            self.stats.stop_reason = reason
            self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(self, start: Sequence[Request]) -> CrawlStats:
        """Seed ``start`` (dedup makes re-seeding a resumed crawl a no-op) and crawl."""
        if self.config.processes > 1:
            from ._parallel import EngineGroup

            return await EngineGroup(self).run([self._normalise(r) for r in start])
        opened: list[ItemSink] = []
        self.frontier.pacing = self.pacing
        await self.frontier.open()
        try:
            for sink in self.sinks:
                await sink.open()
                opened.append(sink)
            await self.frontier.add([self._normalise(r) for r in start])
            fetcher = Fetcher(self.config, redirect_check=self._redirect_allowed)
            async with fetcher, asyncio.TaskGroup() as group:
                committer = group.create_task(self._committer(), name="committer")
                self._workers = workers = [
                    group.create_task(self._worker(fetcher), name=f"worker-{i}")
                    for i in range(self.config.concurrency)
                ]
                await self._wait_for(workers)
                self._note_max_pages()
                await self._results.put(None)
                await committer
        finally:
            self.stats.finish()
            for sink in reversed(opened):
                await sink.close()
            await self.frontier.close()
        if self._fatal is not None:
            raise self._fatal
        return self.stats

    def _note_max_pages(self) -> None:
        """Say the crawl stopped at ``max_pages`` if it did.

        Asked once every worker is done, when ``_leased`` counts the requests
        handed out: a worker waiting in ``lease()`` holds a reservation, and a
        crawl that ran out of pages with one outstanding did not hit the limit.
        """
        max_pages = self.config.max_pages
        if max_pages is not None and self._leased >= max_pages:
            self.stats.stop_reason = self.stats.stop_reason or f"max_pages={max_pages} reached"

    async def _wait_for(self, workers: list[asyncio.Task[None]]) -> None:
        """Wait for the workers; after a stop, give them ``stop_grace`` then cancel."""
        all_done = asyncio.ensure_future(asyncio.wait(workers))
        stop_wait = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({all_done, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if not all_done.done():
                _, pending = await asyncio.wait(workers, timeout=self.config.stop_grace)
                for task in pending:
                    task.cancel()
                if pending:
                    log.warning("cancelled %d requests still running after %.0f s",
                                len(pending), self.config.stop_grace)
                    await asyncio.wait(pending)
        finally:
            stop_wait.cancel()
            all_done.cancel()

    # -- the worker ------------------------------------------------------------

    async def _worker(self, fetcher: Fetcher) -> None:
        frontier = self.frontier
        max_pages = self.config.max_pages
        while not self._stopping.is_set() and not self._finished.is_set():
            if max_pages is not None and self._leased >= max_pages:
                break
            # Reserve the page before waiting: workers waiting in lease() together
            # would otherwise all get one and overshoot max_pages.
            self._leased += 1
            try:
                lease = await frontier.lease(_IDLE_POLL)
            except StorageError as exc:  # a full disk, a lost Redis: stop like the committer
                self._leased -= 1
                self._storage_failed(exc)
                break
            except asyncio.CancelledError:  # the crawl is over (_finish_if_drained)
                self._leased -= 1
                raise
            if lease is None:
                self._leased -= 1
                if self._results.empty() and not await frontier.has_pending():
                    self._finished.set()
                continue
            self.stats.in_flight += 1
            try:
                result = await self._process(fetcher, lease)
            finally:
                self.stats.in_flight -= 1
            await self._results.put(result)

    async def _process(self, fetcher: Fetcher, lease: Lease) -> tuple[Outcome, list[KeyedItem]]:
        """Fetch one request and run its callback; never raises for a bad page."""
        request, host = lease.request, lease.host
        pause = 0.0
        try:
            if host in self._blocked_hosts:
                blocked = self._fail(lease, "blocked", "host blocked us earlier (HTTP 418)")
                return self._observed((blocked, []), None)
            if self.before_fetch is not None:
                admission = await self.before_fetch(request, fetcher)
                if admission.later is not None:
                    pause = admission.later
                    return Outcome(lease, "retry"), []
                if not admission.fetch:
                    return Outcome(lease, "done"), []
            response, failure = await self._fetch(fetcher, request, host)
            if failure is not None and failure.retry_after is not None \
                    and failure.status in (429, 503):
                pause = min(failure.retry_after, _MAX_RETRY_AFTER)  # the whole host waits
        finally:
            # The host's slot is free as soon as its answer is in, not when the
            # result is committed.
            await self.frontier.release(lease, pause=pause)
        # Pages only: a request robots.txt held back or refused is not one.
        if failure is not None:
            outcome = self._fetch_failed(lease, failure)
            return self._observed(
                (outcome, await self._failure_items(request, failure, outcome)), response)
        assert response is not None
        return self._observed(await self._handle(lease, response), response)

    async def _fetch(
        self, fetcher: Fetcher, request: Request, host: str
    ) -> tuple[Response | None, FetchError | None]:
        """The response, or the reason there is no usable one; feeds the throttle.

        ``host`` is the lease's (``request.host`` would parse the URL again).
        """
        self.stats.requests += 1
        response: Response | None = None
        started = time.monotonic()
        try:
            response = await fetcher.fetch(request)
            response.elapsed = time.monotonic() - started
            self.stats.record_response(host, response.status, response.elapsed,
                                       len(response.body))
            self.pacing.observe(host, response.elapsed, response.status)
            if not self.handle_http_errors:
                check_status(response)
            if response.content_type in HTML_TYPES:
                # Lexbor needs time quadratic in nesting depth, with the loop held:
                # a page nested too deeply fails here, for good, before any parsing.
                reason = await response.check_nesting()
                if reason is not None:
                    raise FetchError("unparseable", reason, retryable=False)
        except FetchError as exc:
            if response is None and exc.retryable:
                # No answer (timeout, refused, reset): the host is struggling, in effect.
                self.pacing.observe(host, time.monotonic() - started, None)
            exc.response = response
            return response, exc
        return response, None

    def _observed(
        self, result: tuple[Outcome, list[KeyedItem]], response: Response | None
    ) -> tuple[Outcome, list[KeyedItem]]:
        if self.on_page is not None:
            outcome, items = result
            request = outcome.request
            self.on_page(PageEvent(
                request.url, outcome.state,
                response.status if response is not None else None,
                response.elapsed if response is not None else None,
                len(outcome.children), len(items), outcome.error, request.attempt,
                request.not_before or 0.0))
        return result

    async def _failure_items(
        self, request: Request, exc: FetchError, outcome: Outcome
    ) -> list[KeyedItem]:
        """Items the on_failure hook makes of a request that failed for good (not a retry)."""
        if self.on_failure is None or outcome.state != "failed":
            return []
        try:
            items = list(await self.on_failure(request, exc))
        except StorageError as error:  # e.g. its WARC record met a full disk
            self._storage_failed(error)
            return []
        self.stats.items += len(items)
        return [(self._key(item, request, i), item) for i, item in enumerate(items)]

    def _fetch_failed(self, lease: Lease, exc: FetchError) -> Outcome:
        request = lease.request
        if exc.status == 418:
            self._blocked_hosts.add(lease.host)
        if exc.retryable and request.attempt < self.config.retries:
            if exc.retry_after is not None and exc.retry_after > _MAX_RETRY_AFTER:
                return self._fail(lease, exc.kind, f"{exc.message}; Retry-After "
                                  f"{exc.retry_after:.0f}s is too long")
            request.attempt += 1
            request.not_before = time.time() + self._backoff(request.attempt, exc.retry_after)
            self.stats.retries += 1
            log.debug("retry %d of %s after %s", request.attempt, request.url, exc.kind)
            return Outcome(lease, "retry", error=f"{exc.kind}: {exc.message}")
        return self._fail(lease, exc.kind, exc.message)

    def _storage_failed(self, exc: StorageError) -> None:
        """Stop for a storage error; ``_commit`` then acknowledges nothing more."""
        self._fatal = self._fatal or exc
        self.stop(str(exc))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with full jitter; Retry-After wins when the server gives one."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.config.backoff_max, self.config.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _fail(self, lease: Lease, kind: str, message: str) -> Outcome:
        self.stats.failed += 1
        self.stats.record_error(lease.request.url, kind, message)
        return Outcome(lease, "failed", error=f"{kind}: {message}")

    async def _handle(
        self, lease: Lease, response: Response
    ) -> tuple[Outcome, list[KeyedItem]]:
        request = lease.request
        name = request.callback_name or self.default_callback
        callback = self.callbacks.get(name) if name else None
        if name is None or callback is None:
            self._fatal = UsageError(
                f"no callback named {name!r} is registered: decorate it with @crawler.handler"
            )
            self.stop("unknown callback")
            return self._fail(lease, "callback", f"unknown callback {name!r}"), []
        self.stats.pages += 1
        try:
            values, failure = await drive(callback(response))
        except Exception as raised:  # a plain function that raised when called
            values, failure = [], raised
        children: list[Request] = []
        items: list[KeyedItem] = []
        for value in values:
            try:
                self._accept(value, request, children, items)
            except (TypeError, UsageError) as exc:
                failure = failure or exc
        error: str | None = None
        if failure is not None:
            kind = type(failure).__name__
            if isinstance(failure, StorageError):
                # A side output of the callback (a WARC record, a saved page) met a
                # full disk: not this page's fault. Stop; nothing is acknowledged
                # from now on, so the next run fetches this page again.
                self._storage_failed(failure)
            elif stops_crawl(failure):  # a bad selector: the user's code, not the page
                self._fatal = self._fatal or failure  # keep its type, e.g. InvalidSelector
                self.stop(str(failure))
            else:
                # Like gather(return_exceptions=True): one bad page must not end
                # the crawl. What the callback yielded before failing is kept.
                log.debug("callback %s failed on %s", name, request.url, exc_info=failure)
                self.stats.record_error(request.url, "callback", f"{kind}: {failure}")
            error = f"callback: {kind}: {failure}"
        self.stats.items += len(items)
        return Outcome(lease, "done", children=children, error=error), items

    def _accept(self, value: Any, request: Request, children: list[Request],
                items: list[KeyedItem]) -> None:
        if isinstance(value, Request):
            # InvalidURL for "host:99999" and the like: an error of this page. A plain
            # link (what Response.follow builds) cannot be one and skips the parse.
            url: object = value.url
            if not (isinstance(url, str) and is_plain_url(url)):
                parse_url(value.url)
            child = self._normalise(value)
            if self._in_scope(child):
                children.append(child)
        elif (item := as_item(value)) is not None:
            items.append((self._key(item, request, len(items)), item))
        elif value is not None:
            raise TypeError(
                f"a callback yielded {type(value).__name__}; yield a Request or an item "
                "(a dict, dataclass, attrs class or pydantic model)"
            )

    def _normalise(self, request: Request) -> Request:
        """Replace a callback function by its registered name (names travel to disk/Redis)."""
        callback = request.callback
        if callback is not None and not isinstance(callback, str):
            name = callback.__name__
            if self.callbacks_fixed and name not in self.callbacks:
                # A crawl process: a callback learnt here would be unknown to the
                # others, which may get the request.
                raise UsageError(f"callback {name!r} is not registered: decorate it with "
                                 "@crawler.handler to use it with processes")
            known = self.callbacks.setdefault(name, callback)
            if known is not callback:
                raise UsageError(f"two different callbacks are named {name!r}; rename one")
            request.callback = name
        return request

    def _in_scope(self, request: Request) -> bool:
        cfg = self.config
        if cfg.max_depth is not None and request.depth > cfg.max_depth:
            self.stats.dropped["max_depth"] += 1
            return False
        if not self._host_allowed(request.url):
            self.stats.dropped["offsite"] += 1
            return False
        return True

    async def _redirect_allowed(self, url: str) -> str | None:
        """None if a redirect may lead to ``url``, else why not: the same scope as links."""
        if not self._host_allowed(url):
            self.stats.dropped["offsite"] += 1
            return "off-site"
        if self.redirect_check is not None:
            return await self.redirect_check(url)
        return None

    def _host_allowed(self, url: str) -> bool:
        domains = self.config.allowed_domains
        if not domains:
            return True
        host = URL(url).host or ""
        return any(host == d or host.endswith("." + d) for d in domains)

    def _key(self, item: Item, request: Request, index: int) -> str:
        key: str | None = None
        if callable(self.item_key):
            key = self.item_key(item)
        elif self.item_key is not None and item.get(self.item_key) is not None:
            key = str(item[self.item_key])
        # Without a key, the page and the item's position identify it: a page
        # fetched again yields the same keys, so the sink still upserts.
        return key if key is not None else f"{request.fingerprint.hex()}:{index}"

    # -- the committer ---------------------------------------------------------

    async def _committer(self) -> None:
        """Batch results: store items, then acknowledge their requests."""
        cfg = self.config
        closing = False
        while not closing:
            first = await self._results.get()
            if first is None:
                break
            batch = [first]
            # One deadline for the whole batch, not an asyncio.timeout per result
            # awaited: each is a timer armed and cancelled, about one per page.
            # Queue.get is cancellation-safe: a result is never lost to the timeout.
            try:
                async with asyncio.timeout(cfg.commit_interval):
                    while len(batch) < cfg.commit_batch:
                        if self._results.empty():
                            if not self.stats.in_flight:
                                # No page is being fetched or parsed: nothing more is
                                # coming soon, and the workers may be waiting for this
                                # batch's links.
                                break
                            nxt = await self._results.get()
                        else:
                            nxt = self._results.get_nowait()
                        if nxt is None:
                            closing = True
                            break
                        batch.append(nxt)
            except TimeoutError:
                pass
            await self._commit(batch)
            await self._finish_if_drained()

    async def _finish_if_drained(self) -> None:
        """End the crawl now if no page is in the works and the frontier is empty.

        Then every worker is waiting in ``lease()`` for a request that cannot
        come (none is pending or leased, and only a settle adds requests): they
        are cancelled instead of each waiting out its ``_IDLE_POLL``.
        """
        if self._finished.is_set() or self.stats.in_flight or not self._results.empty():
            return
        if await self.frontier.has_pending():
            return
        if self.stats.in_flight or not self._results.empty():  # has_pending() may have awaited
            return
        self._finished.set()
        for worker in self._workers:
            worker.cancel()

    async def _commit(self, batch: list[tuple[Outcome, list[KeyedItem]]]) -> None:
        if self._fatal is not None and isinstance(self._fatal, StorageError):
            return  # storage is broken: acknowledge nothing more; a rerun refetches these
        items = [item for _, batch_items in batch for item in batch_items]
        try:
            if items:
                for sink in self.sinks:
                    await sink.write(items)
            await self.frontier.settle([outcome for outcome, _ in batch])
        except StorageError as exc:
            # Nothing is acknowledged that was not stored: stop, report at the end.
            self._fatal = exc
            self.stop(str(exc))
