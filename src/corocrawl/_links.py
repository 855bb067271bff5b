"""Link extraction from HTML pages, and the scope rules of a generic crawl.

``extract_links`` turns a page's ``<a href>`` attributes into canonical absolute
URLs (``<base href>`` honoured, fragments dropped, duplicates removed), counting
the hrefs it had to skip. ``Scope`` decides which of them a crawl follows.

>>> links = extract_links(LexborHTMLParser(html), "https://example.com/docs/")
>>> scope = Scope.from_start_urls(["https://example.com/"], exclude=[r"\\.pdf$"])
>>> [url for url in links.urls if scope.allows(url)]
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser
from yarl import URL

from ._exceptions import UsageError
from ._request import canonical_url

logger = logging.getLogger(__name__)

_CRAWLABLE_SCHEMES = frozenset({"http", "https"})
# The URL standard strips ASCII tab and newline anywhere in an href; browsers do too.
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")


@dataclass(slots=True)
class Links:
    """The links of one page.

    ``urls``: canonical absolute http(s) URLs in document order, each once.
    ``malformed``: hrefs that could not be parsed (skipped, counted).
    ``other_scheme``: ``mailto:``, ``javascript:``, ``tel:`` and the like (skipped).
    ``nofollow``: links skipped because of ``rel=nofollow`` (only with respect_nofollow).
    """

    urls: list[str] = field(default_factory=list)
    malformed: int = 0
    other_scheme: int = 0
    nofollow: int = 0


def _clean_href(href: str) -> str:
    return href.strip().translate(_TAB_NEWLINE)


def base_url(dom: LexborHTMLParser, page_url: URL) -> URL:
    """The URL relative links on the page resolve against.

    The first ``<base href>`` wins (as in browsers); a malformed or non-http one
    is ignored and the page URL is used.
    """
    node = dom.css_first("base[href]")
    href = node.attributes.get("href") if node is not None else None
    if not href:
        return page_url
    try:
        base = page_url.join(URL(_clean_href(href)))
    except ValueError:
        return page_url
    if base.scheme not in _CRAWLABLE_SCHEMES or not base.host:
        return page_url
    return base


def resolve_link(base: URL, href: str, *, sort_query: bool = False) -> URL:
    """``href`` made absolute against ``base`` and canonical; ValueError if malformed.

    >>> str(resolve_link(URL("http://a.com/x/y"), "../z#top"))
    'http://a.com/z'
    """
    target = base.join(URL(_clean_href(href)))
    if target.scheme in _CRAWLABLE_SCHEMES:
        if not target.host:
            raise ValueError(f"no host in {href!r}")
        # Touch the port: yarl parses it lazily and raises here for "host:99999".
        _ = target.port
    return canonical_url(target, sort_query=sort_query)


def extract_links(
    dom: LexborHTMLParser,
    page_url: str,
    *,
    sort_query: bool = False,
    respect_nofollow: bool = False,
) -> Links:
    """All followable links of a parsed HTML page, canonical and de-duplicated.

    ``rel=nofollow`` on the link, or ``<meta name=robots content=nofollow>`` on the
    page, skips links only when ``respect_nofollow`` is set.
    """
    links = Links()
    page = URL(page_url)
    base = base_url(dom, page)
    if respect_nofollow and _page_is_nofollow(dom):
        links.nofollow = len(dom.css("a[href]"))
        return links
    seen: set[str] = set()
    for node in dom.css("a[href]"):
        href = node.attributes.get("href")
        if href is None:
            continue
        if respect_nofollow and "nofollow" in (node.attributes.get("rel") or "").lower().split():
            links.nofollow += 1
            continue
        try:
            target = resolve_link(base, href, sort_query=sort_query)
        except ValueError as exc:
            logger.debug("skipping malformed href %r on %s: %s", href, page_url, exc)
            links.malformed += 1
            continue
        if target.scheme not in _CRAWLABLE_SCHEMES:
            links.other_scheme += 1
            continue
        url = str(target)
        if url not in seen:
            seen.add(url)
            links.urls.append(url)
    return links


def _page_is_nofollow(dom: LexborHTMLParser) -> bool:
    for node in dom.css('meta[name="robots" i]'):
        tokens = re.split(r"[,\s]+", (node.attributes.get("content") or "").lower())
        if "nofollow" in tokens or "none" in tokens:
            return True
    return False


def compile_patterns(patterns: Iterable[str], option: str) -> tuple[re.Pattern[str], ...]:
    """Compile user regexes, or raise a one-line UsageError naming the bad one."""
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise UsageError(
                f"{option} {pattern!r} is not a valid regular expression ({exc}); "
                "quote it in the shell and check brackets and escapes"
            ) from None
    return tuple(compiled)


def normalise_domain(domain: str) -> str:
    """``Example.COM.`` → ``example.com``; a URL is accepted and reduced to its host."""
    text = domain.strip()
    host = (URL(text).host or "") if "://" in text else text.split("/", 1)[0].split(":", 1)[0]
    host = host.strip(".").lower()
    if not host:
        raise UsageError(f"--allow-domain {domain!r} is not a domain; give one like example.com")
    return host


@dataclass(frozen=True, slots=True)
class Scope:
    """Which URLs a generic crawl follows.

    A URL is in scope when its host is one of ``hosts`` (exactly) or a subdomain of
    one of ``domains``, it matches at least one ``include`` pattern (if any), and it
    matches no ``exclude`` pattern. Depth and page limits are the engine's.
    Scope is by host name, not port: ``127.0.0.1:8080`` and ``127.0.0.1:9090`` are
    the same site, ``localhost`` and ``127.0.0.1`` are not.
    """

    hosts: frozenset[str]
    domains: frozenset[str] = frozenset()
    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def from_start_urls(
        cls,
        start_urls: Sequence[str],
        *,
        allow_domains: Sequence[str] = (),
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> Scope:
        """The default scope: the start URLs' hosts, plus allowed domains and patterns."""
        hosts = frozenset((URL(u).host or "").lower() for u in start_urls)
        return cls(
            hosts=hosts - {""},
            domains=frozenset(normalise_domain(d) for d in allow_domains),
            include=compile_patterns(include, "--include"),
            exclude=compile_patterns(exclude, "--exclude"),
        )

    def host_allowed(self, host: str | None) -> bool:
        if not host:
            return False
        host = host.lower().rstrip(".")
        if host in self.hosts or host in self.domains:
            return True
        return any(host.endswith("." + domain) for domain in self.domains)

    def why_not(self, url: str) -> str | None:
        """None if ``url`` is in scope, else a short reason (for logs and counts)."""
        if not self.host_allowed(URL(url).host):
            return "off-site"
        if self.include and not any(p.search(url) for p in self.include):
            return "not included"
        if any(p.search(url) for p in self.exclude):
            return "excluded"
        return None

    def allows(self, url: str) -> bool:
        """True if the crawl should follow ``url``."""
        return self.why_not(url) is None
