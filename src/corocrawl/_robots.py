"""robots.txt: fetched once per site, obeyed with protego.

One ``RobotsPolicy`` serves a whole crawl. The first URL of a site (scheme, host,
port) fetches ``/robots.txt``; every other URL of that site waits for that one
fetch instead of starting its own. In a generic crawl the fetch is scheduled
work: the engine's ``before_fetch`` hook loads the rules of a leased page's
site through the crawl's own ``Fetcher`` (``CrawlGetter``: one session, one
pool) while the frontier lets only that one request of the host run, so a
host's pages wait for its robots.txt and other hosts go on. Rules are kept for
the ``max_sites`` most recently used sites (a site forgotten is fetched again);
a robots.txt that allows everything is kept without its parsed form (a parser
costs ~1.3 KB a site, which was most of a broad crawl's per-host memory).
Rules follow RFC 9309:

- 2xx: parse it (the first 512 KiB; protego does the matching, Allow/Disallow
  with longest match, ``*`` and ``$``, and ``Crawl-delay``);
- 4xx (no robots.txt): everything is allowed;
- 5xx: the site is treated as fully disallowed for this crawl (the RFC's rule
  for an unreachable robots.txt), and pages say so in their ``error``;
- connection failure: allowed — the page fetch itself then fails with the real
  reason, which is more useful to the user than "robots.txt unreachable".

>>> robots = RobotsPolicy(fetcher, user_agent="corocrawl/0.1")
>>> await robots.allowed("https://example.com/private/x")
False
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from protego import Protego
from yarl import URL

from ._fetcher import Fetcher, FetchError, read_capped
from ._request import Request

logger = logging.getLogger(__name__)

#: RFC 9309 asks crawlers to parse at least 500 KiB.
ROBOTS_MAX_BYTES = 512 * 1024
#: Redirects a side fetch follows (RFC 9309: at least five for robots.txt).
_MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Fields that cannot forbid anything, delay or name a sitemap on their own.
_HARMLESS_FIELDS = frozenset({"user-agent", "useragent", "user agent", "allow"})


def allows_everything(text: str) -> bool:
    """True if a robots.txt has only User-agent, Allow and empty Disallow lines.

    Such a file forbids nothing and asks for no delay, so a site's rules need no
    parser. Anything else (an unknown field, a line without ':', a misspelt
    Disallow) keeps the parser: this only skips what is certainly harmless.

    >>> allows_everything("User-agent: *\\nAllow: /  # all\\nDisallow:\\n")
    True
    >>> allows_everything("User-agent: *\\nDisallow: /private\\n")
    False
    """
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip().lstrip("\ufeff")
        if not line:
            continue
        field, colon, value = line.partition(":")
        field = field.strip().lower()
        if not colon:
            return False
        if field in _HARMLESS_FIELDS or (field == "disallow" and not value.strip()):
            continue
        return False
    return True


@dataclass(frozen=True, slots=True)
class Fetched:
    """A small side fetch (robots.txt, sitemaps): status None means no answer."""

    url: str
    status: int | None
    body: bytes
    error: str | None = None
    truncated: bool = False


class Getter(Protocol):
    """Something that GETs a small file: ``SideFetcher`` or ``CrawlGetter``."""

    async def get(self, url: str, *, max_bytes: int) -> Fetched: ...


class CrawlGetter:
    """GETs through the crawl's own ``Fetcher``: same session, pool and limits as pages."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher

    async def get(self, url: str, *, max_bytes: int) -> Fetched:
        try:
            response = await self._fetcher.fetch(Request(url, dont_filter=True))
        except FetchError as exc:
            return Fetched(url, None, b"", f"{exc.kind}: {exc.message}")
        body = response.body
        truncated = response.truncated or len(body) > max_bytes
        return Fetched(response.url, response.status, body[:max_bytes], None, truncated)


