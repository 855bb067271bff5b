"""The generic crawl: follow every in-scope link from the start URLs, record every page.

``corocrawl crawl URL`` runs this. It is an ordinary corocrawl spider (one
callback, ``page``) plus the parts a crawl of an unknown site needs:

- **scope** (``corocrawl._links.Scope``): same host by default, ``--allow-domain``,
  ``--include``/``--exclude`` patterns, ``--max-depth``, ``--max-pages``;
- **robots.txt** (``corocrawl._robots``): fetched once per site, as scheduled
  work: the first leased page of a site fetches it through the crawl's own
  fetcher while the host runs one request at a time, then the page goes back
  to the frontier for the host's spacing; other hosts go on meanwhile.
  Disallowed links are never requested (counted in ``stats.dropped["robots"]``);
  Crawl-delay sets the host's minimum spacing;
- **adaptive politeness** (``corocrawl._throttle``): on by default;
- **sitemaps** (``corocrawl._sitemaps``) as extra seeds with ``--sitemaps``;
- **archives**: ``--save-pages DIR`` and ``--warc FILE`` (``corocrawl._archive``).

Every fetched URL yields one page record (``PAGE_FIELDS``), failures included.
Given only ``db``, the crawl is stored there as ``corocrawl crawl --db`` stores it
(resumable; readable by ``status``, ``export`` and ``links``). Given ``redis``
(``corocrawl.redis.RedisOptions``), it is one worker of a shared crawl: the
frontier is in Redis and each page record, with its outlinks and redirect chain
as fields, is an item there; ``corocrawl collect --db`` rebuilds the tables.
Robots.txt, sitemaps and scope are each worker's own, from the same options,
so every worker applies the same rules:

>>> crawl = GenericCrawl(GenericOptions(["https://example.com/"]), db=Path("site.db"))
>>> result = await crawl.crawl()
>>> result.stats.summary_line()
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yarl import URL

from .._archive import PageSaver, WarcArchive, url_path_of
from .._config import CrawlConfig
from .._crawler import Crawler
from .._engine import FETCH, SKIP, Admission
from .._exceptions import StorageError, UsageError
from .._fetcher import Fetcher, FetchError
from .._links import Scope, extract_links
from .._request import Request, parse_url
from .._response import Response
from .._robots import CrawlGetter, RobotsPolicy, SideFetcher
from .._run import RunOutput
from .._sitemaps import Discovered, discover
from .._stats import CrawlStats
from .._throttle import AutoThrottle, CrawlPacer
from ..frontier import Frontier
from ..sinks import Item, ItemSink
from ..store import SqliteStore
from ._pagestore import LINKS_KEY, PAGE_FIELDS, REDIRECTS_KEY, PageStore

if TYPE_CHECKING:
    from ..redis import RedisOptions

logger = logging.getLogger(__name__)

__all__ = [
    "PAGE_FIELDS", "CrawlResult", "GenericCrawl", "GenericOptions", "page_host", "url_path_of",
]

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})
#: Bytes sniffed to tell a binary body (image, archive) from text.
_SNIFF = 1024


@dataclass(frozen=True, slots=True)
class GenericOptions:
    """What to crawl and how; each field is a ``corocrawl crawl`` flag."""

    start_urls: Sequence[str]
    allow_domains: Sequence[str] = ()
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    sort_query: bool = False
    respect_nofollow: bool = False
    ignore_robots: bool = False
    sitemaps: bool = False
    adaptive: bool = True
    target_concurrency: float = 2.0
    save_pages: Path | None = None
    warc: Path | None = None


@dataclass(slots=True)
class CrawlResult:
    """What a generic crawl did: the engine's stats plus its own counters."""

    stats: CrawlStats
    politeness: dict[str, dict[str, Any]] = field(default_factory=dict)
    malformed_links: int = 0
    robots_blocked: int = 0
    robots_fetches: int = 0
    sitemaps: Discovered | None = None
    saved_pages: int = 0
    warc_records: int = 0


def page_host(url: str) -> str:
    """The politeness slot key of a URL (``host:port``, as ``Request.host``)."""
    parsed = URL(url)
    return f"{parsed.host}:{parsed.port}"


