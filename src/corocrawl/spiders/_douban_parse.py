"""Douban extraction as pure functions over a parsed page.

Nothing here does I/O: every function takes a selectolax ``LexborHTMLParser``
(``Response.dom``) or a string, so the spider, the replica site's tests and the
fixture tests all exercise the same code. Queries go through ``select_all`` /
``select_first``, the engine behind ``Response.css``: one selector engine a
thread rather than one a page.

The list page (``/cinema/later/<city>/``) has looked like this since 2019::

    div#showing-soon > div.item
        a.thumb > img                       small poster
        div.intro h3 a                      name; href = /subject/<id>/
        ul > li.dt  x 3-4                   date, genre, region, <span>N人想看</span>
        ul > a.trailer_icon                 optional

Real items sometimes lack a field (three ``li``, no 想看 count), so fields are
recognised by their content (a ``月``/``日`` date, a ``人想看`` suffix) and only
the remaining ``li`` are assigned by position.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from .._select import select_all, select_first

__all__ = [
    "DOUBAN_FIELDS",
    "LIST_FIELDS",
    "ListPage",
    "infer_release_date",
    "is_douban_host",
    "page_city_title",
    "parse_list",
    "parse_list_page",
    "parse_poster",
]

logger = logging.getLogger(__name__)

#: The fields of one douban movie item, in export order.
DOUBAN_FIELDS: tuple[str, ...] = (
    "name",
    "date",
    "release_date",
    "genre",
    "region",
    "wants",
    "url",
    "subject_id",
    "thumb_url",
    "poster_url",
)

#: The fields ``parse_list`` produces (the list page alone).
LIST_FIELDS: tuple[str, ...] = (
    "name",
    "date",
    "genre",
    "region",
    "wants",
    "url",
    "subject_id",
    "thumb_url",
)

_SUBJECT_ID = re.compile(r"/subject/(\d+)")
_WANTS = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(万)?\s*人想看")
# A list-page date: "10月11日", "1月5日", "01月05日", maybe with a year in front.
_MONTH_DAY = re.compile(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*日?")
# Full numeric dates: "2020-01-05", "2020/1/5", "2020.01.05".
_ISO_LIKE = re.compile(r"(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})")
# Text that stands where a date would, even when it has no parseable date.
_DATE_LIKE = re.compile(r"\d\s*[年月日]|\d{4}\s*[-/.]\s*\d|待定|未定|暂定|即将")
_TITLE_CITY = re.compile(r"^\s*(.+?)\s*影讯")
_SPACES = re.compile(r"\s+")

# Next Feb 29 can be eight years away (2096 -> 2104); look no further than that.
_MAX_YEARS_AHEAD = 8


@dataclass(slots=True)
class ListPage:
    """What ``parse_list_page`` found: the movies and how many items it had to skip."""

    items: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    #: One short reason per skipped item, for logs and stats.
    skip_reasons: list[str] = field(default_factory=list)


def _clean(text: str | None) -> str | None:
    """Collapse whitespace; empty becomes None."""
    if text is None:
        return None
    text = _SPACES.sub(" ", text).strip()
    return text or None


def _base_url(dom: LexborHTMLParser, page_url: str) -> str:
    """The URL links on the page resolve against: ``<base href>`` if it has one."""
    base = select_first(dom, "base[href]")
    href = base.attributes.get("href") if base is not None else None
    if href and href.strip():
        try:
            return urljoin(page_url, href.strip())
        except ValueError:
            logger.debug("ignoring unusable <base href=%r> on %s", href, page_url)
    return page_url


def _resolve(base: str, href: str | None) -> str | None:
    """``href`` resolved against ``base``; an absolute href is kept exactly as linked."""
    href = (href or "").strip()
    if not href or "{{" in href:  # empty, or an unrendered template placeholder
        return None
    try:
        if href.startswith(("https://", "http://")):
            # urlsplit only to reject what urljoin would (a broken "http://[x/"): it
            # raises only for brackets or a non-ASCII netloc, so the common href skips it.
            if not href.isascii() or "[" in href or "]" in href:
                urlsplit(href)
            return href  # the common case: skip urljoin's parse-and-rebuild
        if "/." not in href and _PLAIN_ROOT_PATH.fullmatch(href):
            site = _site_of(base)
            if site is not None:
                return site + href  # what urljoin gives, at an eighth of its cost
        return urljoin(base, href)
    except ValueError:
        return None


# A root-relative href ("/subject/1/") that urljoin would take unchanged: not
# "//host", no ";params", "?query" or "#fragment", no tab or newline (urlsplit
# drops them) and no "/." (urljoin resolves "." and ".." segments).
_PLAIN_ROOT_PATH = re.compile(r"/[^/;?#\t\r\n][^;?#\t\r\n]*")


@functools.lru_cache(maxsize=256)
def _site_of(base: str) -> str | None:
    """``scheme://netloc`` of an http(s) ``base`` as urljoin writes it, or None."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _parse_wants(text: str) -> int | None:
    match = _WANTS.search(text)
    if match is None:
        return None
    number = float(match.group(1).replace(",", ""))
    if match.group(2):  # "1.2万人想看"
        number *= 10_000
    return int(number)


