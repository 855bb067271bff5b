"""Running a crawl from synchronous code: the event loop and the stop signals."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (faster I/O), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


@contextmanager
def graceful_signals(stop: Callable[[str], None]) -> Iterator[None]:
    """The first Ctrl-C or SIGTERM calls ``stop(reason)``; a second cancels the current task.

    Use inside a running loop, in the main thread (elsewhere it does nothing).
    A task cancelled this way raises KeyboardInterrupt on leaving the block, so
    the CLI exits at once with code 130.
    """
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    presses = 0

    def on_signal(name: str) -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            log.warning("%s: finishing requests in flight (again to quit at once)", name)
            stop(f"{name} received")
        elif main is not None:
            main.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig.name)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            pass
    try:
        yield
    except asyncio.CancelledError:
        if presses > 1:
            raise KeyboardInterrupt from None
        raise
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