def _is_binary(body: bytes) -> bool:
    head = body[:_SNIFF]
    return b"\x00" in head


def _title(resp: Response) -> str | None:
    node = resp.dom.css_first("title")
    if node is None:
        return None
    text = " ".join(node.text().split())
    return text[:500] or None


class GenericCrawl:
    """A crawl of any site: build it with options, then ``await crawl()``."""

    def __init__(
        self,
        options: GenericOptions,
        *,
        config: CrawlConfig | None = None,
        db: Path | None = None,
        sinks: Sequence[ItemSink] = (),
        frontier: Frontier | None = None,
        fresh: bool = False,
        redis: RedisOptions | None = None,
    ) -> None:
        if not options.start_urls:
            raise UsageError("give at least one start URL, like https://example.com/")
        if redis is not None and (db is not None or frontier is not None or sinks):
            raise UsageError("a shared crawl (redis) keeps its pages in Redis: "
                             "leave out db, frontier and sinks (collect them with --db)")
        self.redis = redis
        self.options = options
        self.start_urls = [str(parse_url(u)) for u in options.start_urls]
        self.scope = Scope.from_start_urls(
            self.start_urls,
            allow_domains=options.allow_domains,
            include=options.include,
            exclude=options.exclude,
        )
        if db is not None and frontier is None and not sinks:
            # Called from Python with just a path: store the crawl as `corocrawl crawl`
            # does, so it resumes and `corocrawl status`/`export`/`links` read it.
            store = SqliteStore(db, fresh=fresh, item_key="requested_url")
            frontier, sinks = store.frontier, [store.sink]
        base = config or CrawlConfig()
        # The user's --delay becomes a hard floor in the pacer, where it combines
        # with Crawl-delay; the engine's own jittered delay is not used twice.
        self.min_delay = base.delay
        self.config = replace(base, delay=0.0, allowed_domains=())
        self.store = PageStore(db, sinks, fresh=fresh)
        self.fresh = fresh
        self.frontier = frontier
        self.throttle = (
            AutoThrottle(target_concurrency=options.target_concurrency)
            if options.adaptive
            else None
        )
        self.result: CrawlResult | None = None
        self._robots: RobotsPolicy | None = None
        self._pacer: CrawlPacer | None = None
        self._seeds_blocked = 0
        self._saver: PageSaver | None = None
        self._warc: WarcArchive | None = None
        self._crawler: Crawler | None = None
        self._malformed = 0
        self._robots_blocked = 0
        self._skipped: Counter[str] = Counter()

    # -- running -----------------------------------------------------------------

    async def crawl(self, output: RunOutput | None = None) -> CrawlResult:
        """Run the crawl to the end and return its result.

        ``output``: what the engine run shows (progress, events); by default nothing
        but a warning when no page could be fetched.
        """
        opts = self.options
        cfg = self.config
        pacer = self._pacer = CrawlPacer(self.throttle, floor=self._floor,
                                         limit=self._robots_limit, jitter=cfg.jitter)
        async with SideFetcher(
            user_agent=cfg.user_agent, headers=cfg.headers, proxy=cfg.proxy,
            trust_env=cfg.trust_env,
        ) as side:
            robots = self._robots = RobotsPolicy(
                side, user_agent=cfg.user_agent, enabled=not opts.ignore_robots
            )
            # robots.txt of the start sites is fetched by the crawl itself (before_fetch).
            seeds = [Request(url, "page") for url in self.start_urls]
            found = (await discover(side, robots, self.start_urls, allow=self._why_not_read)
                     if opts.sitemaps else None)
            if found is not None:
                seeds.extend(await self._sitemap_seeds(found))
            if opts.save_pages is not None:
                self._saver = PageSaver(opts.save_pages)
            if opts.warc is not None:
                # In a thread: resuming checks the end of a WARC that may be gigabytes.
                self._warc = await asyncio.to_thread(WarcArchive, opts.warc, fresh=self.fresh)
            crawler = self._crawler = Crawler(
                self.config,
                frontier=self.frontier,
                sinks=[self.store],
                item_key="requested_url",
                pacer=pacer,
                on_failure=self._failed,
                before_fetch=self._before_fetch,
                redirect_check=self._why_not_fetch,
            )
            crawler.handler(self.page)
            crawler.add_start(*seeds)
            try:
                # The runner every spider shares: ``output`` says what it shows
                # (the command: progress and --log-json events; its own summary).
                # Shared: the runner puts the frontier, slots and items in Redis.
                stats = await crawler._crawl_into(redis=self.redis, output=output)
            finally:
                if self._warc is not None:
                    await self._warc.close()
            stats.dropped["robots"] += self._robots_blocked
            stats.dropped.update(self._skipped)
            if stats.pages == 0 and self._seeds_blocked >= len(self.start_urls):
                raise UsageError(
                    "every start URL is disallowed by robots.txt; "
                    "add --ignore-robots if you are allowed to crawl it"
                )
            self.result = CrawlResult(
                stats=stats,
                politeness=pacer.report(),
                malformed_links=self._malformed,
                robots_blocked=self._robots_blocked,
                robots_fetches=robots.fetches,
                sitemaps=found,
                saved_pages=self._saver.saved if self._saver else 0,
                warc_records=self._warc.records if self._warc else 0,
            )
        return self.result

    @property
    def stats(self) -> CrawlStats | None:
        """The running crawl's live counters (None before it starts), for progress displays."""
        return self._crawler.stats if self._crawler is not None else None

    def stop(self, reason: str = "stopped") -> None:
        """Stop gracefully: no new requests; pages in flight are finished and recorded."""
        if self._crawler is not None:
            self._crawler.stop(reason)

    def _floor(self, host: str) -> float:
        crawl_delay = self._robots.crawl_delay(host) if self._robots is not None else 0.0
        return max(self.min_delay, crawl_delay)

    def _robots_limit(self, host: str) -> int | None:
        """One request at a time on a host until its robots.txt is known."""
        robots = self._robots
        if robots is None or not robots.enabled or robots.knows_slot(host):
            return None
        return 1

    async def _before_fetch(self, request: Request, fetcher: Fetcher) -> Admission:
        """The engine's hook: obey robots.txt, fetching it first for a new site."""
        robots = self._robots
        assert robots is not None and self._pacer is not None
        if not robots.enabled:
            return FETCH
        rules = robots.cached(request.url)
        fetched_now = rules is None
        if rules is None:
            rules = await robots.rules_for(request.url, via=CrawlGetter(fetcher))
        reason = robots.reason(rules, request.url)
        if reason is not None:
            self._robots_blocked += 1
            if request.depth == 0:
                logger.warning("start URL %s skipped: %s", request.url, reason)
                self._seeds_blocked += 1
            return SKIP
        if fetched_now:
            # robots.txt was this host's request: the page waits for the host's spacing.
            spacing = self._pacer.spacing(request.host)
            if spacing > 0:
                return Admission(later=spacing)
        return FETCH

    async def _why_not_fetch(self, url: str) -> str | None:
        """None if ``url`` may be requested, else why not: scope, then robots.txt.

        The rule links follow, applied to what a crawl requests besides its
        links: redirect targets (``Scope.why_not`` as for a link) and sitemap files
        (``_why_not_read``).
        """
        reason = self.scope.why_not(url)
        if reason is not None:
            self._skipped[reason] += 1
            return reason
        return await self._robots_forbid(url)

    async def _why_not_read(self, url: str) -> str | None:
        """None if a sitemap at ``url`` may be read: the scope's hosts and robots.txt.

        ``--include``/``--exclude`` select pages, not sitemap files, so they do not apply.
        """
        if not self.scope.host_allowed(URL(url).host):
            self._skipped["off-site"] += 1
            return "off-site"
        return await self._robots_forbid(url)

    async def _robots_forbid(self, url: str) -> str | None:
        assert self._robots is not None
        if not await self._robots.allowed(url):
            self._robots_blocked += 1
            return "disallowed by robots.txt"
        return None

    async def _sitemap_seeds(self, found: Discovered) -> list[Request]:
        assert self._robots is not None
        seeds = []
        for loc in found.urls:
            try:
                url = str(parse_url(loc))
            except UsageError:
                self._malformed += 1
                continue
            if not self.scope.allows(url):
                continue
            if not await self._robots.allowed(url):
                self._robots_blocked += 1
                continue
            seeds.append(Request(url, "page"))
        return seeds

    # -- the callback and the failure hook ----------------------------------------

    async def page(self, resp: Response) -> Any:
        """The callback of every page: record it, archive it, follow its links."""
        request = resp.request
        record = self._record(request, resp)
        errors: list[str] = []
        if resp.truncated:
            errors.append(f"body cut at the {self.config.max_body}-byte size limit")
        ctype = resp.content_type
        children: list[Request] = []
        if ctype in _HTML_TYPES and _is_binary(resp.body):
            errors.append(f"binary body served as {ctype or 'no content type'}; not parsed")
        elif ctype in _HTML_TYPES:
            record["title"] = _title(resp)
            children = await self._follow(resp, record)
        record["error"] = "; ".join(errors) or None
        await self._archive(resp, record)
        yield record
        for child in children:
            yield child

    async def _follow(self, resp: Response, record: Item) -> list[Request]:
        opts = self.options
        links = extract_links(
            resp.dom,
            resp.url,
            sort_query=opts.sort_query,
            respect_nofollow=opts.respect_nofollow,
        )
        self._malformed += links.malformed
        in_scope = []
        for url in links.urls:
            reason = self.scope.why_not(url)
            if reason is None:
                in_scope.append(url)
            else:
                self._skipped[reason] += 1
        record["links_out"] = len(in_scope)
        record[LINKS_KEY] = in_scope
        depth = resp.request.depth + 1
        max_depth = self.config.max_depth
        if max_depth is not None and depth > max_depth:
            self._skipped["max_depth"] += len(in_scope)
            return []
        robots = self._robots
        assert robots is not None
        children = []
        for url in in_scope:
            # A site whose rules are known is checked now; a new one when leased.
            rules = robots.cached(url) if robots.enabled else None
            if rules is not None and robots.reason(rules, url) is not None:
                self._robots_blocked += 1
                continue
            children.append(Request(url, "page", depth=depth, referrer=resp.url))
        return children

    def _record(self, request: Request, resp: Response | None) -> Item:
        record: Item = {
            "url": resp.url if resp is not None else request.url,
            "requested_url": request.url,
            "status": resp.status if resp is not None else None,
            "content_type": (resp.content_type or None) if resp is not None else None,
            "title": None,
            "depth": request.depth,
            "referrer": request.referrer,
            "bytes": len(resp.body) if resp is not None else 0,
            "elapsed_ms": round(resp.elapsed * 1000, 1) if resp is not None else None,
            "links_out": 0,
            "error": None,
        }
        if resp is not None and resp.redirects:
            record[REDIRECTS_KEY] = [*resp.redirects, resp.url]
        return record

    async def _failed(self, request: Request, exc: FetchError) -> list[Item]:
        """The engine's on_failure hook: a record for a request that failed for good."""
        resp = exc.response
        record = self._record(request, resp)
        record["error"] = f"{exc.kind}: {exc.message}"[:300]
        if resp is not None:
            await self._archive(resp, record)
        return [record]

    async def _archive(self, resp: Response, record: Item) -> None:
        """Write the page to the WARC file and the --save-pages folder.

        A full disk (``StorageError``) is not this page's fault: it propagates, and
        the engine stops the crawl without acknowledging the page, so the next
        run fetches it again.
        """
        try:
            if self._warc is not None:
                await self._warc.write(
                    url=resp.url,
                    status=resp.status,
                    response_headers=resp.headers,
                    body=resp.body,
                    request_headers={"User-Agent": self.config.user_agent},
                    truncated=resp.truncated,
                )
            if self._saver is not None and 200 <= resp.status < 300:
                await self._saver.save(resp.url, resp.content_type, resp.body)
        except StorageError:
            raise
        except (OSError, ValueError) as exc:  # this page's file, not the disk: note it, go on
            note = f"not saved: {getattr(exc, 'strerror', None) or exc}"
            record["error"] = "; ".join(filter(None, [record.get("error"), note]))
