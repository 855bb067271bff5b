"""The flagship spider: douban's upcoming movies ("即将上映") with full-size posters.

The list page ``/cinema/later/<city>/`` gives every movie's list fields; each
movie's detail page ``/subject/<id>/`` gives its poster. A movie is one item,
keyed by ``subject_id``: the list page writes its fields, the detail page
later adds ``poster_url`` under the same key (the sinks merge), so a movie
whose detail page fails still has its list fields.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from .._config import CrawlConfig
from .._crawler import Crawler
from .._exceptions import InvalidURL, UsageError
from .._politeness import HostRule
from .._request import Request, parse_url
from .._response import Response
from ..frontier import Frontier
from ..sinks import ItemSink
from ._douban_parse import infer_release_date, is_douban_host, parse_list, parse_poster

LIVE_LIST_URL = "https://movie.douban.com/cinema/later/{city}/"

#: Every item has exactly these fields, in this order, in exports and tables.
FIELDS = ("name", "date", "release_date", "genre", "region", "wants", "url", "subject_id",
          "thumb_url", "poster_url")

#: douban answers 418 to non-browser User-Agents, so the spider sends a browser's.
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)

#: People report bans below about 2 s between requests to douban's own hosts.
DOUBAN_HOST_RULE = HostRule(per_host=1, delay=2.0, jitter=0.25)

_CITY = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


def list_url(city: str) -> str:
    """The live list page of ``city`` (a pinyin slug such as ``beijing``)."""
    if not _CITY.match(city):
        raise UsageError(
            f"bad city {city!r}: give douban's lower-case pinyin slug, like beijing or shanghai"
        )
    return LIVE_LIST_URL.format(city=city)


@functools.lru_cache(maxsize=1024)
def douban_host_policy(host: str) -> HostRule | None:
    """Slow, single-connection politeness for douban's own hosts; defaults elsewhere.

    Cached (a pure function of the host): the frontier asks it several times a page.
    """
    return DOUBAN_HOST_RULE if is_douban_host(host) else None


def build_crawler(
    start_urls: Sequence[str],
    *,
    config: CrawlConfig | None = None,
    frontier: Frontier | None = None,
    sinks: Sequence[ItemSink] | None = None,
    today: dt.date | None = None,
    polite_to_douban: bool = True,
) -> Crawler:
    """A crawler for douban's upcoming-movies pages at ``start_urls`` (live site or mirror).

    >>> crawler = build_crawler(["http://127.0.0.1:8080/cinema/later/beijing/"])
    >>> crawler.run(); crawler.items[0]["poster_url"]
    """
    config = config or CrawlConfig(user_agent=BROWSER_USER_AGENT)
    crawl_day = today or dt.date.today()
    crawler = Crawler(
        config, frontier=frontier, sinks=sinks, item_key="subject_id",
        host_policy=douban_host_policy if polite_to_douban else None,
    )

    @crawler.handler
    async def listing(resp: Response) -> AsyncIterator[Request | dict[str, Any]]:
        bad_links: list[str] = []
        for movie in parse_list(resp.dom, resp.url):
            released = infer_release_date(movie.get("date"), crawl_day)
            # No poster_url here: the detail page owns that field, and a
            # re-fetched list page must not overwrite a poster with null.
            yield {**movie, "release_date": released.isoformat() if released else None}
            try:
                # Details first: they finish movies, and keep the frontier short.
                yield resp.follow(movie["url"], detail, priority=1,
                                  meta={"subject_id": movie["subject_id"]})
            except InvalidURL:  # a malformed link: keep the movie, skip its detail page
                bad_links.append(movie["url"])
        if bad_links:
            # Raised after every movie was yielded: the engine records it as this
            # page's error and keeps what was yielded.
            raise InvalidURL(f"{len(bad_links)} malformed movie link(s) on {resp.url}, "
                             f"e.g. {bad_links[0]!r}")

    @crawler.handler
    async def detail(resp: Response) -> AsyncIterator[dict[str, Any]]:
        poster = parse_poster(resp.dom, resp.url)
        if poster is None:
            raise ValueError("no poster (#mainpic img) on the detail page")
        yield {"subject_id": resp.meta["subject_id"], "poster_url": poster}

    crawler.add_start(*(Request(str(parse_url(u)), "listing") for u in start_urls))
    return crawler


def complete(item: dict[str, Any]) -> dict[str, Any]:
    """The item with exactly ``FIELDS``, missing ones as None."""
    return {name: item.get(name) for name in FIELDS}


#: The spider as ``corocrawl run`` finds it, like any user's spider module:
#: ``corocrawl run corocrawl.spiders.douban --start-url http://127.0.0.1:8080/cinema/later/beijing/``.
#: ``corocrawl douban`` builds its own with the command's extra options (city, --today).
crawler = build_crawler([list_url("beijing")])
