"""``processes=N``: N whole engines in forked processes, sharing one frontier.

Coroutines share one core: fetching, parsing and storing a page costs about a
millisecond of CPU, and with enough pages one core, not the network, sets the
pace. With ``processes=N`` the crawl forks N processes, each running a whole
``Engine`` (its own HTTP session, fetches, callbacks) with its share of
``concurrency``. The parent becomes a thin server of what must stay one:

    parent: the Frontier, the item sinks, the pacing, before_fetch, on_page, stats
       ▲ │   a socket pair per child: length-prefixed pickles, one frame per loop turn
       │ ▼
    child × N: Engine(RemoteFrontier, RemoteSink): fetch, callbacks, on_failure

- **Leases**: a child asks for a worker's next lease when the worker's fetch
  is over (its release asks: the lease arrives while the page is parsed) and
  for any worker left waiting; the parent leases them from the real frontier,
  which counts each handed-out lease in flight, so per-host caps and spacing
  hold across all children.
- **Commits**: the committer's batch (its items and outcomes) travels as one
  message; the parent writes the items, then settles: a request is acknowledged
  only after its items are stored, so a crash repeats a page, never loses one.
  An outcome travels by its lease's token (the parent keeps every lease it
  handed out; only a retried request, whose attempt the child counted, comes
  back whole), and new requests carry the fingerprint their child computed:
  the one parent does as little per page as it can.
- **Shared decisions run in the parent**: ``before_fetch`` (robots.txt, so the
  rules and their Crawl-delay reach the parent's pacing), ``redirect_check``
  and the 418 block of a host; children report each answer's latency to the
  parent's pacing (the adaptive throttle) and their Retry-After pauses come
  back with their releases.
- **Stats and events**: a child sends what its counters grew by every
  ``_STATS_INTERVAL`` and at its end; the parent adds them into the crawl's
  stats and calls the ``on_page`` hook with each child's ``PageEvent``.
- **Failures**: a fatal error in a child (a bad selector, a full disk) stops
  every child and is raised by the parent; a child that dies gives its leases
  back to the frontier and the others go on (all dead: the crawl fails with a
  message, and running it again resumes).

Children are forked before the store's threads and the HTTP sessions exist, so
they inherit the registered callbacks (closures included) and no sockets in use.
What travels between processes is pickled: items and ``Request.meta`` must be
picklable (a one-line error says so otherwise).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import itertools
import logging
import os
import pickle
import signal
import socket
import struct
import sys
import time
import traceback
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

from ._exceptions import CorocrawlError, StorageError, UsageError
from ._fetcher import Fetcher
from ._running import loop_factory
from ._stats import CrawlStats, PageEvent
from .frontier import FrontierCounts, Lease, Outcome
from .frontier._base import OutcomeState
from .sinks import KeyedItem

if TYPE_CHECKING:
    from ._engine import Engine
    from ._request import Request

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
#: How often a child reports its counters (progress lines read them).
_STATS_INTERVAL = 0.25
#: Seconds the parent waits for a lease before looking again (like an idle worker).
_IDLE_POLL = 0.05
#: How long closing waits for a child to exit before killing it.
_EXIT_GRACE = 5.0
Message = tuple[Any, ...]
#: An outcome as a child sends it: the lease's token, the state, the new requests,
#: the error, and the request itself only if it is to be retried (it changed).
_SettledLease = tuple[Hashable, OutcomeState, list["Request"], str | None, "Request | None"]


def split_concurrency(concurrency: int, processes: int) -> list[int]:
    """Each process's share of the crawl-wide ``concurrency`` (at least one each).

    >>> split_concurrency(64, 3)
    [22, 21, 21]
    """
    base, extra = divmod(concurrency, processes)
    return [max(1, base + (1 if i < extra else 0)) for i in range(processes)]


class _Wire:
    """One end of a socket pair: batched length-prefixed pickles each way.

    ``send`` queues a message; everything queued during one loop turn leaves
    as one frame (a child's releases, asks and commit of one turn: one write).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._outbox: list[Message] = []

    def send(self, message: Message) -> None:
        if not self._outbox:
            asyncio.get_running_loop().call_soon(self.flush)
        self._outbox.append(message)

    def flush(self) -> None:
        if not self._outbox:
            return
        data = pickle.dumps(self._outbox, protocol=pickle.HIGHEST_PROTOCOL)
        self._outbox = []
        if not self.writer.is_closing():
            self.writer.write(_HEADER.pack(len(data)) + data)

    async def drain(self) -> None:
        self.flush()
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    async def receive(self) -> list[Message] | None:
        """The next frame's messages; None at the end of the stream."""
        try:
            header = await self.reader.readexactly(_HEADER.size)
            messages: list[Message] = pickle.loads(
                await self.reader.readexactly(_HEADER.unpack(header)[0]))
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        return messages

    async def close(self) -> None:
        self.flush()
        if not self.writer.is_closing():
            self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


# -- the parent ------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class _Child:
    pid: int
    sock: socket.socket
    wire: _Wire | None = None
    leases: dict[Hashable, Lease] = dataclasses.field(default_factory=dict)
    wanted: int = 0
    wake: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    in_flight: int = 0
    done: bool = False
    exit_status: int | None = None


class EngineGroup:
    """Runs ``engine``'s crawl in ``engine.config.processes`` forked engines.

    ``engine`` stays the crawl's face in the parent: its frontier, sinks,
    pacing, hooks and stats are the crawl's, and ``engine.stop()`` stops every
    child. Built by ``Engine.run``.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.children: list[_Child] = []
        self._handed = 0
        self._reserved = 0
        self._fetcher: Fetcher | None = None

    async def run(self, start: list[Request]) -> CrawlStats:
        engine = self.engine
        # Fork before the store's threads and any HTTP session exist.
        self._fork(split_concurrency(engine.config.concurrency, engine.config.processes))
        opened = []
        try:
            for child in self.children:
                reader, writer = await asyncio.open_connection(sock=child.sock)
                child.wire = _Wire(reader, writer)
            engine.frontier.pacing = engine.pacing
            await engine.frontier.open()
            try:
                for sink in engine.sinks:
                    await sink.open()
                    opened.append(sink)
                await engine.frontier.add(start)
                async with contextlib.AsyncExitStack() as stack:
                    if engine.before_fetch is not None:
                        # robots.txt is fetched here, where its rules are kept for
                        # every child.
                        self._fetcher = await stack.enter_async_context(
                            Fetcher(engine.config, redirect_check=engine._redirect_allowed))
                    await self._serve_all()
            finally:
                engine.stats.finish()
                engine.stats.in_flight = 0
                for sink in reversed(opened):
                    await sink.close()
                await engine.frontier.close()
        finally:
            await self._reap()
        if engine._fatal is not None:
            raise engine._fatal
        return engine.stats

    def _fork(self, shares: list[int]) -> None:
        for share in shares:
            parent_end, child_end = socket.socketpair()
            pid = os.fork()
            if pid == 0:  # the child: never returns into the parent's code
                code = 1
                try:
                    parent_end.close()
                    for other in self.children:  # or their children would never see EOF
                        other.sock.close()
                    code = _child_main(child_end, self.engine, share)
                except BaseException:  # a bug, not the crawl's: say what, then exit 1
                    traceback.print_exc()
                    sys.stderr.flush()  # os._exit flushes nothing
                finally:
                    os._exit(code)
            child_end.close()
            self.children.append(_Child(pid, parent_end))

    async def _serve_all(self) -> None:
        engine = self.engine
        async with asyncio.TaskGroup() as group:
            stop_forwarder = group.create_task(self._forward_stop(), name="forward-stop")
            serving = [group.create_task(self._serve(child), name=f"serve-{child.pid}")
                       for child in self.children]
            await asyncio.wait(serving)
            stop_forwarder.cancel()
        # Children end only when nothing is pending or in flight, so work left
        # means they all died (each with a warning).
        if engine._fatal is None and not engine.stopping and not self._draining \
                and await engine.frontier.has_pending():
            engine._fatal = CorocrawlError(
                "every crawl process exited before the crawl was over (see the warnings "
                "above); run the same command again to resume")

    @property
    def _draining(self) -> bool:
        """True once ``max_pages`` leases were handed out: the crawl is over."""
        max_pages = self.engine.config.max_pages
        return max_pages is not None and self._handed >= max_pages

    @property
    def _at_limit(self) -> bool:
        """True while no lease may be taken: those handed out or being waited for
        reach ``max_pages`` (a feeder's wait may still come back empty)."""
        max_pages = self.engine.config.max_pages
        return max_pages is not None and self._handed + self._reserved >= max_pages

    async def _forward_stop(self) -> None:
        engine = self.engine
        await engine._stopping.wait()
        for child in self.children:
            if child.wire is not None and not child.done:
                child.wire.send(("stop", engine.stats.stop_reason or "stopped"))

    async def _serve(self, child: _Child) -> None:
        assert child.wire is not None
        async with asyncio.TaskGroup() as group:
            feeder = group.create_task(self._feed(child, group), name=f"feed-{child.pid}")
            try:
                while (messages := await child.wire.receive()) is not None:
                    for message in messages:
                        await self._handle(child, message, group)
            finally:
                feeder.cancel()
        await self._give_back(child)

    async def _handle(self, child: _Child, message: Message, group: asyncio.TaskGroup) -> None:
        engine = self.engine
        kind = message[0]
        assert child.wire is not None
        if kind == "want":
            child.wanted += message[1]
            child.wake.set()
        elif kind == "release":
            # A release also asks for the worker's next lease (see RemoteFrontier.release).
            child.wanted += 1
            child.wake.set()
            lease = child.leases.get(message[1])
            if lease is not None:
                await self._storage(engine.frontier.release(lease, pause=message[2]))
        elif kind == "commit":
            items, settled = pickle.loads(message[1])
            await self._commit(child, items, self._outcomes(child, settled))
        elif kind == "observe":
            for host, latency, status in message[1]:
                engine.pacing.observe(host, latency, status)
        elif kind == "pages":
            if engine.on_page is not None:
                for event in message[1]:
                    engine.on_page(event)
        elif kind == "stats":
            delta: CrawlStats = message[1]
            engine.stats.merge(delta)
            child.in_flight = delta.in_flight
            engine.stats.in_flight = sum(c.in_flight for c in self.children)
        elif kind == "blocked":
            self._block(message[1], child)
        elif kind == "ask":
            group.create_task(self._answer(child, message[1], message[2], message[3]))
        elif kind == "stopping":
            engine.stop(message[1])
        elif kind == "fatal":
            error: BaseException = message[1]
            if isinstance(error, StorageError):
                engine._storage_failed(error)
            else:
                engine._fatal = engine._fatal or error
                engine.stop(str(error))
        elif kind == "done":
            child.done = True
        else:
            raise AssertionError(f"unknown message from crawl process {child.pid}: {kind!r}")

    async def _storage(self, step: Any) -> bool:
        """Await a frontier or sink step; a StorageError stops the crawl (False)."""
        try:
            await step
        except StorageError as exc:
            self.engine._storage_failed(exc)
            return False
        return True

    def _storage_broken(self) -> bool:
        return isinstance(self.engine._fatal, StorageError)

    @staticmethod
    def _outcomes(child: _Child, settled: list[_SettledLease]) -> list[Outcome]:
        """The outcomes a child reported by token, with the leases it was given here.

        A retried request comes back whole (the child counted its attempt and set
        its ``not_before``); the others need only their token.
        """
        outcomes = []
        for token, state, children, error, retried in settled:
            lease = child.leases.pop(token, None)
            if lease is None:
                log.warning("crawl process %d settled a request it was not given (%r)",
                            child.pid, token)
                continue
            if retried is not None:
                lease = Lease(retried, lease.token, lease.host)
            outcomes.append(Outcome(lease, state, children, error))
        return outcomes

    async def _commit(self, child: _Child, items: list[KeyedItem],
                      outcomes: list[Outcome]) -> None:
        """Store the items, then acknowledge their requests (the engine's ``_commit``)."""
        if self._storage_broken():
            return  # acknowledge nothing more; a rerun fetches these again
        if items:
            for sink in self.engine.sinks:
                if not await self._storage(sink.write(items)):
                    return
        await self._storage(self.engine.frontier.settle(outcomes))

    async def _answer(self, child: _Child, call: int, question: str, argument: Any) -> None:
        engine = self.engine
        answer: Any = None
        if question == "pending":
            answer = not self._draining and await engine.frontier.has_pending()
        elif question == "counts":
            answer = await engine.frontier.counts()
        elif question == "redirect" and engine.redirect_check is not None:
            answer = await engine.redirect_check(argument)
        assert child.wire is not None
        child.wire.send(("answer", call, answer))

    def _block(self, host: str, reporter: _Child | None) -> None:
        """A host answered 418: no child fetches it again."""
        if host in self.engine._blocked_hosts:
            return
        self.engine._blocked_hosts.add(host)
        for child in self.children:
            if child is not reporter and child.wire is not None:
                child.wire.send(("blocked", host))

    async def _feed(self, child: _Child, group: asyncio.TaskGroup) -> None:
        """Lease what ``child`` asks for from the frontier and send it in one message.

        With a ``before_fetch`` hook each lease is admitted in a task of its own:
        fetching a new site's robots.txt must not hold up the other sites.
        """
        engine = self.engine
        frontier = engine.frontier
        assert child.wire is not None
        while True:
            while child.wanted <= 0 or engine.stopping or self._at_limit:
                child.wake.clear()
                await child.wake.wait()
            batch: list[Lease] = []
            timeout = _IDLE_POLL
            while child.wanted > 0 and not self._at_limit:
                # Reserved before waiting: feeders waiting together would otherwise
                # each get one and overshoot max_pages.
                self._reserved += 1
                try:
                    lease = await frontier.lease(timeout)
                except StorageError as exc:
                    engine._storage_failed(exc)
                    break
                finally:
                    self._reserved -= 1
                    if engine.config.max_pages is not None:
                        for other in self.children:  # the reservation may have held them off
                            if other is not child and other.wanted > 0:
                                other.wake.set()
                if lease is None:
                    break
                self._handed += 1
                timeout = 0  # the rest of the batch: only what is ready now
                child.wanted -= 1
                if engine.before_fetch is not None:
                    group.create_task(self._admit_and_send(child, lease))
                elif await self._admit(child, lease):
                    child.leases[lease.token] = lease
                    batch.append(lease)
                else:
                    child.wanted += 1
            if batch:
                child.wire.send(("leases", batch))
            if self._draining:
                engine.stats.stop_reason = (engine.stats.stop_reason
                                            or f"max_pages={engine.config.max_pages} reached")

    async def _admit_and_send(self, child: _Child, lease: Lease) -> None:
        if await self._admit(child, lease):
            assert child.wire is not None
            child.leases[lease.token] = lease
            child.wire.send(("leases", [lease]))
        else:
            child.wanted += 1
            child.wake.set()

    async def _admit(self, child: _Child, lease: Lease) -> bool:
        """False if ``lease`` is settled here (a blocked host, robots.txt) and not sent."""
        engine = self.engine
        if lease.host in engine._blocked_hosts:
            blocked = engine._fail(lease, "blocked", "host blocked us earlier (HTTP 418)")
            engine._observed((blocked, []), None)
            await self._settle_here(lease, blocked)
            return False
        if engine.before_fetch is None:
            return True
        assert self._fetcher is not None
        admission = await engine.before_fetch(lease.request, self._fetcher)
        if admission.later is not None:
            await self._settle_here(lease, Outcome(lease, "retry"), pause=admission.later)
            return False
        if not admission.fetch:
            await self._settle_here(lease, Outcome(lease, "done"))
            return False
        return True

    async def _settle_here(self, lease: Lease, outcome: Outcome, pause: float = 0.0) -> None:
        frontier = self.engine.frontier
        if await self._storage(frontier.release(lease, pause=pause)) \
                and not self._storage_broken():
            await self._storage(frontier.settle([outcome]))

    async def _give_back(self, child: _Child) -> None:
        """Return the leases a child never settled (it died, or was stopped with some)."""
        child.in_flight = 0
        if not child.done:
            # Its socket closes a moment before it exits.
            child.exit_status = await _wait_for_exit(child.pid, 1.0)
            log.warning("crawl process %d exited unexpectedly (%s); its %d requests in "
                        "flight go back to the queue", child.pid,
                        _describe(child.exit_status), len(child.leases))
        leases = list(child.leases.values())
        child.leases.clear()
        if not leases or self._storage_broken():
            return
        frontier = self.engine.frontier
        for lease in leases:
            if not await self._storage(frontier.release(lease)):
                return
        await self._storage(frontier.settle([Outcome(lease, "retry") for lease in leases]))

    async def _reap(self) -> None:
        """Close the sockets and reap the children; kill (by PID, ours) any that hang."""
        for child in self.children:
            if child.wire is not None:
                await child.wire.close()
            else:
                child.sock.close()
        deadline = time.monotonic() + _EXIT_GRACE
        for child in self.children:
            if child.exit_status is None:
                child.exit_status = await _wait_for_exit(child.pid, deadline - time.monotonic())
            if child.exit_status is None:
                log.warning("crawl process %d did not exit; killing it", child.pid)
                os.kill(child.pid, signal.SIGKILL)
                child.exit_status = _exit_status(child.pid, wait=True)


def _exit_status(pid: int, *, wait: bool = False) -> int | None:
    """Reap child ``pid``: its wait status, or None while it runs (``wait``: block)."""
    try:
        reaped, status = os.waitpid(pid, 0 if wait else os.WNOHANG)
    except ChildProcessError:  # reaped already
        return 0
    return status if reaped else None


async def _wait_for_exit(pid: int, seconds: float) -> int | None:
    """Child ``pid``'s wait status once it exits within ``seconds``, else None."""
    for _ in range(max(1, int(seconds / 0.01))):
        status = _exit_status(pid)
        if status is not None:
            return status
        await asyncio.sleep(0.01)
    return _exit_status(pid)


def _describe(status: int | None) -> str:
    if status is None:
        return "status unknown"
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


# -- a child ---------------------------------------------------------------------


class _ParentLink:
    """A child's side of the socket pair: asks, answers and reports."""

    def __init__(self, wire: _Wire) -> None:
        self.wire = wire
        self._calls = itertools.count()
        self._answers: dict[int, asyncio.Future[Any]] = {}
        self._pending: asyncio.Future[Any] | None = None
        self.gone = False
        self.items: list[KeyedItem] = []
        self._observed: list[tuple[str, float, int | None]] = []
        self._pages: list[PageEvent] = []

    async def ask(self, question: str, argument: Any = None) -> Any:
        if self.gone:
            return None
        call = next(self._calls)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._answers[call] = future
        self.wire.send(("ask", call, question, argument))
        return await future

    async def has_pending(self) -> bool:
        # Idle workers ask together: one question in flight answers them all.
        if self._pending is None:
            self._pending = asyncio.ensure_future(self.ask("pending"))
        pending = self._pending
        try:
            return bool(await asyncio.shield(pending))
        finally:
            if pending.done() and self._pending is pending:
                self._pending = None

    def answer(self, call: int, value: Any) -> None:
        future = self._answers.pop(call, None)
        if future is not None and not future.done():
            future.set_result(value)

    def lost(self) -> None:
        """The parent is gone: every question gets None."""
        self.gone = True
        for future in self._answers.values():
            if not future.done():
                future.set_result(None)
        self._answers.clear()

    def observe(self, host: str, latency: float, status: int | None) -> None:
        if not self._observed:
            asyncio.get_running_loop().call_soon(self._send_observed)
        self._observed.append((host, latency, status))

    def _send_observed(self) -> None:
        self.wire.send(("observe", self._observed))
        self._observed = []

    def page(self, event: PageEvent) -> None:
        if not self._pages:
            asyncio.get_running_loop().call_soon(self._send_pages)
        self._pages.append(event)

    def _send_pages(self) -> None:
        self.wire.send(("pages", self._pages))
        self._pages = []

    async def redirect_check(self, url: str) -> str | None:
        answer = await self.ask("redirect", url)
        return answer if isinstance(answer, str) else None


class RemoteFrontier:
    """The frontier of a child's engine: leases, releases and settles in the parent."""

    def __init__(self, link: _ParentLink) -> None:
        self.link = link
        self.pacing: Any = None  # the parent's frontier paces; set by the engine, unused
        self._ready: collections.deque[Lease] = collections.deque()
        self._waiters: collections.deque[asyncio.Future[Lease]] = collections.deque()
        self._asked = 0

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def add(self, requests: Sequence[Request]) -> int:
        if requests:  # the parent seeds the crawl; children add links only by settling
            raise AssertionError("a crawl process does not add start requests")
        return 0

    def deliver(self, leases: list[Lease]) -> None:
        self._asked -= len(leases)
        for lease in leases:
            while self._waiters and self._waiters[0].done():
                self._waiters.popleft()
            if self._waiters:
                self._waiters.popleft().set_result(lease)
            else:
                self._ready.append(lease)

    async def lease(self, timeout: float) -> Lease | None:
        if self._ready:
            return self._ready.popleft()
        if self.link.gone:
            return None
        future: asyncio.Future[Lease] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        # One lease asked for each waiting worker, less those asked ahead (by
        # release) or for a worker that stopped waiting: they arrive in _ready.
        wanted = len(self._waiters) - self._asked
        if wanted > 0:
            self._asked += wanted
            self.link.wire.send(("want", wanted))
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            # The lease may have come just as the time ran out: keep it.
            if future.done() and not future.cancelled():
                return future.result()
            return None
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._ready.appendleft(future.result())
            raise
        finally:
            if not future.done():
                future.cancel()

    def lost(self) -> None:
        for future in self._waiters:
            if not future.done():
                future.cancel()
        self._waiters.clear()

    async def release(self, lease: Lease, *, pause: float = 0.0) -> None:
        # A release also asks for one lease: the worker will want its next one
        # once it has parsed this page, so it comes while it parses instead of
        # after. At most one such lease per worker is outstanding (lease() asks
        # only for waiters beyond what was asked already).
        self._asked += 1
        self.link.wire.send(("release", lease.token, pause))

    async def settle(self, outcomes: Sequence[Outcome]) -> None:
        items, self.link.items = self.link.items, []
        settled: list[_SettledLease] = []
        for outcome in outcomes:
            for request in outcome.children:
                # Computed here, in parallel, not by the one parent's frontier
                # (it travels with the request's pickle).
                request.fingerprint  # noqa: B018
            retried = outcome.request if outcome.state == "retry" else None
            settled.append((outcome.lease.token, outcome.state, outcome.children,
                            outcome.error, retried))
        try:
            payload = pickle.dumps((items, settled), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # e.g. a lambda or a socket in an item or Request.meta
            raise StorageError(
                f"cannot send a page's items or requests to the main process ({exc}); "
                "with processes, yield plain data (picklable items and meta)") from None
        self.link.wire.send(("commit", payload))
        await self.link.wire.drain()  # back-pressure: a slow store slows this child

    async def has_pending(self) -> bool:
        # A lease that came after its worker stopped waiting is this child's to do.
        # The parent sends a lease before any answer that counts it as handed out,
        # so one that came while we asked is in _ready by the time the answer is.
        pending = await self.link.has_pending()
        return pending or bool(self._ready)

    async def counts(self) -> FrontierCounts:
        counts = await self.link.ask("counts")
        return counts if isinstance(counts, FrontierCounts) else FrontierCounts(0, 0, 0, 0)


class RemoteSink:
    """The sink of a child's engine: its items travel with the outcomes they belong to."""

    def __init__(self, link: _ParentLink) -> None:
        self.link = link

    async def open(self) -> None:
        pass

    async def write(self, items: Sequence[KeyedItem]) -> None:
        self.link.items.extend(items)

    async def close(self) -> None:
        pass


class _ReportedHosts(set[str]):
    """A child's blocked hosts: a host it finds blocked is reported to the parent."""

    def __init__(self, link: _ParentLink) -> None:
        super().__init__()
        self.link = link

    def add(self, host: str) -> None:
        if host not in self:
            super().add(host)
            self.link.wire.send(("blocked", host))


class _ReportedPacing:
    """A child's pacing: answers are observed by the parent's (the adaptive throttle)."""

    def __init__(self, link: _ParentLink, report: bool) -> None:
        self.link = link
        self.report = report

    def observe(self, host: str, latency: float, status: int | None) -> None:
        if self.report:
            self.link.observe(host, latency, status)


def _child_main(sock: socket.socket, parent: Engine, concurrency: int) -> int:
    """A child's whole life: run an engine against the parent's frontier; the exit code."""
    # Ctrl-C reaches the whole process group; the parent alone decides how to
    # stop, and tells us. SIGTERM (e.g. by PID) ends this process at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # The parent's event loop owns the inherited wakeup fd; ValueError means we
    # were forked from a thread other than the main one, which has none.
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(_child_crawl(sock, parent, concurrency))


async def _child_crawl(sock: socket.socket, parent: Engine, concurrency: int) -> int:
    from ._engine import Engine

    reader, writer = await asyncio.open_connection(sock=sock)
    wire = _Wire(reader, writer)
    link = _ParentLink(wire)
    frontier = RemoteFrontier(link)
    engine = Engine(
        config=dataclasses.replace(parent.config, processes=1, concurrency=concurrency,
                                   max_pages=None),
        frontier=frontier,
        sinks=[RemoteSink(link)],
        callbacks=parent.callbacks,
        default_callback=parent.default_callback,
        pacing=_ReportedPacing(link, parent.pacing.pacer is not None),  # type: ignore[arg-type]
        item_key=parent.item_key,
        handle_http_errors=parent.handle_http_errors,
        on_failure=parent.on_failure,
        on_page=link.page if parent.on_page is not None else None,
        redirect_check=link.redirect_check if parent.redirect_check is not None else None,
    )
    engine._blocked_hosts = _ReportedHosts(link)
    engine.callbacks_fixed = True
    code = 0
    async with asyncio.TaskGroup() as group:
        listener = group.create_task(_listen(link, frontier, engine))
        reporter = group.create_task(_report_stats(link, engine))
        stopping = group.create_task(_report_stop(link, engine))
        try:
            await engine.run([])
        except Exception as exc:
            code = 1
            wire.send(("fatal", _portable(exc)))
        finally:
            reporter.cancel()
            stopping.cancel()
            _send_stats(link, engine)
            wire.send(("done",))
            await wire.close()
            listener.cancel()
    return code


async def _listen(link: _ParentLink, frontier: RemoteFrontier, engine: Engine) -> None:
    while (messages := await link.wire.receive()) is not None:
        for message in messages:
            kind = message[0]
            if kind == "leases":
                frontier.deliver(message[1])
            elif kind == "answer":
                link.answer(message[1], message[2])
            elif kind == "stop":
                engine.stop(message[1])
            elif kind == "blocked":
                set.add(engine._blocked_hosts, message[1])
    link.lost()
    frontier.lost()
    engine.stop("the crawl's main process is gone")


async def _report_stop(link: _ParentLink, engine: Engine) -> None:
    """A child that stops by itself (a bad selector, a full disk) stops the crawl."""
    await engine._stopping.wait()
    link.wire.send(("stopping", engine.stats.stop_reason or "stopped"))


async def _report_stats(link: _ParentLink, engine: Engine) -> None:
    while True:
        await asyncio.sleep(_STATS_INTERVAL)
        _send_stats(link, engine)


def _send_stats(link: _ParentLink, engine: Engine) -> None:
    """Send what the counters grew by since the last report, and start new ones."""
    grown = engine.stats
    fresh = CrawlStats()
    fresh.in_flight = grown.in_flight
    engine.stats = fresh
    link.wire.send(("stats", grown))


def _portable(error: BaseException) -> BaseException:
    """``error``, or an error of the same meaning that survives pickling."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        if isinstance(error, StorageError):
            return StorageError(str(error))
        if isinstance(error, UsageError):
            return UsageError(str(error))
        return CorocrawlError(f"{type(error).__name__}: {error}")
    return error
