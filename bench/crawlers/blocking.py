"""Blocking crawlers: ``--variant sequential`` (one request after another) or ``--variant
threads`` (a thread pool of ``--concurrency`` threads). requests + selectolax, so that only
the concurrency model differs from the bare loop."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from urllib.parse import urljoin

import requests
from _common import list_item, list_urls, parse_args, write_items
from selectolax.lexbor import LexborHTMLParser

_local = threading.local()


def session() -> requests.Session:
    s: requests.Session | None = getattr(_local, "session", None)
    if s is None:
        s = _local.session = requests.Session()
    return s


def list_page(url: str) -> list[tuple[str, dict[str, str]]]:
    resp = session().get(url, timeout=30)
    dom = LexborHTMLParser(resp.content.decode("utf-8"))
    out = []
    for node in dom.css("div#showing-soon > div.item"):
        link = node.css_first("div.intro h3 a")
        if link is None:
            continue
        href = link.attrs.get("href") or ""
        out.append(
            (
                urljoin(url, href),
                list_item(href, link.text(), [li.text() for li in node.css("li.dt")]),
            )
        )
    return out


def detail_page(job: tuple[str, dict[str, str]]) -> dict[str, str] | None:
    url, movie = job
    dom = LexborHTMLParser(session().get(url, timeout=30).content.decode("utf-8"))
    img = dom.css_first('div#mainpic > a.nbgnbg > img[rel="v:image"]')
    return None if img is None else {**movie, "poster_url": img.attrs.get("src") or ""}


def main() -> None:
    args = parse_args(__doc__)
    starts = list_urls(args)
    if args.variant == "sequential":
        found = [pair for url in starts for pair in list_page(url)]
        items = [detail_page(job) for job in found]
    else:
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            # Detail pages are queued as soon as their list page is parsed.
            detail_jobs = [
                pool.submit(detail_page, job)
                for done in as_completed([pool.submit(list_page, url) for url in starts])
                for job in done.result()
            ]
            items = [job.result() for job in detail_jobs]
    write_items(args.out, [i for i in items if i is not None])


if __name__ == "__main__":
    main()
