"""The bare loop: N worker coroutines on one queue, aiohttp, selectolax; no framework.

``--processes 2`` runs two copies of itself, each on every other list page.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiohttp
from _common import list_item, list_urls, parse_args, write_items
from selectolax.lexbor import LexborHTMLParser
from yarl import URL


async def crawl(starts: list[str], concurrency: int) -> list[dict[str, str]]:
    queue: asyncio.Queue[tuple[str, dict[str, str] | None]] = asyncio.Queue()
    for url in starts:
        queue.put_nowait((url, None))
    items: list[dict[str, str]] = []

    async def worker(session: aiohttp.ClientSession) -> None:
        while True:
            url, movie = await queue.get()
            try:
                async with session.get(url) as resp:
                    body = await resp.read()
                dom = LexborHTMLParser(body.decode("utf-8"))
                if movie is None:  # a list page
                    for node in dom.css("div#showing-soon > div.item"):
                        link = node.css_first("div.intro h3 a")
                        if link is None:
                            continue
                        href = link.attrs.get("href") or ""
                        dts = [li.text() for li in node.css("li.dt")]
                        queue.put_nowait((str(resp.url.join(URL(href))), list_item(href, link.text(), dts)))
                else:
                    img = dom.css_first('div#mainpic > a.nbgnbg > img[rel="v:image"]')
                    if img is not None:
                        items.append({**movie, "poster_url": img.attrs.get("src") or ""})
            finally:
                queue.task_done()

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        workers = [asyncio.create_task(worker(session)) for _ in range(concurrency)]
        await queue.join()
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return items


def main() -> None:
    args = parse_args(__doc__)
    if args.processes > 1:
        n = args.processes
        outs = [args.out.with_suffix(f".{i}.jsonl") for i in range(n)]
        base = [sys.executable, __file__, "--base", args.base, "--lists", str(args.lists)]
        base += ["--concurrency", str(args.concurrency)]
        procs = [subprocess.Popen([*base, "--out", str(o), "--shard", f"{i}/{n}"]) for i, o in enumerate(outs)]
        if any(p.wait() for p in procs):
            sys.exit("a shard failed")
        args.out.write_text("".join(o.read_text(encoding="utf-8") for o in outs), encoding="utf-8")
        for o in outs:
            Path(o).unlink()
        return
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    write_items(args.out, asyncio.run(crawl(list_urls(args), args.concurrency)))


if __name__ == "__main__":
    main()