def _parse_fields(lis: list[LexborNode]) -> dict[str, Any]:
    """Assign the ``li`` texts of one item to date / genre / region / wants."""
    fields: dict[str, Any] = {"date": None, "genre": None, "region": None, "wants": None}
    rest: list[str] = []
    for li in lis:
        text = _clean(li.text(deep=True))
        if text is None:
            continue
        if fields["wants"] is None and "人想看" in text:
            fields["wants"] = _parse_wants(text)
            continue
        rest.append(text)
    # The date is the first li that looks like one; failing that, the first li
    # when all three non-wants li are there (e.g. "待定" in the date slot).
    date_index = next((i for i, text in enumerate(rest) if _DATE_LIKE.search(text)), None)
    if date_index is None and len(rest) >= 3:
        date_index = 0
    if date_index is not None:
        fields["date"] = rest.pop(date_index)
    if rest:
        fields["genre"] = rest[0]
    if len(rest) > 1:
        fields["region"] = rest[1]
    return fields


# The three parts of an item, asked for in one query: selectolax 1.0.2 compiles a
# selector on every call, with a fresh memory pool each time (~17 k instructions,
# more than matching it against an item): three calls an item cost a generated list
# page 1.5 M instructions, more than parsing it (1.3 M). Their last compounds name
# different tags (a, img, li), so each node of the answer belongs to exactly one of
# them; the answer is in document order, as each query's own would be.
_ITEM_PARTS = "h3 a, a.thumb img, ul li"


def _item_parts(node: LexborNode) -> tuple[LexborNode | None, LexborNode | None,
                                           list[LexborNode]]:
    """``node.css_first("h3 a")``, ``node.css_first("a.thumb img")`` and
    ``node.css("ul li")``, from one query instead of three."""
    title: LexborNode | None = None
    thumb: LexborNode | None = None
    lis: list[LexborNode] = []
    for part in select_all(node, _ITEM_PARTS):
        tag = part.tag
        if tag == "li":
            lis.append(part)
        elif tag == "a":
            if title is None:
                title = part
        elif thumb is None:  # img
            thumb = part
    return title, thumb, lis


def _parse_item(node: LexborNode, base: str) -> tuple[dict[str, Any] | None, str]:
    """One ``div.item`` as a movie dict, or ``(None, reason)`` when it cannot be used."""
    title, thumb, lis = _item_parts(node)
    link = title if title is not None and "href" in title.attributes else None
    href = link.attributes.get("href") if link is not None else None
    if link is None:
        # Fall back to the poster link: it points at the same subject page.
        link = select_first(node, "a.thumb[href]")
        href = link.attributes.get("href") if link is not None else None
    url = _resolve(base, href)
    if link is None or url is None:
        return None, "no link"
    match = _SUBJECT_ID.search(url)
    if match is None:
        return None, f"link {url!r} has no /subject/<id>/"
    name = _clean(title.text(deep=True)) if title is not None else None
    thumb_src = None
    if thumb is not None:
        thumb_src = thumb.attributes.get("src") or thumb.attributes.get("data-src")
    item: dict[str, Any] = {"name": name}
    item.update(_parse_fields(lis))
    item["url"] = url
    item["subject_id"] = match.group(1)
    item["thumb_url"] = _resolve(base, thumb_src)
    return item, ""


def parse_list_page(dom: LexborHTMLParser, page_url: str) -> ListPage:
    """Every movie on a douban "upcoming" list page, plus a count of unusable items.

    Never raises on a malformed item: an item without a usable subject link is
    skipped and counted, a missing field is None.

    >>> page = parse_list_page(LexborHTMLParser(html), "https://movie.douban.com/cinema/later/chengdu/")
    >>> page.items[0]["subject_id"], page.skipped
    ('26848640', 0)
    """
    base = _base_url(dom, page_url)
    page = ListPage()
    for node in select_all(dom, "#showing-soon div.item"):
        item, reason = _parse_item(node, base)
        if item is None:
            page.skipped += 1
            page.skip_reasons.append(reason)
        else:
            page.items.append(item)
    if page.skipped:
        logger.warning(
            "%s: skipped %d of %d movie items (%s)",
            page_url,
            page.skipped,
            page.skipped + len(page.items),
            "; ".join(sorted(set(page.skip_reasons))),
        )
    return page


