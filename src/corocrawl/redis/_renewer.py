"""Keeping leases alive: one background loop per frontier or slot set."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Renewer:
    """Calls ``renew_once`` every ``period`` seconds between ``start()`` and ``stop()``.

    It is stopped by a flag, not ``cancel()``: cancelling a Redis call in
    flight is where redis-py can lose a cancellation (see
    ``_link._reraise_lost_cancel``). Only a renewer stuck for 5 s is cancelled.
    """

    def __init__(self, renew_once: Callable[[], Awaitable[None]], period: float, what: str):
        self.renew_once = renew_once
        self.period = max(0.05, period)
        self.what = what
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        # Owned here and always awaited by stop(): the frontier's or the slots'
        # close() calls it on every exit path of the engine.
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"redis-{self.what}-renewer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None or task.done():
            return
        self._stopping.set()
        try:
            async with asyncio.timeout(5.0):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.period):
                    await self._stopping.wait()
            if self._stopping.is_set():
                return
            try:
                await self.renew_once()
            except Exception:
                # Transient errors are retried inside _link.call; anything else
                # (a script error) must not stop renewal for good: log, go on.
                log.exception("renewing %s failed; trying again in %.1f s", self.what,
                              self.period)