class SideFetcher:
    """GETs the small files a crawl reads besides pages: robots.txt and sitemaps.

    It has its own session so it never takes a page fetch's slot; it fetches at
    most once per site for robots.txt and a bounded number of sitemaps.
    """

    def __init__(
        self, *, user_agent: str, timeout: float = 20.0,
        headers: tuple[tuple[str, str], ...] = (), proxy: str | None = None,
        trust_env: bool = True,
    ) -> None:
        self._user_agent = user_agent
        # The crawl's own headers and proxy: a site behind a proxy has its sitemaps there too.
        self._headers = headers
        self._proxy = proxy
        self._trust_env = trust_env
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self.fetches = 0

    async def __aenter__(self) -> SideFetcher:
        self._session = aiohttp.ClientSession(
            timeout=self._timeout, headers={"User-Agent": self._user_agent, **dict(self._headers)},
            trust_env=self._trust_env,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(
        self, url: str, *, max_bytes: int,
        allow: Callable[[str], Awaitable[str | None]] | None = None,
    ) -> Fetched:
        """GET ``url``, keeping at most ``max_bytes`` of the body; never raises for HTTP trouble.

        With ``allow`` (the crawl's scope check: None, or why not), a redirect is
        followed only to a target it accepts; otherwise aiohttp follows up to 5.
        """
        if self._session is None:
            raise RuntimeError("SideFetcher used outside 'async with'")
        self.fetches += 1
        try:
            for _ in range(_MAX_REDIRECTS + 1):
                async with self._session.get(
                    url, allow_redirects=allow is None, max_redirects=_MAX_REDIRECTS,
                    proxy=self._proxy,
                ) as resp:
                    location = resp.headers.get("Location") if resp.status in _REDIRECTS else None
                    if allow is None or not location:
                        body, truncated = await read_capped(resp, max_bytes)
                        return Fetched(str(resp.url), resp.status, body, None, truncated)
                    target = str(resp.url.join(URL(location.strip())))
                reason = await allow(target)
                if reason is not None:
                    return Fetched(url, None, b"", f"redirected to {target} ({reason}); "
                                   "not followed")
                url = target
            return Fetched(url, None, b"", f"more than {_MAX_REDIRECTS} redirects")
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            reason = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
            return Fetched(url, None, b"", reason)


def site_of(url: str | URL) -> str:
    """The robots.txt key of a URL: ``scheme://host:port``."""
    parsed = url if isinstance(url, URL) else URL(url)
    return f"{parsed.scheme}://{parsed.host}:{parsed.port}"


@dataclass(frozen=True, slots=True)
class SiteRules:
    """What one site's robots.txt says; ``parser`` None means no rules (allow all)."""

    site: str
    status: int | None
    parser: Protego | None = None
    disallow_all: bool = False

    def can_fetch(self, url: str, user_agent: str) -> bool:
        if self.disallow_all:
            return False
        if self.parser is None:
            return True
        return bool(self.parser.can_fetch(url, user_agent))

    def crawl_delay(self, user_agent: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(user_agent)
        rate = self.parser.request_rate(user_agent)
        if rate is not None and rate.requests:
            # "Request-rate: 1/5" means one request per five seconds.
            per_request = rate.seconds / rate.requests
            delay = max(delay or 0.0, per_request)
        return float(delay) if delay else None

    @property
    def sitemaps(self) -> list[str]:
        return list(self.parser.sitemaps) if self.parser is not None else []


class RobotsPolicy:
    """robots.txt for every site of a crawl, each fetched once and cached."""

    def __init__(
        self,
        fetcher: Getter,
        *,
        user_agent: str,
        enabled: bool = True,
        max_crawl_delay: float = 60.0,
        max_sites: int = 10_000,
    ) -> None:
        self._fetcher = fetcher
        self.user_agent = user_agent
        self.enabled = enabled
        # A site asking for an hour between requests would make the crawl never end.
        self.max_crawl_delay = max_crawl_delay
        self.max_sites = max(1, max_sites)
        self.fetches = 0
        # Most recently used last; past max_sites the least recent is forgotten.
        self._rules: OrderedDict[str, SiteRules] = OrderedDict()
        self._loading: dict[str, asyncio.Lock] = {}  # only while a fetch is running
        self._delay_by_slot: OrderedDict[str, float] = OrderedDict()

    def knows_slot(self, slot: str) -> bool:
        """True if the rules of ``host:port`` (http or https) are known."""
        return f"http://{slot}" in self._rules or f"https://{slot}" in self._rules

    def cached(self, url: str) -> SiteRules | None:
        """The rules of ``url``'s site if they are known, without fetching."""
        site = site_of(url)
        rules = self._rules.get(site)
        if rules is not None:
            self._rules.move_to_end(site)
        return rules

    async def rules_for(self, url: str, *, via: Getter | None = None) -> SiteRules:
        """The rules of ``url``'s site, fetching robots.txt (through ``via``) on first use."""
        rules = self.cached(url)
        if rules is not None:
            return rules
        site = site_of(url)
        # One fetch per site: later callers wait on the lock, then find the cache filled.
        lock = self._loading.setdefault(site, asyncio.Lock())
        try:
            async with lock:
                rules = self._rules.get(site)
                if rules is None:
                    rules = await self._load(site, via or self._fetcher)
                    self._remember(site, rules)
        finally:
            if not lock.locked():
                self._loading.pop(site, None)
        return rules

    def _remember(self, site: str, rules: SiteRules) -> None:
        self._rules[site] = rules
        if len(self._rules) > self.max_sites:
            self._rules.popitem(last=False)
        delay = rules.crawl_delay(self.user_agent)
        slot = site.split("://", 1)[1]
        if delay:
            self._delay_by_slot[slot] = min(delay, self.max_crawl_delay)
            if len(self._delay_by_slot) > self.max_sites:
                self._delay_by_slot.popitem(last=False)
        else:
            self._delay_by_slot.pop(slot, None)

    async def _load(self, site: str, getter: Getter) -> SiteRules:
        self.fetches += 1
        fetched = await getter.get(f"{site}/robots.txt", max_bytes=ROBOTS_MAX_BYTES)
        status = fetched.status
        if status is None:
            logger.info("robots.txt of %s unreachable (%s): allowing", site, fetched.error)
            return SiteRules(site, None)
        if 200 <= status < 300:
            if fetched.truncated:
                logger.warning("robots.txt of %s is larger than %d bytes: obeying the first "
                               "%d only", site, ROBOTS_MAX_BYTES, ROBOTS_MAX_BYTES)
            text = fetched.body.decode("utf-8", errors="replace")
            parser = None if allows_everything(text) else Protego.parse(text)
            rules = SiteRules(site, status, parser)
        elif 400 <= status < 500:
            rules = SiteRules(site, status)
        elif status >= 500:
            logger.warning("robots.txt of %s answered %d: site treated as disallowed", site, status)
            rules = SiteRules(site, status, disallow_all=True)
        else:  # 1xx/3xx left after redirects: no usable file
            rules = SiteRules(site, status)
        return rules

    async def allowed(self, url: str) -> bool:
        """True if robots.txt lets us fetch ``url`` (always True with ``enabled=False``)."""
        if not self.enabled:
            return True
        rules = await self.rules_for(url)
        return rules.can_fetch(url, self.user_agent)

    async def why_not(self, url: str, *, via: Getter | None = None) -> str | None:
        """None if allowed, else a short reason for the page record."""
        if not self.enabled:
            return None
        return self.reason(await self.rules_for(url, via=via), url)

    def reason(self, rules: SiteRules, url: str) -> str | None:
        """None if ``rules`` allow ``url``, else a short reason."""
        if rules.can_fetch(url, self.user_agent):
            return None
        if rules.disallow_all:
            return f"robots.txt unavailable (HTTP {rules.status}): site treated as disallowed"
        return "disallowed by robots.txt"

    def crawl_delay(self, slot: str) -> float:
        """The Crawl-delay (seconds) for a ``host:port`` slot; 0 if none or not known yet."""
        if not self.enabled:
            return 0.0
        return self._delay_by_slot.get(slot, 0.0)

    async def sitemaps(self, url: str) -> list[str]:
        """The ``Sitemap:`` URLs in the robots.txt of ``url``'s site (fetched even if disabled)."""
        rules = await self.rules_for(url)
        return rules.sitemaps
