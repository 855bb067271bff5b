"""Running callbacks in worker processes, so parsing uses every core.

Coroutines share one core: a callback that parses a 50 KB page holds the event
loop for about a millisecond, and with enough of them the loop, not the
network, sets the pace. With ``processes=N`` the engine keeps fetching,
politeness and storage in its event loop and sends each response to one of N
forked processes, which run the callback and send back what it yielded.

The processes are forked before the crawl opens its store or its session, so
they inherit the registered callbacks (closures included) and no threads or
sockets. Callbacks that run there must be CPU-only: what they yield comes back
by pickling (Requests travel in their wire form, by callback name).

Written by hand rather than on ``concurrent.futures.ProcessPoolExecutor``:
its manager and feeder threads cost about half a millisecond of GIL hand-offs
per task, as much as parsing the page. Here each worker has a socket pair; the
event loop writes length-prefixed pickles and reads the answers as streams,
with no thread in the parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import os
import pickle
import signal
import socket
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from ._exceptions import InvalidURL, UsageError
from ._items import as_item
from ._request import Request
from ._response import Response

#: What a callback run produced, in a picklable form:
#: ``("item", dict)`` or ``("request", wire dict)`` values, and the error
#: ``(is_usage_error, type name, message)`` that stopped it, if any.
Yielded = list[tuple[str, Any]]
Failure = tuple[bool, str, str] | None

log = logging.getLogger(__name__)

_callbacks: Mapping[str, Callable[[Response], Any]] = {}
_loop: asyncio.AbstractEventLoop | None = None
_HEADER = struct.Struct(">I")
#: How long closing waits for a worker to exit before killing it.
_EXIT_GRACE = 5.0
#: Added to the callback processes' niceness: the parent goes first.
_WORKER_NICENESS = 5


def stops_crawl(error: BaseException) -> bool:
    """True if a callback's error is the user's mistake (a bad selector) and ends the crawl.

    A malformed URL met in a callback (``resp.follow`` of a page's link, a
    ``Request`` made from page data) is the page's fault: an error of that page.
    """
    return isinstance(error, UsageError) and not isinstance(error, InvalidURL)


async def drive(result: Any) -> tuple[list[Any], BaseException | None]:
    """Collect what a callback's result yields: async generator, awaitable or iterable.

    Returns the values and the exception that stopped the callback, if any:
    values yielded before an exception are kept.
    """
    values: list[Any] = []
    try:
        if inspect.isasyncgen(result):
            async for value in result:
                values.append(value)
            return values, None
        if inspect.isawaitable(result):
            result = await result
        if result is None:
            return values, None
        if isinstance(result, Request) or as_item(result) is not None:
            values.append(result)
        else:
            values.extend(result)
    except Exception as exc:
        return values, exc
    return values, None


def _run_in_child(
    name: str, url: str, status: int, headers: list[tuple[str, str]], body: bytes,
    request: dict[str, Any], truncated: bool, elapsed: float,
) -> tuple[Yielded, Failure]:
    assert _loop is not None, "callback process not initialised"
    if name not in _callbacks:
        return [], (True, "UsageError", f"callback {name!r} is not registered: decorate it "
                    "with @crawler.handler to run it in worker processes")
    response = Response(url, status, CIMultiDictProxy(CIMultiDict(headers)), body,
                        Request.from_dict(request))
    response.truncated = truncated
    response.elapsed = elapsed
    try:
        values, error = _loop.run_until_complete(drive(_callbacks[name](response)))
    except Exception as exc:  # the callback raised before returning anything
        values, error = [], exc
    out: Yielded = []
    for value in values:
        if isinstance(value, Request):
            out.append(("request", value.to_dict()))
        else:
            out.append(("item", value))
    failure: Failure = None
    if error is not None:
        failure = (stops_crawl(error), type(error).__name__, str(error))
    return out, failure


def _child_main(sock: socket.socket, callbacks: Mapping[str, Callable[[Response], Any]]) -> None:
    """A worker's whole life: read a task, run the callback, write the answer, until EOF."""
    global _callbacks, _loop
    # Ctrl-C reaches the whole process group; the parent alone decides how to
    # stop, and it closes our socket when it is done with us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # The parent's event loop owns the inherited wakeup fd; ValueError means we
    # were forked from a thread other than the main one, which has none.
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)
    # The parent fetches, stores and hands out every page: it is the one serial
    # stage, so when the cores are short it must not wait behind its own workers
    # (measured: with equal priority, two workers and the parent on two shared
    # cores were slower than one process).
    with contextlib.suppress(OSError):
        os.nice(_WORKER_NICENESS)
    _callbacks = callbacks
    _loop = asyncio.new_event_loop()
    stream = sock.makefile("rwb")
    while True:
        header = stream.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        task_id, args = pickle.loads(stream.read(_HEADER.unpack(header)[0]))
        try:
            result: tuple[Yielded, Failure] = _run_in_child(*args)
            data = pickle.dumps((task_id, result), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # e.g. an item that cannot be pickled
            failure = (False, type(exc).__name__, f"cannot send the callback's results "
                       f"between processes: {exc}")
            data = pickle.dumps((task_id, ([], failure)), protocol=pickle.HIGHEST_PROTOCOL)
        stream.write(_HEADER.pack(len(data)))
        stream.write(data)
        stream.flush()


@dataclass(eq=False)
class _Worker:
    pid: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    pending: dict[int, asyncio.Future[tuple[Yielded, Failure]]] = field(default_factory=dict)
    alive: bool = True


class CallbackPool:
    """N forked processes that run callbacks.

    ``start()`` forks them; ``serve()`` reads their answers and must run while
    ``run()`` is used (the engine runs it in its TaskGroup); ``finish()`` lets
    them exit; ``close()`` reaps them, killing any that do not exit.
    """

    def __init__(self, processes: int, callbacks: Mapping[str, Callable[[Response], Any]]):
        self.processes = processes
        self.callbacks = dict(callbacks)
        self._workers: list[_Worker] = []
        self._ids = itertools.count()

    async def start(self) -> None:
        """Fork the processes now, before the crawl starts threads or opens sockets."""
        parent_ends: list[socket.socket] = []
        for _ in range(self.processes):
            parent_end, child_end = socket.socketpair()
            pid = os.fork()
            if pid == 0:  # the child: never returns into the parent's code
                code = 0
                try:
                    parent_end.close()
                    for other in parent_ends:  # or their workers would never see EOF
                        other.close()
                    _child_main(child_end, self.callbacks)
                except BaseException:
                    code = 1
                finally:
                    os._exit(code)
            child_end.close()
            parent_ends.append(parent_end)
            reader, writer = await asyncio.open_connection(sock=parent_end)
            self._workers.append(_Worker(pid, reader, writer))

    async def serve(self) -> None:
        """Deliver the workers' answers until every worker has closed its socket."""
        async with asyncio.TaskGroup() as group:
            for worker in self._workers:
                group.create_task(self._read(worker), name=f"callback-worker-{worker.pid}")

    async def _read(self, worker: _Worker) -> None:
        try:
            while True:
                header = await worker.reader.readexactly(_HEADER.size)
                data = await worker.reader.readexactly(_HEADER.unpack(header)[0])
                task_id, result = pickle.loads(data)
                future = worker.pending.pop(task_id, None)
                if future is not None and not future.done():
                    future.set_result(result)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            worker.alive = False
            for future in worker.pending.values():
                if not future.done():
                    future.set_result(([], (False, "WorkerDied", f"callback process "
                                            f"{worker.pid} exited while parsing this page")))
            worker.pending.clear()

    async def run(self, name: str, response: Response) -> tuple[list[Any], Failure]:
        """Run callback ``name`` on ``response`` in the least busy worker."""
        live = [w for w in self._workers if w.alive]
        if not live:
            return [], (False, "WorkerDied", "every callback process has exited")
        worker = min(live, key=lambda w: len(w.pending))
        task_id = next(self._ids)
        args = (name, response.url, response.status, list(response.headers.items()),
                response.body, response.request.to_dict(), response.truncated, response.elapsed)
        data = pickle.dumps((task_id, args), protocol=pickle.HIGHEST_PROTOCOL)
        future: asyncio.Future[tuple[Yielded, Failure]] = (
            asyncio.get_running_loop().create_future())
        worker.pending[task_id] = future
        worker.writer.write(_HEADER.pack(len(data)) + data)
        await worker.writer.drain()
        yielded, failure = await future
        values: list[Any] = [
            Request.from_dict(value) if kind == "request" else value for kind, value in yielded
        ]
        return values, failure

    def finish(self) -> None:
        """No more tasks: close the sockets so the workers exit and ``serve()`` returns."""
        for worker in self._workers:
            if not worker.writer.is_closing():
                worker.writer.close()

    def close(self) -> None:
        """Reap the workers; kill (by PID, ours) any still running after a grace period."""
        self.finish()
        deadline = time.monotonic() + _EXIT_GRACE
        for worker in self._workers:
            while True:
                pid, _ = os.waitpid(worker.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    log.warning("callback process %d did not exit; killing it", worker.pid)
                    os.kill(worker.pid, signal.SIGKILL)
                    os.waitpid(worker.pid, 0)
                    break
                time.sleep(0.01)
        self._workers.clear()
