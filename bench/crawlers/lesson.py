"""The lesson's crawler: asyncio.gather over every page, aiohttp, BeautifulSoup with lxml.

First all list pages at once, then all detail pages at once; aiohttp's default
connection limit (100) is the only bound, as in the lesson.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urljoin

import aiohttp
from _common import list_item, list_urls, parse_args, write_items
from bs4 import BeautifulSoup


async def fetch(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as resp:
        return await resp.text()


async def list_page(session: aiohttp.ClientSession, url: str) -> list[tuple[str, dict[str, str]]]:
    soup = BeautifulSoup(await fetch(session, url), "lxml")
    out = []
    for node in soup.select("div#showing-soon > div.item"):
        link = node.select_one("div.intro h3 a")
        if link is None:
            continue
        href = str(link.get("href") or "")
        dts = [li.get_text() for li in node.select("li.dt")]
        out.append((urljoin(url, href), list_item(href, link.get_text(), dts)))
    return out


async def detail_page(
    session: aiohttp.ClientSession, url: str, movie: dict[str, str]
) -> dict[str, str] | None:
    soup = BeautifulSoup(await fetch(session, url), "lxml")
    img = soup.select_one('div#mainpic > a.nbgnbg > img[rel="v:image"]')
    return None if img is None else {**movie, "poster_url": str(img.get("src") or "")}


async def crawl(starts: list[str]) -> list[dict[str, str]]:
    async with aiohttp.ClientSession() as session:
        lists = await asyncio.gather(*(list_page(session, url) for url in starts))
        found = [pair for page in lists for pair in page]
        items = await asyncio.gather(*(detail_page(session, url, movie) for url, movie in found))
    return [item for item in items if item is not None]


def main() -> None:
    args = parse_args(__doc__)
    write_items(args.out, asyncio.run(crawl(list_urls(args))))


if __name__ == "__main__":
    main()
