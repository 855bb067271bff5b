"""Sitemaps: seed a crawl with the URLs a site lists for crawlers.

Where they come from: the ``Sitemap:`` lines of each start site's robots.txt, and
``/sitemap.xml`` at the site root. A sitemap is a ``<urlset>`` of page URLs or a
``<sitemapindex>`` of further sitemaps (followed, a few levels deep), optionally
gzip-compressed (``.xml.gz``), or a plain text list of URLs.

Everything is bounded: the number of sitemaps read, the URLs kept, the bytes
downloaded and the bytes after decompression (a "zip bomb" stops at the cap).
XML with a DOCTYPE is refused, so entity tricks never reach the parser.

>>> found = await discover(fetcher, robots, ["https://example.com/"])
>>> found.urls[:2]
['https://example.com/', 'https://example.com/about']
"""

from __future__ import annotations

import io
import logging
import re
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal
from xml.etree import ElementTree

from yarl import URL

from ._robots import RobotsPolicy, SideFetcher

logger = logging.getLogger(__name__)

#: The sitemap protocol's own limits: 50,000 URLs and 50 MB uncompressed per file.
SITEMAP_MAX_BYTES = 50 * 1024 * 1024
SITEMAP_MAX_URLS = 50_000

SitemapKind = Literal["urlset", "index", "text", "invalid"]
_GZIP_MAGIC = b"\x1f\x8b"
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


class SitemapError(ValueError):
    """A sitemap that cannot be read; the message says why."""


@dataclass(slots=True)
class Sitemap:
    """One parsed sitemap file: page URLs (``urlset``/``text``) or sitemap URLs (``index``)."""

    kind: SitemapKind
    locs: list[str] = field(default_factory=list)


