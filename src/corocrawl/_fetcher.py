"""Fetching: one aiohttp session per crawl, with timeouts, size caps and error kinds.

Retries are not done here. A failed fetch raises ``FetchError`` saying whether
it is worth retrying; the engine puts the request back into the frontier with a
``not_before`` time, so a waiting retry holds no worker and no connection.
"""

from __future__ import annotations

import email.utils
import time
from types import TracebackType
from typing import Any, Self

import aiohttp
from yarl import URL

from ._config import CrawlConfig
from ._request import Request
from ._response import Response

#: Statuses worth another try: the server may answer differently later.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
#: Statuses with which sites refuse crawlers (418 is douban's answer to bots).
BLOCK_STATUSES = frozenset({403, 418})


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
    "too many open files" under ``ulimit -n 1024``). After each release the
    oldest idle sockets are closed until in-use + idle fits. aiohttp has no
    public knob for this, so it reads the pool (``_conns``, ``_acquired``); if
    a future aiohttp renames them it degrades to aiohttp's own behaviour.
    """

    def __init__(self, *, idle_slack: int = IDLE_SOCKETS_SLACK, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.idle_slack = idle_slack

    def _release(self, key: Any, protocol: Any, *, should_close: bool = False) -> None:
        super()._release(key, protocol, should_close=should_close)
        pool = getattr(self, "_conns", None)
        acquired = getattr(self, "_acquired", None)
        if not isinstance(pool, dict) or acquired is None or not self.limit:
            return
        room = self.limit + self.idle_slack - len(acquired)
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


class Fetcher:
    """Owns the crawl's ``aiohttp.ClientSession``; use it with ``async with``."""

    def __init__(self, config: CrawlConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        cfg = self.config
        timeout = aiohttp.ClientTimeout(
            total=cfg.timeouts.total, sock_connect=cfg.timeouts.connect,
            sock_read=cfg.timeouts.read,
        )
        # Per-host limits are enforced by the frontier, so the connector only
        # caps the total; the pool keeps connections alive across requests, but
        # never more open sockets than concurrency plus a few idle ones.
        connector = PooledConnector(limit=cfg.concurrency, limit_per_host=0,
                                    ttl_dns_cache=300)
        headers = {"User-Agent": cfg.user_agent, **dict(cfg.headers)}
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers=headers,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
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
        """Fetch ``request``; return a Response or raise FetchError."""
        cfg = self.config
        try:
            async with self.session.request(
                request.method, URL(request.url, encoded=True), headers=request.headers,
                data=request.body, allow_redirects=True, max_redirects=cfg.max_redirects,
            ) as resp:
                body, truncated = await self._read_capped(resp)
                status = resp.status
                headers = resp.headers
                final_url = str(resp.url)
                history = tuple(str(r.url) for r in resp.history)
        except TimeoutError:
            raise FetchError("timeout", f"no complete answer within the time limit "
                             f"({cfg.timeouts.total}s total)", retryable=True) from None
        except aiohttp.TooManyRedirects as exc:
            # A URL seen twice in the chain is a loop: say so, it is what the user must fix.
            chain = [str(r.url) for r in exc.history]
            if len(set(chain)) < len(chain):
                raise FetchError("redirect_loop", f"redirect loop through {len(set(chain))} "
                                 f"URLs", retryable=False) from None
            raise FetchError("redirects", f"more than {cfg.max_redirects} redirects",
                             retryable=False) from None
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
        response = Response(final_url, status, headers, body, request)
        response.truncated = truncated
        response.redirects = history
        return response

    async def _read_capped(self, resp: aiohttp.ClientResponse) -> tuple[bytes, bool]:
        """Read at most ``max_body`` bytes; report whether the body was cut off.

        A body past the cap is cut rather than refused: the page is still
        recorded (and flagged), but memory stays bounded.
        """
        limit = self.config.max_body
        length = resp.content_length
        if length is not None and length <= limit:
            return await resp.read(), False
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65536):
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                resp.close()
                return b"".join(chunks)[:limit], True
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

