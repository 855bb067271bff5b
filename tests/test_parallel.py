"""The callback processes of ``--processes``: they run below the parent's priority."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

from corocrawl import Request
from corocrawl._parallel import _WORKER_NICENESS, CallbackPool
from corocrawl._response import Response


def niceness(resp: Response) -> Iterator[dict[str, Any]]:
    yield {"nice": os.nice(0), "pid": os.getpid()}


async def test_workers_yield_the_cpu_to_the_parent() -> None:
    # The parent is the one serial stage (fetch, store, hand-out): on short cores
    # it must not queue behind its own workers.
    pool = CallbackPool(2, {"niceness": niceness})
    await pool.start()
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(pool.serve())
            url = "http://site.test/"
            response = Response(url, 200, {}, b"<p>x</p>", Request(url, "niceness"))
            values, failure = await pool.run("niceness", response)
            pool.finish()
    finally:
        pool.close()
    assert failure is None
    [item] = values
    assert item["pid"] != os.getpid()
    assert item["nice"] == min(os.nice(0) + _WORKER_NICENESS, 19)
