"""Fetching: one aiohttp session per crawl, with timeouts, size caps and error kinds.

Retries are not done here. A failed fetch raises ``FetchError`` saying whether
it is worth retrying; the engine puts the request back into the frontier with a
``not_before`` time, so a waiting retry holds no worker and no connection.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

import aiohttp
from yarl import URL

from ._config import CrawlConfig
from ._environ import EnvAuth
from ._request import Request
from ._response import Response

#: Whether a redirect target may be requested: None if so, else the reason it may not.
RedirectCheck = Callable[[str], Awaitable[str | None]]
#: Statuses worth another try: the server may answer differently later.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
#: Statuses with which sites refuse crawlers (418 is douban's answer to bots).
BLOCK_STATUSES = frozenset({403, 418})
#: FetchError kinds raised with retryable=True that are not an HTTP status.
TRANSIENT_KINDS = frozenset({"timeout", "connect", "disconnect", "protocol", "client"})


def worth_retrying(kind: str) -> bool:
    """Whether a failure of this ``kind`` may succeed unchanged on another try.

    >>> worth_retrying("http_503"), worth_retrying("http_404")
    (True, False)
    """
    if kind in TRANSIENT_KINDS:
        return True
    status = kind.removeprefix("http_")
    return kind.startswith("http_") and status.isdigit() and int(status) in RETRY_STATUSES


class FetchError(Exception):
    """A request that produced no usable response.

    ``kind`` is a short machine-readable reason (``timeout``, ``connect``,
    ``http_503`` …) used in stats and the summary.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        #: The error page, when there was an answer (set by the engine for on_failure hooks).
        self.response: Response | None = None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date).

    >>> parse_retry_after("120")
    120.0
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


#: Idle keep-alive sockets allowed beyond ``concurrency`` when every slot is busy.
IDLE_SOCKETS_SLACK = 8


