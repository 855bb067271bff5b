"""The bare loop: N worker coroutines on one queue, aiohttp, uvloop, selectolax; no framework.

The fastest honest loop, the yardstick of every ratio: the body's bytes go straight
into Lexbor (which parses UTF-8 natively; a ``str`` would be encoded back to UTF-8
first, roughly doubling its cost), items stay in memory until the end.
``--variant str`` decodes every body to ``str`` first, as the earlier bare loop did
(an extra, labelled row). ``--processes 2`` runs two copies of itself, each on every
other list page.
"""

from __future__ import annotations

import asyncio

import aiohttp
from _common import list_item, list_urls, parse_args, run_shards, write_items
from selectolax.lexbor import LexborHTMLParser
from yarl import URL


def parse(body: bytes | str, url: URL, movie: dict[str, str] | None) -> tuple[list, dict | None]:  # type: ignore[type-arg]
    """A list page's (detail URL, movie) pairs, or a detail page's finished item.

    A function of its own so that the parsed page is freed when it returns, before
    the worker waits for its next page.
    """
    dom = LexborHTMLParser(body)
    if movie is None:  # a list page
        found = []
        for node in dom.css("div#showing-soon > div.item"):
            link = node.css_first("div.intro h3 a")
            if link is None:
                continue
            href = link.attrs.get("href") or ""
            dts = [li.text() for li in node.css("li.dt")]
            found.append((str(url.join(URL(href))), list_item(href, link.text(), dts)))
        return found, None
    img = dom.css_first('div#mainpic > a.nbgnbg > img[rel="v:image"]')
    return [], None if img is None else {**movie, "poster_url": img.attrs.get("src") or ""}


async def crawl(starts: list[str], concurrency: int, decode: bool = False) -> list[dict[str, str]]:
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
                found, item = parse(body.decode("utf-8") if decode else body, resp.url, movie)
                for pair in found:
                    queue.put_nowait(pair)
                if item is not None:
                    items.append(item)
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
        run_shards(args, __file__)
        return
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    decode = args.variant == "str"
    write_items(args.out, asyncio.run(crawl(list_urls(args), args.concurrency, decode)))


if __name__ == "__main__":
    main()
