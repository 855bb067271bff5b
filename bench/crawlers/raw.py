"""The I/O ceiling: aiohttp fetches every page (URLs given), reads the body, parses nothing."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from _common import parse_args


async def crawl(base: str, paths: list[str], concurrency: int) -> tuple[int, int]:
    queue = iter(paths)
    pages = size = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal pages, size
        for path in queue:  # one shared iterator: each path is taken once
            async with session.get(base + path) as resp:
                body = await resp.read()
                if resp.status == 200:
                    pages += 1
                    size += len(body)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session, asyncio.TaskGroup() as tg:
        for _ in range(concurrency):
            tg.create_task(worker(session))
    return pages, size


def main() -> None:
    args = parse_args(__doc__)
    paths = [p for p in args.lists.read_text(encoding="utf-8").split() if p]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    pages, size = asyncio.run(crawl(args.base, paths, args.concurrency))
    args.out.write_text(json.dumps({"pages": pages, "bytes": size}), encoding="utf-8")


if __name__ == "__main__":
    main()
