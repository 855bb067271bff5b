"""One thread owns the SQLite connection; the event loop never waits on the disk.

Coroutines submit *operations* (plain functions of the connection). The writer
thread takes every operation queued so far and runs them in ONE transaction,
then hands the results back to the loop. While a transaction runs, new
operations pile up and go into the next one: group commit, so a burst of
writes costs one commit, not one each.

An operation's ``then`` hook runs in the loop thread after the commit even if
the coroutine that submitted it was cancelled meanwhile; that is how state the
operation changed on disk (rows marked in flight, say) is never forgotten in
memory.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from .._exceptions import StorageError
from ._errors import translate

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Count deltas an operation makes, indexed by request state (pending, in flight, done, failed).
Deltas = list[int]
Operation = Callable[[sqlite3.Connection, Deltas], T]


@dataclass(slots=True)
class _Job(Generic[T]):
    operation: Operation[T]
    future: asyncio.Future[T]
    then: Callable[[T], None] | None = None
    result: Any = field(default=None)


class Writer:
    """The single thread that talks to one SQLite file.

    ``on_commit(deltas)`` is called in the loop thread after each transaction
    that changed request counts, before any submitter is woken.
    """

    def __init__(self, path: Path, on_commit: Callable[[Deltas], None]) -> None:
        self.path = path
        self._on_commit = on_commit
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="corocrawl-sqlite")
        self._mutex = threading.Lock()
        self._queue: list[_Job[Any]] = []
        self._drain_scheduled = False
        self._conn: sqlite3.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.transactions = 0

    async def start(self, connect: Callable[[], sqlite3.Connection]) -> None:
        """Open the connection in the writer thread (SQLite objects stay in their thread)."""
        self._loop = asyncio.get_running_loop()

        def _open() -> None:
            self._conn = connect()

        try:
            await self._loop.run_in_executor(self._executor, _open)
        except BaseException:
            self._executor.shutdown(wait=True)
            raise

    async def stop(self) -> None:
        """Finish queued work, close the connection and the thread."""
        loop = asyncio.get_running_loop()

        def _close() -> None:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()

        try:
            await loop.run_in_executor(self._executor, _close)
        finally:
            self._executor.shutdown(wait=True)

    def submit(self, operation: Operation[T], then: Callable[[T], None] | None = None,
               ) -> asyncio.Future[T]:
        """Queue ``operation`` for the next transaction; the future gets its result."""
        loop = self._loop
        assert loop is not None, "Writer.start() first"
        job: _Job[T] = _Job(operation, loop.create_future(), then)
        with self._mutex:
            self._queue.append(job)
            schedule = not self._drain_scheduled
            self._drain_scheduled = True
        if schedule:
            self._executor.submit(self._drain)
        return job.future

    async def run(self, operation: Operation[T], then: Callable[[T], None] | None = None) -> T:
        """Submit ``operation`` and wait for its transaction to commit."""
        return await self.submit(operation, then)

    # -- the writer thread -----------------------------------------------------

    def _drain(self) -> None:
        with self._mutex:
            jobs, self._queue = self._queue, []
            self._drain_scheduled = False
        if not jobs:
            return
        deltas: Deltas = [0, 0, 0, 0]
        error: BaseException | None = None
        try:
            self._transaction(jobs, deltas)
        except sqlite3.Error as exc:
            error = translate(exc, self.path)
            log.debug("transaction on %s failed", self.path, exc_info=True)
        except BaseException as exc:  # a bug in an operation: give it to the submitters
            error = exc
        loop = self._loop
        assert loop is not None
        try:
            loop.call_soon_threadsafe(self._resolve, jobs, deltas, error)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            log.debug("event loop closed before %d jobs were resolved", len(jobs))

    def _transaction(self, jobs: list[_Job[Any]], deltas: Deltas) -> None:
        conn = self._conn
        if conn is None:
            raise StorageError(f"{self.path} is closed")
        changes_before = conn.total_changes
        conn.execute("BEGIN IMMEDIATE")
        try:
            for job in jobs:
                job.result = job.operation(conn, deltas)
            if conn.total_changes != changes_before:
                _record_activity(conn, deltas)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for i in range(4):
                deltas[i] = 0
            raise
        self.transactions += 1

    # -- back in the loop thread -------------------------------------------------

    def _resolve(self, jobs: list[_Job[Any]], deltas: Deltas, error: BaseException | None,
                 ) -> None:
        if error is None:
            if any(deltas):
                self._on_commit(deltas)
            for job in jobs:
                if job.then is not None:
                    job.then(job.result)
        for job in jobs:
            if job.future.done():  # the submitter was cancelled
                continue
            if error is None:
                job.future.set_result(job.result)
            else:
                job.future.set_exception(error)


def _record_activity(conn: sqlite3.Connection, deltas: Deltas) -> None:
    conn.execute("UPDATE meta SET value = ? WHERE name = 'last_activity'", (repr(time.time()),))
    if any(deltas):
        conn.executemany(
            "UPDATE counts SET n = n + ? WHERE state = ?",
            [(delta, state) for state, delta in enumerate(deltas) if delta],
        )