def parse_list(dom: LexborHTMLParser, page_url: str) -> list[dict[str, Any]]:
    """The movies on a douban list page, each with exactly ``LIST_FIELDS``.

    Items without a usable link are skipped and logged; use ``parse_list_page``
    to get their count.

    >>> parse_list(resp.dom, resp.url)[0]
    {'name': '教授与疯子', 'date': '12月24日', 'genre': '剧情 / 传记', 'region': '爱尔兰', ...}
    """
    return parse_list_page(dom, page_url).items


def page_city_title(dom: LexborHTMLParser) -> str | None:
    """The city a list page is for, from its ``<title>成都影讯</title>``: ``"成都"``.

    None when the title is not a ``<城市>影讯`` title (not a city list page).
    """
    title = select_first(dom, "title")
    text = _clean(title.text(deep=True)) if title is not None else None
    if text is None:
        return None
    match = _TITLE_CITY.match(text)
    return match.group(1) if match else None


def parse_poster(dom: LexborHTMLParser, page_url: str) -> str | None:
    """The full-size poster URL of a ``/subject/<id>/`` page, or None.

    Selects ``#mainpic img`` structurally, so the ``<img src="{{= img}}">`` inside
    the page's jQuery template script is never chosen.

    >>> parse_poster(resp.dom, resp.url)
    'https://img9.doubanio.com/view/photo/s_ratio_poster/public/p513344864.webp'
    """
    base: str | None = None  # looked up only for a relative src: a whole-DOM query

    def resolve(img: LexborNode) -> str | None:
        nonlocal base
        src = img.attributes.get("src")
        if base is None and src and not src.strip().startswith(("https://", "http://")):
            base = _base_url(dom, page_url)
        return _resolve(base or page_url, src)

    for selector in ('#mainpic img[rel="v:image"]', "#mainpic img"):
        # css_first stops at the poster, near the top of the page; css() would walk
        # the whole document (0.04 against 0.3 ms on a 44 KB page, more than half
        # of what parsing it costs). The full list only when the first one is unusable.
        first = select_first(dom, selector)
        if first is None:
            continue
        url = resolve(first)
        if url is not None:
            return url
        for img in select_all(dom, selector)[1:]:
            url = resolve(img)
            if url is not None:
                return url
    return None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def infer_release_date(text: str | None, today: date) -> date | None:
    """The release date ``text`` names, the year inferred if the page omits it.

    A month/day (``10月11日``, ``01月05日``) means its next occurrence on or after
    ``today`` (today itself counts), so in December ``01月05日`` is next January and
    ``2月29日`` is the next leap year's. A full date (``2020年01月05日``,
    ``2020-01-05``) is taken as written. None when no date can be read (``待定``).

    >>> infer_release_date("01月05日", date(2019, 12, 20))
    datetime.date(2020, 1, 5)
    """
    if not text:
        return None
    match = _ISO_LIKE.search(text)
    if match is not None:
        return _safe_date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    match = _MONTH_DAY.search(text)
    if match is None:
        return None
    month, day = int(match.group(2)), int(match.group(3))
    if match.group(1):
        return _safe_date(int(match.group(1)), month, day)
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    for year in range(today.year, min(today.year + _MAX_YEARS_AHEAD, date.max.year) + 1):
        candidate = _safe_date(year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
    return None  # e.g. 2月30日, or no such day before date.max


def is_douban_host(host: str | None) -> bool:
    """Whether ``host`` (``"name"`` or ``"name:port"``) is one of douban's own hosts.

    True for douban.com, its subdomains and the doubanio.com image hosts; the
    spider applies its polite defaults (browser User-Agent, ~2 s delay) only there.

    >>> is_douban_host("movie.douban.com:443"), is_douban_host("127.0.0.1:8080")
    (True, False)
    """
    if not host:
        return False
    name = host.strip().lower()
    if name.startswith("["):  # "[::1]:8080"
        return False
    name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    name = name.rstrip(".")
    return any(
        name == domain or name.endswith("." + domain) for domain in ("douban.com", "doubanio.com")
    )
