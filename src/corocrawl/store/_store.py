"""A crawl's whole state in one SQLite file: the frontier, the dedup set, the items.

    store = SqliteStore("corocrawl.db", item_key="subject_id")
    crawler = Crawler(frontier=store.frontier, sinks=[store.sink])

The frontier and the sink share one connection, owned by one writer thread
(see ``_writer``). ``lease`` is served from an in-memory ``HostQueues`` buffer
of rows already marked in flight on disk; a refill takes the best ready rows
of sites not already busy (a site with a few rows buffered or no free slot),
so one host with thousands of queued pages cannot keep the others waiting.
``settle`` adds the children and marks the parents in one transaction; a
crash repeats a page at most and never loses one: in-flight rows go back to
pending on the next open.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from .._exceptions import StorageError
from .._request import Request
from ..frontier import UNLIMITED, FrontierCounts, HostPacing, HostQueues, Lease, Outcome
from ..frontier._hosts import site_of_url
from ..sinks import KeyedItem
from . import _schema
from ._errors import translate, unusable_path
from ._lock import ProcessLock
from ._reader import StoreReader
from ._schema import DONE, FAILED, IN_FLIGHT, PENDING
from ._writer import Deltas, Writer

log = logging.getLogger(__name__)

DEFAULT_DB = "corocrawl.db"
#: Rows the lease buffer holds at most: enough to amortise a transaction, small
#: enough that priority order is barely bent and a kill re-queues few rows.
DEFAULT_PREFETCH = 256

#: The smallest refill of the lease buffer; it doubles when the buffer lasted
#: under _REFILL_FAST seconds and halves when it lasted over _REFILL_SLOW.
_MIN_REFILL = 16
_REFILL_FAST, _REFILL_SLOW = 0.05, 0.5
#: Keys per ``IN (...)`` query, well under SQLite's limit of bound parameters.
_KEYS_PER_QUERY = 500

_INSERT_REQUEST = (
    "INSERT INTO requests (fp, state, priority, not_before, attempt, data, updated) "
    "VALUES (?, 0, ?, ?, ?, ?, ?) ON CONFLICT (fp) DO NOTHING"
)
#: A site with this many rows buffered (or no free slot) is left out of a refill.
_PER_SITE = 4
#: The site (scheme://netloc) of a stored request, cut from its canonical URL;
#: ``corocrawl.frontier._hosts.site_of_url`` is the same in Python.
_URL = "json_extract(data, '$.url')"
_SITE = (f"substr({_URL}, 1, instr({_URL}, '://') + 1 "
         f"+ instr(substr({_URL}, instr({_URL}, '://') + 3), '/'))")
_SELECT_READY = (
    "SELECT id, fp, attempt, not_before, data FROM requests INDEXED BY requests_ready "
    "WHERE state = 0 AND not_before <= ? ORDER BY priority DESC, id LIMIT ?"
)
# The same, passing over the rows of busy sites (a JSON list): the scan stops
# after `limit` rows of other sites, so it reads the busy sites' rows ahead of
# them once, not the whole queue.
_SELECT_READY_ELSEWHERE = (
    "SELECT id, fp, attempt, not_before, data FROM requests INDEXED BY requests_ready "
    f"WHERE state = 0 AND not_before <= ? AND {_SITE} NOT IN (SELECT value FROM json_each(?)) "
    "ORDER BY priority DESC, id LIMIT ?"
)

# A row for ``_INSERT_REQUEST`` without its timestamp: fp, priority, not_before, attempt, data.
_RequestRow = tuple[bytes | None, int, float, int, str]


class SqliteStore:
    """Persistent crawl state in the SQLite file ``path`` (created if missing).

    ``fresh=True`` wipes the stored crawl on open, and logs that it did.
    ``item_key`` is recorded so a resumed crawl can warn when it changes.
    Open it with ``async with store:`` or through its ``frontier``/``sink``
    (each opens the store on first use and closes it with the last).
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_DB, *, fresh: bool = False,
                 item_key: str | None = None, prefetch: int = DEFAULT_PREFETCH) -> None:
        self.path = Path(path)
        self.fresh = fresh
        self.item_key = item_key
        self.prefetch = max(1, prefetch)
        self.frontier = SqliteFrontier(self)
        self.sink = SqliteSink(self)
        #: Requests a crashed run left in flight, returned to pending by ``open``.
        self.recovered = 0
        self._users = 0
        self._lock = ProcessLock(self.path)
        self._writer: Writer | None = None
        self._counts: list[int] = [0, 0, 0, 0]
        self._open_lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- lifecycle ---------------------------------------------------------------

    async def open(self) -> None:
        """Lock the file, create or check the schema, recover a crashed run's leases.

        Raises StoreLocked if another live process uses the file, and a
        one-line StorageError if it cannot be used. Opening twice is counted:
        the store closes with the last ``close``.
        """
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._users:
                self._users += 1
                return
            await self._open_once()
            self._users = 1

    async def _open_once(self) -> None:
        parent = self.path.parent
        if not parent.is_dir():
            raise unusable_path(self.path, FileNotFoundError(2, "no such directory"))
        if self.path.is_dir():
            raise unusable_path(self.path, IsADirectoryError(21, "it is a directory"))
        self._lock.acquire()
        writer = Writer(self.path, self._apply_deltas)
        fresh, item_key = self.fresh, self.item_key
        recovered: list[int] = []

        def _connect() -> sqlite3.Connection:
            conn = _schema.connect(self.path)
            try:
                recovered.append(_schema.prepare(conn, self.path, fresh=fresh,
                                                 item_key=item_key))
                self._counts = _schema.read_counts(conn)
            except sqlite3.Error as exc:
                conn.close()
                raise translate(exc, self.path) from None
            except BaseException:
                conn.close()
                raise
            return conn

        try:
            await writer.start(_connect)
        except BaseException:
            self._lock.release()
            raise
        self._writer = writer
        self.fresh = False  # wiped once; opening again (a second crawl) continues
        self.recovered = recovered[0]
        if self.recovered:
            log.info("%s: %d requests in flight when the last run stopped are queued again",
                     self.path, self.recovered)
        self.frontier._reset()

    async def close(self) -> None:
        """Return unleased buffered rows to pending, close the file, drop the lock."""
        if self._open_lock is None:
            return
        async with self._open_lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users:
                return
            writer, self._writer = self._writer, None
            try:
                if writer is not None:
                    try:
                        await self.frontier._unbuffer(writer)
                    finally:
                        await writer.stop()
            finally:
                self._lock.release()

    @property
    def writer(self) -> Writer:
        if self._writer is None:
            raise StorageError(f"{self.path} is not open: use `async with store:` first")
        return self._writer

    def _apply_deltas(self, deltas: Deltas) -> None:
        for state, delta in enumerate(deltas):
            self._counts[state] += delta
        if deltas[PENDING] > 0:
            self.frontier._wake()

    # -- queries -------------------------------------------------------------------

    async def counts(self) -> FrontierCounts:
        """Requests per state; rows buffered for leasing count as pending."""
        return await self.frontier.counts()

    def iter_items(self) -> Iterator[dict[str, Any]]:
        """Every stored item, in first-stored order, through a read-only connection.

        Works whether the store is open or not (WAL lets it read beside the writer).
        """
        with StoreReader(self.path) as reader:
            yield from reader.iter_items()

    async def requeue_failed(self) -> int:
        """Queue every failed request again with a fresh attempt count; return how many."""

        def _requeue(conn: sqlite3.Connection, deltas: Deltas) -> int:
            cursor = conn.execute(
                "UPDATE requests SET state = ?, attempt = 0, not_before = 0, updated = ? "
                "WHERE state = ?", (PENDING, time.time(), FAILED))
            count = max(cursor.rowcount, 0)
            deltas[FAILED] -= count
            deltas[PENDING] += count
            return count

        self.frontier._note_queued(None)
        return await self.writer.run(_requeue)

    async def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` or SQLite's list of problems."""

        def _check(conn: sqlite3.Connection, deltas: Deltas) -> str:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
            return "\n".join(str(row[0]) for row in rows)

        return await self.writer.run(_check)


class SqliteFrontier:
    """The host-aware ``Frontier`` of a ``SqliteStore``; get it as ``store.frontier``.

    Lease tokens are row ids.
    """

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._buffer = HostQueues(UNLIMITED)
        self._leased: dict[int, Lease] = {}
        self._holding: set[int] = set()
        self._refill_size = _MIN_REFILL
        self._last_refill = 0.0
        self._refill_lock = asyncio.Lock()
        self._work = asyncio.Event()
        # What a refill that found nothing proved: no ready row on disk outside
        # the sites it passed over (``_clear``; None: nothing known), and when
        # the earliest delayed row falls due (``_next_ready``). Taking rows keeps
        # it true; rows queued on other sites (``_queued_sites``, None: any
        # site) or a delayed row falling due end it. Until then a refill that
        # passes over at least those sites is skipped: it would find nothing,
        # after reading every row of the sites it passes over (the whole queue
        # of a one-site crawl whose host is at its cap).
        self._clear: frozenset[str] | None = None
        self._next_ready: float | None = None
        self._queued_sites: set[str] | None = set()

    @property
    def pacing(self) -> HostPacing:
        return self._buffer.pacing

    @pacing.setter
    def pacing(self, pacing: HostPacing) -> None:
        self._buffer.pacing = pacing

    def _reset(self) -> None:
        self._buffer = HostQueues(self._buffer.pacing)
        self._leased.clear()
        self._holding.clear()
        self._refill_size = _MIN_REFILL
        self._last_refill = 0.0
        self._clear = None
        self._next_ready = None
        self._queued_sites = set()
        # Fresh primitives: the store may be reopened under another event loop.
        self._refill_lock = asyncio.Lock()
        self._work = asyncio.Event()

    def _wake(self) -> None:
        self._work.set()

    def _note_queued(self, sites: Iterable[str] | None) -> None:
        """Every operation that may make rows of ``sites`` (None: any) pending calls
        this before it is submitted, or a refill may be skipped while they wait."""
        if sites is None:
            self._queued_sites = None
        elif self._queued_sites is not None:
            self._queued_sites.update(sites)

    def _worth_querying(self, busy_sites: list[str]) -> bool:
        """False if a refill passing over ``busy_sites`` is known to find nothing."""
        if self._clear is None or self._queued_sites is None:
            return True
        if not (self._clear <= set(busy_sites) and self._queued_sites <= set(busy_sites)):
            return True  # a site it would not pass over may have ready rows
        return self._next_ready is not None and self._next_ready <= time.time()

    async def open(self) -> None:
        await self._store.open()

    async def close(self) -> None:
        await self._store.close()

    async def add(self, requests: Sequence[Request]) -> int:
        """Queue the requests not seen before; return how many were new."""
        if not requests:
            return 0
        rows = [_request_row(request) for request in requests]
        self._note_queued({site_of_url(request.url) for request in requests})

        def _add(conn: sqlite3.Connection, deltas: Deltas) -> int:
            added = _insert_requests(conn, rows)
            deltas[PENDING] += added
            return added

        return await self._store.writer.run(_add)

    def _pop(self) -> Lease | None:
        lease = self._buffer.pop(time.time())
        if lease is not None:
            token = int(lease.token)  # type: ignore[call-overload]
            self._leased[token] = lease
            self._holding.add(token)
        return lease

    async def lease(self, timeout: float) -> Lease | None:
        """A ready request of a ready host, marked in flight; None if none within ``timeout`` s."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            # Cleared before looking: work or a free host after this sets it again.
            self._work.clear()
            lease = self._pop()
            if lease is not None:
                return lease
            async with self._refill_lock:
                # A refill we waited for may have buffered work: take it rather
                # than pass over its (now busy) site in a scan of the whole queue.
                lease = self._pop()
                if lease is not None:
                    return lease
                busy_sites = self._buffer.busy_sites(_PER_SITE)
                if self._worth_querying(busy_sites):
                    await self._refill(busy_sites)
            lease = self._pop()
            if lease is not None:
                return lease
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            now = time.time()
            buffered = self._buffer.wait_time(now)
            if buffered is not None:
                remaining = min(remaining, buffered)
            if self._next_ready is not None:
                remaining = min(remaining, max(0.0, self._next_ready - now))
            try:
                async with asyncio.timeout(remaining):
                    await self._work.wait()
            except TimeoutError:
                pass

    async def release(self, lease: Lease, *, pause: float = 0.0) -> None:
        """The fetch is over: free the host's slot (the row stays in flight until settled)."""
        self._release(int(lease.token), lease.host, pause)  # type: ignore[call-overload]

    def _release(self, token: int, host: str, pause: float = 0.0) -> None:
        if token in self._holding:
            self._holding.discard(token)
            self._buffer.release(host, time.time(), pause)
            self._work.set()  # the host may be ready, or no longer passed over by a refill

    def _next_refill_size(self) -> int:
        """Grow the refill while the buffer drains fast, shrink it while it lasts.

        A fast crawl gets big refills (few transactions); a slow one small ones,
        so it does not mark rows in flight long before it fetches them.
        """
        now = time.monotonic()
        lasted, self._last_refill = now - self._last_refill, now
        if lasted < _REFILL_FAST:
            self._refill_size = min(self._store.prefetch, self._refill_size * 2)
        elif lasted > _REFILL_SLOW:
            self._refill_size = max(_MIN_REFILL, self._refill_size // 2)
        return min(self._refill_size, self._store.prefetch)

    async def _refill(self, busy_sites: list[str]) -> None:
        busy = orjson.dumps(busy_sites).decode()
        # Rows queued before this point are seen by the query (the writer runs in order).
        queued_before, self._queued_sites = self._queued_sites, set()
        limit = self._next_refill_size()
        now = time.time()

        def _select(conn: sqlite3.Connection, deltas: Deltas) -> _Refill:
            return _lease_rows(conn, deltas, now, busy, limit)

        def _then(refill: _Refill) -> None:
            # Runs even if this lease() was cancelled: the rows are in flight on disk.
            for row_id, request in refill.leased:
                self._buffer.push(row_id, request)
            if not refill.leased:
                self._clear = frozenset(busy_sites)
                self._next_ready = refill.next_ready
                return
            # Rows were taken: what was proved before still holds, unless a
            # delayed row fell due (this refill may have left some of them).
            if self._next_ready is not None and self._next_ready <= now:
                self._clear = self._next_ready = None
            if queued_before is None or self._queued_sites is None:
                self._queued_sites = None
            else:
                self._queued_sites |= queued_before

        try:
            await self._store.writer.run(_select, _then)
        except BaseException:
            self._queued_sites = None  # unknown whether the query saw those rows
            raise

    async def settle(self, outcomes: Sequence[Outcome]) -> None:
        """Add the outcomes' children and mark each request done/failed/retry, atomically."""
        if not outcomes:
            return
        children: list[_RequestRow] = []
        sites: set[str] = set()
        marks: list[_Mark] = []
        now = time.time()
        for outcome in outcomes:
            lease = outcome.lease
            row_id = int(lease.token)  # type: ignore[call-overload]
            if self._leased.pop(row_id, None) is None:
                log.warning("settled a lease this store does not hold: %s", lease.request.url)
                continue
            self._release(row_id, lease.host)  # a no-op once the worker released it
            request = lease.request
            children.extend(_request_row(child) for child in outcome.children)
            sites.update(site_of_url(child.url) for child in outcome.children)
            mark: tuple[int, int, float | None, str | None, str | None]
            if outcome.state == "done":
                mark = (DONE, request.attempt, None, None, outcome.error)
            elif outcome.state == "failed":
                mark = (FAILED, request.attempt, None, None, outcome.error)
            elif outcome.state == "retry":
                sites.add(site_of_url(request.url))
                mark = (PENDING, request.attempt, request.not_before,
                        _dumps_request(request), outcome.error)
            else:
                raise ValueError(f"unknown outcome state {outcome.state!r}")
            marks.append((row_id, *mark))

        def _settle(conn: sqlite3.Connection, deltas: Deltas) -> None:
            deltas[PENDING] += _insert_requests(conn, children)
            _mark_rows(conn, deltas, marks, now)

        self._note_queued(sites)
        await self._store.writer.run(_settle)

    async def has_pending(self) -> bool:
        """True while a request is pending (ready or delayed) or in flight."""
        counts = self._store._counts
        return counts[PENDING] > 0 or counts[IN_FLIGHT] > 0

    async def counts(self) -> FrontierCounts:
        counts = self._store._counts
        buffered = len(self._buffer)
        return FrontierCounts(pending=counts[PENDING] + buffered,
                              in_flight=counts[IN_FLIGHT] - buffered,
                              done=counts[DONE], failed=counts[FAILED])

    async def _unbuffer(self, writer: Writer) -> None:
        """Put rows leased into the buffer but never handed out back to pending."""
        if not len(self._buffer):
            return
        ids = [(row_id,) for row_id, _ in self._buffer.drain()]

        def _return(conn: sqlite3.Connection, deltas: Deltas) -> None:
            before = conn.total_changes
            conn.executemany(f"UPDATE requests SET state = {PENDING} "
                             f"WHERE id = ? AND state = {IN_FLIGHT}", ids)
            moved = conn.total_changes - before
            deltas[IN_FLIGHT] -= moved
            deltas[PENDING] += moved

        await writer.run(_return)


class SqliteSink:
    """The ``ItemSink`` of a ``SqliteStore``: items upserted by key, merged ``{**old, **new}``."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    async def open(self) -> None:
        await self._store.open()

    async def close(self) -> None:
        await self._store.close()

    async def write(self, items: Sequence[KeyedItem]) -> None:
        """Store the items durably; a key seen before gets its fields updated."""
        if not items:
            return
        rows = [(str(key), _dumps_item(key, item)) for key, item in items]

        def _write(conn: sqlite3.Connection, deltas: Deltas) -> None:
            _upsert_items(conn, rows, time.time())

        await self._store.writer.run(_write)


# -- work done in the writer thread -------------------------------------------------

class _Refill:
    __slots__ = ("leased", "next_ready")

    def __init__(self, leased: list[tuple[int, Request]], next_ready: float | None) -> None:
        self.leased = leased
        self.next_ready = next_ready


# row id, state, attempt, not_before, data, error
_Mark = tuple[int, int, int, float | None, str | None, str | None]


def _insert_requests(conn: sqlite3.Connection, rows: Sequence[_RequestRow]) -> int:
    if not rows:
        return 0
    now = time.time()
    before = conn.total_changes
    conn.executemany(_INSERT_REQUEST, [(*row, now) for row in rows])
    return conn.total_changes - before


def _lease_rows(conn: sqlite3.Connection, deltas: Deltas, now: float, busy_sites: str,
                limit: int) -> _Refill:
    if busy_sites == "[]":
        rows = conn.execute(_SELECT_READY, (now, limit)).fetchall()
    else:
        rows = conn.execute(_SELECT_READY_ELSEWHERE, (now, busy_sites, limit)).fetchall()
    if not rows:
        # Nothing ready (or only rows of busy sites, which a release looks at
        # again): when is the earliest delayed retry due?
        row = conn.execute(f"SELECT min(not_before) FROM requests WHERE state = {PENDING} "
                           "AND not_before > ?", (now,)).fetchone()
        return _Refill([], row[0] if row and row[0] is not None else None)
    conn.executemany(f"UPDATE requests SET state = {IN_FLIGHT} WHERE id = ?",
                     [(row[0],) for row in rows])
    deltas[PENDING] -= len(rows)
    deltas[IN_FLIGHT] += len(rows)
    leased: list[tuple[int, Request]] = []
    broken: list[tuple[str, float, int]] = []
    for row_id, fp, attempt, not_before, data in rows:
        try:
            request = Request.from_dict(orjson.loads(data))
        except (ValueError, TypeError) as exc:
            broken.append((f"storage: unreadable stored request: {exc}"[:500], now, row_id))
            continue
        request.attempt = attempt
        request.not_before = not_before
        if fp is not None:
            # The stored digest is the one from_dict would recompute; skip the hashing.
            request._fingerprint = fp
        leased.append((row_id, request))
    if broken:
        conn.executemany(f"UPDATE requests SET state = {FAILED}, error = ?, updated = ? "
                         "WHERE id = ?", broken)
        deltas[IN_FLIGHT] -= len(broken)
        deltas[FAILED] += len(broken)
    return _Refill(leased, None)


def _mark_rows(conn: sqlite3.Connection, deltas: Deltas, marks: Sequence[_Mark],
               now: float) -> None:
    finished: dict[int, list[tuple[int, str | None, float, int]]] = {DONE: [], FAILED: []}
    retries: list[tuple[int, float | None, str | None, str | None, float, int]] = []
    for row_id, state, attempt, not_before, data, error in marks:
        if state == PENDING:
            retries.append((attempt, not_before, data, error, now, row_id))
        else:
            finished[state].append((attempt, error, now, row_id))
    # The "AND state = in flight" guard makes settling twice harmless; changes
    # are counted so the in-memory counts stay exact.
    for state, rows in finished.items():
        if rows:
            before = conn.total_changes
            conn.executemany(f"UPDATE requests SET state = {state}, attempt = ?, error = ?, "
                             f"updated = ? WHERE id = ? AND state = {IN_FLIGHT}", rows)
            changed = conn.total_changes - before
            deltas[IN_FLIGHT] -= changed
            deltas[state] += changed
    if retries:
        before = conn.total_changes
        conn.executemany(f"UPDATE requests SET state = {PENDING}, attempt = ?, not_before = ?, "
                         f"data = ?, error = ?, updated = ? WHERE id = ? AND state = {IN_FLIGHT}",
                         retries)
        changed = conn.total_changes - before
        deltas[IN_FLIGHT] -= changed
        deltas[PENDING] += changed


def _upsert_items(conn: sqlite3.Connection, rows: Sequence[tuple[str, bytes]],
                  now: float) -> None:
    # One query finds which keys exist; only those are merged in Python.
    stored: dict[str, Any] = {}
    keys = list({key for key, _ in rows})
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        chunk = keys[start:start + _KEYS_PER_QUERY]
        marks = ",".join("?" * len(chunk))
        stored.update(conn.execute(f"SELECT key, data FROM items WHERE key IN ({marks})", chunk))
    merged: dict[str, str] = {}
    for key, data in rows:
        old = merged.get(key, stored.get(key))
        if old is None:
            merged[key] = data.decode()
        else:
            item = orjson.loads(old)
            item.update(orjson.loads(data))
            merged[key] = orjson.dumps(item).decode()
    conn.executemany(
        "INSERT INTO items (key, data, updated) VALUES (?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET data = excluded.data, updated = excluded.updated",
        [(key, data, now) for key, data in merged.items()])


# -- serialisation, in the loop thread (errors reach the caller, not a batch) ----------

def _dumps_request(request: Request) -> str:
    try:
        return orjson.dumps(request.to_dict()).decode()
    except TypeError as exc:
        raise StorageError(
            f"cannot store the request for {request.url}: {exc}; "
            "keep its meta to JSON values (str, int, float, bool, None, list, dict)"
        ) from None


def _request_row(request: Request) -> _RequestRow:
    fp = None if request.dont_filter else request.fingerprint
    return (fp, request.priority, request.not_before, request.attempt, _dumps_request(request))


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps_item(key: object, item: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(item, default=_json_default)
    except TypeError as exc:
        raise StorageError(
            f"cannot store item {key!r}: {exc}; yield items of JSON values "
            "(str, int, float, bool, None, list, dict)"
        ) from None