def gunzip_bounded(data: bytes, max_bytes: int = SITEMAP_MAX_BYTES) -> bytes:
    """Decompress gzip ``data``, refusing to produce more than ``max_bytes``."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise SitemapError(f"bad gzip data: {exc}") from None
    if len(out) > max_bytes:
        raise SitemapError(f"gzip sitemap expands beyond {max_bytes} bytes")
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _namespace(tag: str) -> str:
    """``{http://www.sitemaps.org/schemas/sitemap/0.9}loc`` → its namespace; ``loc`` → ""."""
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def parse_sitemap(data: bytes, *, max_urls: int = SITEMAP_MAX_URLS) -> Sitemap:
    """Parse a sitemap (XML urlset or index, gzip or not, or plain text lines).

    >>> parse_sitemap(b"<urlset><url><loc>https://a.com/x</loc></url></urlset>")
    Sitemap(kind='urlset', locs=['https://a.com/x'])
    """
    if data[:2] == _GZIP_MAGIC:
        data = gunzip_bounded(data)
    head = data.lstrip()[:1]
    if head != b"<":
        return _parse_text(data, max_urls)
    if _DOCTYPE.search(data[:4096]) or _DOCTYPE.search(data):
        raise SitemapError("sitemap XML with a DOCTYPE or ENTITY is not accepted")
    kind: SitemapKind = "invalid"
    locs: list[str] = []
    # Only <url><loc> and <sitemap><loc> in the sitemap's own namespace are entries:
    # extensions nest their own <image:loc>, <video:loc>… inside <url>, and those are
    # pictures and films, not pages.
    sitemap_ns: str | None = None
    open_tags: list[str] = []
    try:
        for event, elem in ElementTree.iterparse(io.BytesIO(data), events=("start", "end")):
            name = _local(elem.tag)
            if event == "start":
                open_tags.append(elem.tag)
                if kind == "invalid" and name in ("urlset", "sitemapindex"):
                    kind = "urlset" if name == "urlset" else "index"
                    sitemap_ns = _namespace(elem.tag)
                continue
            open_tags.pop()
            parent = open_tags[-1] if open_tags else ""
            if (name == "loc" and _namespace(elem.tag) == sitemap_ns
                    and _local(parent) in ("url", "sitemap") and _namespace(parent) == sitemap_ns
                    and elem.text and elem.text.strip()):
                locs.append(elem.text.strip())
                if len(locs) >= max_urls:
                    logger.warning("sitemap lists more than %d URLs: keeping the first", max_urls)
                    break
            elif name in ("url", "sitemap"):
                elem.clear()  # keep memory flat on 50,000-entry files
    except ElementTree.ParseError as exc:
        raise SitemapError(f"not well-formed XML: {exc}") from None
    if kind == "invalid":
        raise SitemapError("XML root is neither <urlset> nor <sitemapindex>")
    return Sitemap(kind, locs)


def _parse_text(data: bytes, max_urls: int) -> Sitemap:
    locs = []
    for raw in data.decode("utf-8", errors="replace").splitlines():
        line = raw.strip()
        if line.startswith(("http://", "https://")):
            locs.append(line)
            if len(locs) >= max_urls:
                break
    if not locs:
        raise SitemapError("neither XML nor a list of http(s) URLs")
    return Sitemap("text", locs)


@dataclass(slots=True)
class Discovered:
    """What ``discover`` found: page URLs (in order, each once) and what it read."""

    urls: list[str] = field(default_factory=list)
    sitemaps_read: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


async def discover(
    fetcher: SideFetcher,
    robots: RobotsPolicy,
    start_urls: Sequence[str],
    *,
    max_sitemaps: int = 200,
    max_urls: int = 1_000_000,
    max_index_depth: int = 3,
    allow: Callable[[str], Awaitable[str | None]] | None = None,
) -> Discovered:
    """Read the sitemaps of the start URLs' sites and return the page URLs they list.

    Candidates per site: its robots.txt ``Sitemap:`` lines, else ``/sitemap.xml``.
    Sitemap indexes are followed up to ``max_index_depth`` levels. Errors (404,
    bad XML) are collected, never raised: sitemaps are a hint, not a requirement.
    ``allow`` (the crawl's scope and robots.txt check: None, or why not) is asked
    before each sitemap is fetched; a refused one is listed in ``errors``.
    """
    found = Discovered()
    seen_pages: set[str] = set()
    seen_maps: set[str] = set()
    queue: list[tuple[str, int]] = []
    for site in dict.fromkeys(f"{URL(u).scheme}://{URL(u).raw_authority}" for u in start_urls):
        listed = await robots.sitemaps(site + "/")
        for sitemap_url in listed or [site + "/sitemap.xml"]:
            queue.append((sitemap_url, 0))
    while queue and len(found.sitemaps_read) < max_sitemaps and len(found.urls) < max_urls:
        sitemap_url, level = queue.pop(0)
        if sitemap_url in seen_maps:
            continue
        seen_maps.add(sitemap_url)
        reason = await allow(sitemap_url) if allow is not None else None
        if reason is not None:
            found.errors.append((sitemap_url, f"{reason}: not fetched"))
            continue
        fetched = await fetcher.get(sitemap_url, max_bytes=SITEMAP_MAX_BYTES, allow=allow)
        found.sitemaps_read.append(sitemap_url)
        if fetched.status is None or not 200 <= fetched.status < 300:
            reason = fetched.error or f"HTTP {fetched.status}"
            found.errors.append((sitemap_url, reason))
            continue
        if fetched.truncated:  # cut XML is not well-formed: say why instead
            found.errors.append((sitemap_url, f"larger than {SITEMAP_MAX_BYTES} bytes"))
            continue
        try:
            sitemap = parse_sitemap(fetched.body)
        except SitemapError as exc:
            found.errors.append((sitemap_url, str(exc)))
            continue
        if sitemap.kind == "index":
            if level >= max_index_depth:
                too_deep = f"sitemap index nested deeper than {max_index_depth}"
                found.errors.append((sitemap_url, too_deep))
                continue
            base = URL(fetched.url)
            for loc in sitemap.locs:
                try:
                    queue.append((str(base.join(URL(loc))), level + 1))
                except ValueError:
                    found.errors.append((loc, "malformed sitemap URL"))
            continue
        for loc in sitemap.locs:
            if loc not in seen_pages:
                seen_pages.add(loc)
                found.urls.append(loc)
                if len(found.urls) >= max_urls:
                    break
    logger.info(
        "sitemaps: read %d, found %d URLs, %d errors",
        len(found.sitemaps_read), len(found.urls), len(found.errors),
    )
    return found
