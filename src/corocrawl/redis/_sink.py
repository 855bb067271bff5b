"""RedisSink: items from every worker in one place, merged by key.

Each item is a Redis HASH whose fields hold JSON values, so ``HSET`` is exactly
the sink contract's merge ``{**old, **new}`` (top-level keys), with no
read-modify-write race between workers. One Lua script per batch also records
the key in a SET (for a full drain) and appends it to a STREAM (for
collectors that follow along). ``corocrawl collect`` reads them back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson

from .._exceptions import StorageError
from ..sinks._base import Item, KeyedItem
from . import _scripts
from ._link import DEFAULT_CRAWL_NAME, CrawlKeys, RedisLink

#: Approximate length the item stream is trimmed to; the key SET keeps everything.
DEFAULT_STREAM_MAXLEN = 100_000


class RedisSink:
    """An :class:`corocrawl.sinks.ItemSink` writing to a shared Redis crawl.

    >>> crawler = Crawler(frontier=RedisFrontier(url, "douban"), sinks=[RedisSink(url, "douban")])
    """

    def __init__(
        self,
        url: str,
        crawl_name: str = DEFAULT_CRAWL_NAME,
        *,
        stream_maxlen: int = DEFAULT_STREAM_MAXLEN,
    ) -> None:
        self._link = RedisLink.connect(url)
        self.keys = CrawlKeys(crawl_name)
        self._stream_maxlen = stream_maxlen
        self._write = self._link.script(_scripts.SINK_WRITE)

    async def open(self) -> None:
        """Check the server answers (waits through an outage like every call)."""
        await self._link.call("sink-open", self._link.client.ping)

    async def write(self, items: Sequence[KeyedItem]) -> None:
        """Merge ``items`` into their hashes; returns once Redis has them."""
        if not items:
            return
        keys = [self.keys.item_keys, self.keys.item_stream, self.keys.stats]
        args: list[Any] = [self._stream_maxlen, len(items)]
        for key, item in items:
            keys.append(self.keys.item(key))
            args += [key, len(item)]
            for field, value in item.items():
                try:
                    args += [field, orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)]
                except TypeError as exc:
                    raise StorageError(
                        f"item {key!r} field {field!r} is not JSON-serialisable: {exc}"
                    ) from None
        await self._link.call("sink-write", self._write, keys=keys, args=args)

    async def close(self) -> None:
        """Close the connection; everything written is already in Redis."""
        await self._link.close()


def decode_item(fields: dict[bytes, bytes]) -> Item:
    """An item from its Redis HASH (JSON values)."""
    return {name.decode(): orjson.loads(value) for name, value in fields.items()}


async def iter_items(
    link: RedisLink, keys: CrawlKeys, *, batch: int = 500
) -> AsyncIterator[KeyedItem]:
    """Every stored ``(key, item)`` of the crawl, in batches (SSCAN + pipelined HGETALL)."""
    client = link.client
    cursor: int = 0
    while True:
        cursor, members = await link.call(
            "collect", client.sscan, keys.item_keys, cursor, count=batch
        )
        names = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
        if names:

            async def fetch(names: list[str] = names) -> list[Any]:
                async with client.pipeline(transaction=False) as pipe:
                    for name in names:
                        pipe.hgetall(keys.item(name))
                    return list(await pipe.execute())

            for name, fields in zip(names, await link.call("collect", fetch), strict=True):
                yield name, decode_item(fields)
        if int(cursor) == 0:
            return