class PooledConnector(aiohttp.TCPConnector):
    """A ``TCPConnector`` whose open sockets stay under ``limit + idle_slack``.

    aiohttp caps only the connections in use; idle keep-alive ones are kept per
    host until ``keepalive_timeout``, so a crawl of thousands of hosts holds
    thousands of idle sockets (17,575 at peak in the 20,000-host measurement;
    "too many open files" under ``ulimit -n 1024``). After each release, and
    before each new connection, the oldest idle sockets are closed until in-use
    + idle fits. aiohttp has no public knob for this, so it reads the pool
    (``_conns``, ``_acquired``) and hooks ``_release`` and ``_create_connection``;
    if a future aiohttp renames them it degrades to aiohttp's own behaviour.
    """

    def __init__(self, *, idle_slack: int = IDLE_SOCKETS_SLACK, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.idle_slack = idle_slack

    def open_sockets(self) -> int:
        """Sockets in use (or being connected) plus idle ones kept alive."""
        pool = getattr(self, "_conns", None)
        acquired = getattr(self, "_acquired", None)
        if not isinstance(pool, dict) or acquired is None:
            return 0
        return len(acquired) + sum(len(conns) for conns in pool.values())

    def _trim_idle(self) -> None:
        """Close the oldest idle sockets until in-use + idle fits ``limit + idle_slack``."""
        pool = getattr(self, "_conns", None)
        acquired = getattr(self, "_acquired", None)
        if not isinstance(pool, dict) or acquired is None or not self.limit:
            return
        room = max(0, self.limit + self.idle_slack - len(acquired))
        idle = sum(len(conns) for conns in pool.values())
        # Bounded: each round closes one idle socket.
        while idle > room:
            oldest_key = min(pool, key=lambda k: pool[k][0][1])
            conns = pool[oldest_key]
            idle_protocol = conns[0][0]
            del conns[0]
            if not conns:
                del pool[oldest_key]
            idle_protocol.close()
            idle -= 1

    def _release(self, key: Any, protocol: Any, *, should_close: bool = False) -> None:
        super()._release(key, protocol, should_close=should_close)
        self._trim_idle()

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:
        # A new socket (its slot is already counted in use) makes room first:
        # trimming only on release let idle sockets pile up while new hosts were
        # being connected (106 open at concurrency 64 on 20,000 hosts).
        self._trim_idle()
        return await super()._create_connection(req, traces, timeout)


class Fetcher:
    """Owns the crawl's ``aiohttp.ClientSession``; use it with ``async with``."""

    def __init__(self, config: CrawlConfig, *, redirect_check: RedirectCheck | None = None) -> None:
        self.config = config
        #: Decides whether a redirect target may be requested: None, or the reason not.
        self.redirect_check = redirect_check
        self._session: aiohttp.ClientSession | None = None
        self._env: EnvAuth | None = None

    async def __aenter__(self) -> Self:
        cfg = self.config
        # The total is an asyncio.timeout() around each fetch (redirects included),
        # so that a timeout says which limit fired.
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=cfg.timeouts.connect, sock_read=cfg.timeouts.read,
        )
        # Per-host limits are enforced by the frontier, so the connector only
        # caps the total; the pool keeps connections alive across requests, but
        # never more open sockets than concurrency plus a few idle ones.
        connector = PooledConnector(limit=cfg.concurrency, limit_per_host=0,
                                    ttl_dns_cache=300)
        # Credentials go with each request instead (_follow), so that a redirect
        # to another origin can leave them out; session headers go everywhere.
        headers = {"User-Agent": cfg.user_agent,
                   **{k: v for k, v in cfg.headers if k.lower() not in _CREDENTIALS}}
        # trust_env: HTTP_PROXY/HTTPS_PROXY/NO_PROXY (and .netrc) apply as in curl;
        # an explicit cfg.proxy wins over them. Read once here, not by aiohttp on
        # every request in a thread (see _environ).
        self._env = EnvAuth() if cfg.trust_env else None
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers=headers,
            cookie_jar=aiohttp.CookieJar(unsafe=True), trust_env=False,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        return self._session

    async def fetch(self, request: Request) -> Response:
        """Fetch ``request``, following redirects; return a Response or raise FetchError.

        Redirects are followed here, one hop at a time, so that each target is
        checked before it is requested: it must be an http(s) URL, within
        ``max_redirects`` hops, and pass ``redirect_check`` (the crawl's scope and
        robots.txt). The total timeout covers the whole chain and the body.
        """
        cfg = self.config
        try:
            async with asyncio.timeout(cfg.timeouts.total):
                return await self._follow(request)
        except aiohttp.SocketTimeoutError:
            raise FetchError("timeout", f"no data for {cfg.timeouts.read}s (read timeout)",
                             retryable=True) from None
        except aiohttp.ConnectionTimeoutError:
            raise FetchError("timeout", f"no connection within {cfg.timeouts.connect}s "
                             "(connect timeout)", retryable=True) from None
        except TimeoutError:
            raise FetchError("timeout", f"no complete answer within the time limit "
                             f"({cfg.timeouts.total}s total)", retryable=True) from None
        except aiohttp.ClientConnectorError as exc:
            raise FetchError("connect", f"cannot connect to {exc.host}:{exc.port}: "
                             f"{exc.os_error.strerror or exc.os_error}", retryable=True) from None
        except aiohttp.InvalidURL as exc:
            raise FetchError("bad_url", f"invalid URL {exc}", retryable=False) from None
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError,
                aiohttp.ClientOSError) as exc:
            raise FetchError("disconnect", f"connection broken: {exc or type(exc).__name__}",
                             retryable=True) from None
        except aiohttp.ClientResponseError as exc:
            raise FetchError("protocol", f"bad response: {exc.message}", retryable=True) from None
        except aiohttp.ClientError as exc:
            raise FetchError("client", f"{type(exc).__name__}: {exc}", retryable=True) from None

    async def _follow(self, request: Request) -> Response:
        cfg = self.config
        url = URL(request.url, encoded=True)
        method, data = request.method, request.body
        headers = {**{k: v for k, v in cfg.headers if k.lower() in _CREDENTIALS},
                   **dict(request.headers or {})}
        chain: list[str] = []  # the URLs answered with a redirect, in order
        while True:
            proxy: str | URL | None = cfg.proxy
            sent, proxy_headers = headers, None
            if self._env is not None:
                env_proxy, proxy_auth, auth = self._env.lookup(url)
                if proxy is None and env_proxy is not None:
                    proxy = env_proxy
                    proxy_headers = {"Proxy-Authorization": proxy_auth} if proxy_auth else None
                # .netrc's credentials, unless the user gave an Authorization header.
                if auth is not None and not any(k.lower() == "authorization" for k in headers):
                    sent = {**headers, "Authorization": auth}
            async with self.session.request(
                method, url, headers=sent, data=data, allow_redirects=False,
                proxy=proxy, proxy_headers=proxy_headers,
            ) as resp:
                target = _redirect_target(resp)
                if target is None:
                    body, truncated = await read_capped(resp, cfg.max_body)
                    response = Response(str(resp.url), resp.status, resp.headers, body, request)
                    response.truncated = truncated
                    response.redirects = tuple(chain)
                    return response
                chain.append(str(resp.url))
                status = resp.status
            if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
                method, data = "GET", None  # what browsers do (RFC 9110 15.4)
            await self._check_redirect(chain, target, status)
            if target.origin() != url.origin():
                # Credentials the user gave for one site are not sent to another.
                headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIALS}
            url = target

    async def _check_redirect(self, chain: list[str], target: URL, status: int) -> None:
        """Raise FetchError (never worth a retry) if ``target`` must not be requested."""
        max_redirects = self.config.max_redirects
        if len(chain) > max_redirects:
            # A URL seen twice in the chain is a loop: say so, it is what the user must fix.
            if len(set(chain)) < len(chain):
                raise FetchError("redirect_loop", f"redirect loop through {len(set(chain))} "
                                 "URLs", retryable=False, status=status)
            raise FetchError("redirects", f"more than {max_redirects} redirects",
                             retryable=False, status=status)
        if self.redirect_check is not None:
            reason = await self.redirect_check(str(target))
            if reason is not None:
                raise FetchError("redirect", f"redirected to {target} ({reason}); not followed",
                                 retryable=False, status=status)


