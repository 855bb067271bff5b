"""The connection to Redis shared by the frontier, the sink and the slots.

It does two things the rest of the package relies on:

* the guarded import: without the ``redis`` package, ``--redis`` fails with a
  one-line ``MissingExtra`` saying what to install;
* outage handling: every call goes through :meth:`RedisLink.call`, which on a
  connection error logs ONE line per outage, backs off (0.1 s doubling to 2 s)
  and retries until Redis answers again. Callers therefore never see a dropped
  connection, and results waiting to be stored are kept, not lost.

Every key of a crawl lives under ``corocrawl:{<crawl name>}:``; the braces are
a Redis Cluster hash tag, so one crawl's keys share a slot and Lua scripts may
touch several of them atomically.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .._exceptions import ConfigError, MissingExtra, StorageError

try:  # the [redis] extra
    import msgpack
    import redis.asyncio as aioredis
    import redis.exceptions as redis_errors
except ImportError:  # pragma: no cover - exercised only without the extra
    aioredis = None  # type: ignore[assignment]
    redis_errors = None  # type: ignore[assignment]
    msgpack = None

log = logging.getLogger(__name__)

T = TypeVar("T")

MISSING_EXTRA_MESSAGE = "--redis needs the Redis client: pip install 'corocrawl[redis]'"

#: Crawl name used when none is given: workers of the same name share a crawl.
DEFAULT_CRAWL_NAME = "default"

_BACKOFF_FIRST, _BACKOFF_MAX = 0.1, 2.0
#: Seconds a link that never reached Redis keeps trying before it gives up.
_FIRST_CONTACT = 3.0


def require_redis() -> None:
    """Raise MissingExtra unless the redis and msgpack packages are importable."""
    if aioredis is None or msgpack is None:
        raise MissingExtra(MISSING_EXTRA_MESSAGE)


def _transient_errors() -> tuple[type[BaseException], ...]:
    # BusyLoadingError: Redis is up but still replaying its AOF after a restart.
    return (
        redis_errors.ConnectionError,
        redis_errors.TimeoutError,
        redis_errors.BusyLoadingError,
        ConnectionError,
        TimeoutError,
    )


def check_crawl_name(name: str) -> str:
    """Refuse crawl names that would break the key layout (braces, spaces)."""
    if not name or any(ch in name for ch in "{}: \t\r\n"):
        raise ConfigError(
            f"invalid crawl name {name!r}: use letters, digits, '-', '_' or '.' "
            "(no braces, colons, spaces)"
        )
    return name


class CrawlKeys:
    """The names of one crawl's keys. ``prefix`` ends with ':'."""

    def __init__(self, crawl_name: str) -> None:
        self.name = check_crawl_name(crawl_name)
        self.prefix = f"corocrawl:{{{crawl_name}}}:"
        p = self.prefix
        self.pending = p + "pending"  # ZSET rid -> priority score (ready now)
        self.delayed = p + "delayed"  # ZSET rid -> not_before (server time, s)
        self.leased = p + "leased"  # ZSET rid -> lease deadline (server time, s)
        self.owner = p + "owner"  # HASH rid -> worker id holding the lease
        self.data = p + "data"  # HASH rid -> msgpack of Request.to_dict()
        self.prio = p + "prio"  # HASH rid -> its score in `pending`
        self.seq = p + "seq"  # STRING request id counter
        self.stats = p + "stats"  # HASH counters: added done failed retried reclaimed dead items
        self.meta = p + "meta"  # HASH crawl settings every worker must agree on
        self.failures = p + "failures"  # LIST of recent "url\terror" (capped)
        self.dead = p + "dead"  # HASH rid -> raw malformed payload
        self.dead_why = p + "dead:why"  # HASH rid -> why it was dead-lettered
        self.workers = p + "workers"  # HASH worker id -> msgpack heartbeat
        self.item_keys = p + "items"  # SET of item keys
        self.item_stream = p + "items:stream"  # STREAM of {key} for collectors
        self.hosts = p + "hosts"  # ZSET host -> next-ready time: hosts with work and a free slot
        self.hbusy = p + "hbusy"  # HASH host -> leases holding its slot
        self.hnext = p + "hnext"  # HASH host -> next-ready time (server time, s)
        self.hcfg = p + "hcfg"  # HASH host -> "cap spacing" (politeness, set by workers)
        self.rhost = p + "rhost"  # HASH rid -> host
        self.holding = p + "holding"  # HASH rid -> host, while the lease holds a slot
        #: The KEYS every frontier script takes, in this order (see _scripts).
        self.frontier = [
            self.pending, self.delayed, self.leased, self.owner, self.data, self.prio,
            self.seq, self.stats, self.failures, self.hosts, self.hbusy, self.hnext,
            self.hcfg, self.rhost, self.holding,
        ]

    def seen(self, bucket: int) -> str:
        """Dedup bucket ``bucket`` (a small HASH of fingerprint tails)."""
        return f"{self.prefix}s:{bucket:x}"

    def item(self, key: str) -> str:
        """The HASH holding one item's fields (each value JSON-encoded)."""
        return f"{self.prefix}item:{key}"

    def host_queue(self, host: str) -> str:
        """ZSET rid -> priority score: the ready requests of ``host``."""
        return f"{self.prefix}hq:{host}"


