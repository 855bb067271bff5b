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
"""

from __future__ import annotations

import asyncio
import inspect
import multiprocessing
import signal
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from ._exceptions import UsageError
from ._request import Request
from ._response import Response

#: What a callback run produced, in a picklable form:
#: ``("item", dict)`` or ``("request", wire dict)`` values, and the error
#: ``(is_usage_error, type name, message)`` that stopped it, if any.
Yielded = list[tuple[str, Any]]
Failure = tuple[bool, str, str] | None

_callbacks: Mapping[str, Callable[[Response], Any]] = {}
_loop: asyncio.AbstractEventLoop | None = None


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
        if isinstance(result, Request | dict):
            values.append(result)
        else:
            values.extend(result)
    except Exception as exc:
        return values, exc
    return values, None


def _init_child(callbacks: Mapping[str, Callable[[Response], Any]]) -> None:
    global _callbacks, _loop
    # Ctrl-C reaches the whole process group; the parent alone decides how to
    # stop, and would lose its pool if the children died first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _callbacks = callbacks
    _loop = asyncio.new_event_loop()


def _ready() -> bool:
    return True


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
        failure = (isinstance(error, UsageError), type(error).__name__, str(error))
    return out, failure


class CallbackPool:
    """N forked processes that run callbacks; use with ``async with``."""

    def __init__(self, processes: int, callbacks: Mapping[str, Callable[[Response], Any]]):
        self.processes = processes
        self._executor = ProcessPoolExecutor(
            max_workers=processes, mp_context=multiprocessing.get_context("fork"),
            initializer=_init_child, initargs=(dict(callbacks),),
        )

    async def start(self) -> None:
        """Fork the processes now, before the crawl starts threads or opens sockets."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, _ready)
                               for _ in range(self.processes)))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def run(self, name: str, response: Response) -> tuple[list[Any], Failure]:
        """Run callback ``name`` on ``response`` in a worker; return its values and failure."""
        loop = asyncio.get_running_loop()
        yielded, failure = await loop.run_in_executor(
            self._executor, _run_in_child, name, response.url, response.status,
            list(response.headers.items()), response.body, response.request.to_dict(),
            response.truncated, response.elapsed,
        )
        values: list[Any] = [
            Request.from_dict(value) if kind == "request" else value for kind, value in yielded
        ]
        return values, failure