#: Request headers dropped when a redirect leads to another origin.
_CREDENTIALS = frozenset({"authorization", "proxy-authorization", "cookie"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CRAWLABLE = frozenset({"http", "https"})


def _redirect_target(resp: aiohttp.ClientResponse) -> URL | None:
    """Where a redirect leads, or None if ``resp`` is a page (a 3xx without Location is one).

    A target that is not an http(s) URL (``file:``, ``javascript:``, ``data:``,
    malformed) raises FetchError: the server will say the same next time.
    """
    location = resp.headers.get("Location") if resp.status in _REDIRECT_STATUSES else None
    if not location:
        return None
    shown = location if len(location) <= 100 else location[:100] + "…"
    try:
        target = resp.url.join(URL(location.strip()))
        if target.scheme in _CRAWLABLE and target.host:
            _ = target.port  # yarl parses the port lazily: "host:99999" raises here
            return target
    except ValueError:
        pass
    raise FetchError("bad_redirect", f"redirect to {shown!r}: not an http(s) URL",
                     retryable=False, status=resp.status)


#: Bytes asked of the stream at a time while reading a body under a cap.
_READ_CHUNK = 64 * 1024


async def read_capped(resp: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """Read at most ``limit`` bytes of the body *as decoded*; report whether it was cut off.

    The cap counts what the crawler holds, not what crossed the wire: aiohttp
    inflates gzip/deflate bodies as they are read, a bounded piece at a time,
    so a body that is 1 MB compressed and 1 GiB inflated stops at ``limit`` and
    the connection is dropped there. A body past the cap is
    cut rather than refused: the page is still recorded (and flagged), but
    memory stays bounded (about twice ``limit`` while the pieces are joined).

    >>> body, truncated = await read_capped(resp, 10 * 1024 * 1024)
    """
    length = resp.content_length
    if length is not None and length <= limit and "Content-Encoding" not in resp.headers:
        return await resp.read(), False  # the length is the decoded size: read it whole
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await resp.content.read(min(_READ_CHUNK, limit - size))
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    # Exactly ``limit`` bytes so far: one more byte tells a full body from a cut one.
    if await resp.content.read(1):
        resp.close()
        return b"".join(chunks), True
    return b"".join(chunks), False


def check_status(response: Response) -> None:
    """Raise FetchError for statuses that are errors rather than pages."""
    status = response.status
    if status < 400:
        return
    if status in BLOCK_STATUSES:
        raise FetchError(
            "blocked", f"HTTP {status}: the site refuses this client as a bot",
            retryable=False, status=status,
        )
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    raise FetchError(f"http_{status}", f"HTTP {status}", retryable=status in RETRY_STATUSES,
                     retry_after=retry_after, status=status)