class _Outage:
    """Outage state of one Redis URL, shared by every link to it in this process.

    Shared so that the frontier, the sink and the slots log ONE line when Redis
    goes away and one when it is back. A call that fails once and then succeeds
    on its first retry is not an outage: pooled connections that died with a
    restarted server fail once each, whenever they are next taken from the pool
    (seconds later on a busy machine), and redis-py replaces them. So an outage
    begins when a call fails a second time in a row.
    """

    def __init__(self) -> None:
        self.down_since: float | None = None

    def failed(self, url: str, what: str, exc: BaseException, attempt: int, since: float) -> None:
        """Try ``attempt`` (1 for the first) of one call, failing since ``since``, failed."""
        if self.down_since is not None or attempt < 2:
            return
        self.down_since = since
        log.warning(
            "Redis at %s unreachable during %s (%s); retrying until it is back, "
            "results waiting to be stored are kept",
            url,
            what,
            exc.__class__.__name__,
        )

    def succeeded(self, url: str) -> None:
        if self.down_since is None:
            return
        log.warning(
            "Redis at %s is back after %.1f s; continuing",
            url,
            time.monotonic() - self.down_since,
        )
        self.down_since = None


_OUTAGES: dict[str, _Outage] = {}


class RedisLink:
    """One Redis client plus the outage policy. Create with :meth:`connect`."""

    def __init__(self, url: str, client: Any) -> None:
        self.url = url
        self.client = client
        self._outage = _OUTAGES.setdefault(url, _Outage())
        # Until Redis has answered once, failing is a wrong URL or a server that
        # is not running: say so instead of waiting for an "outage" to end.
        self._reached = False

    @classmethod
    def connect(cls, url: str) -> RedisLink:
        """Build a client for ``url`` (no I/O yet); MissingExtra without the extra."""
        require_redis()
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"invalid Redis URL {url!r}: use redis://host:6379/0")
        client = aioredis.from_url(
            url,
            socket_connect_timeout=2.0,
            # A stalled server must not hang a worker forever; scripts are short.
            socket_timeout=15.0,
            health_check_interval=10,
        )
        return cls(url, client)

    async def close(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()

    @property
    def is_down(self) -> bool:
        """True while an outage is in progress (some call is retrying)."""
        return self._outage.down_since is not None

    def script(self, source: str) -> Any:
        """Register a Lua script (re-loaded automatically after a Redis restart)."""
        return self.client.register_script(source)

    async def call(
        self, what: str, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any
    ) -> T:
        """Await ``fn(*args, **kwargs)``, retrying through Redis outages.

        ``what`` names the operation in the outage log line. Calls are safe to
        repeat: every script here is idempotent when its reply was lost.
        """
        delay = _BACKOFF_FIRST
        transient = _transient_errors()
        task = asyncio.current_task()
        cancels = task.cancelling() if task is not None else 0
        first_try = time.monotonic()
        attempt, failing_since = 0, 0.0
        while True:
            attempt += 1
            try:
                result = await fn(*args, **kwargs)
            except transient as exc:
                _reraise_lost_cancel(task, cancels)
                failing_since = failing_since or time.monotonic()
                if self._reached or isinstance(exc, redis_errors.BusyLoadingError):
                    self._outage.failed(self.url, what, exc, attempt, failing_since)
                else:
                    self._check_reachable(exc, first_try)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
                continue
            _reraise_lost_cancel(task, cancels)
            self._reached = True
            self._outage.succeeded(self.url)
            return result

    def _check_reachable(self, exc: BaseException, first_try: float) -> None:
        """Fail in one line when this link never reached Redis within a few seconds."""
        if time.monotonic() - first_try >= _FIRST_CONTACT:
            raise StorageError(
                f"cannot reach Redis at {self.url} ({exc.__class__.__name__}: {exc}); "
                "check the URL and that redis-server is running"
            )


def _reraise_lost_cancel(task: asyncio.Task[Any] | None, cancels: int) -> None:
    """Raise CancelledError if the task was cancelled during a call that swallowed it.

    redis-py awaits ``asyncio.wait_for`` while (re)connecting; on Python 3.11
    ``wait_for`` drops a cancellation that arrives as its inner call completes,
    so the command returns normally and an ``asyncio.timeout()`` around it, or
    a ``task.cancel()``, would never take effect. The task's cancel count
    still tells the truth.
    """
    if task is not None and task.cancelling() > cancels:
        raise asyncio.CancelledError


def pack(obj: Any) -> bytes:
    """msgpack-encode ``obj`` (TypeError if it holds something msgpack cannot carry)."""
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


def unpack(raw: bytes) -> Any:
    """Decode msgpack ``raw``; ValueError if it is not valid msgpack."""
    try:
        return msgpack.unpackb(raw, raw=False, strict_map_key=False)
    except (
        ValueError,
        TypeError,
        msgpack.ExtraData,
        msgpack.FormatError,
        msgpack.StackError,
    ) as exc:
        raise ValueError(f"not msgpack: {exc}") from None
    except Exception as exc:  # msgpack raises a few undocumented types on garbage
        raise ValueError(f"not msgpack: {exc.__class__.__name__}: {exc}") from None
