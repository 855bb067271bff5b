"""Items kept in a dict: what ``Crawler`` uses when no database is given."""

from __future__ import annotations

from collections.abc import Sequence

from ._base import Item, KeyedItem


class MemorySink:
    """An ``ItemSink`` that merges items by key into a dict, in arrival order."""

    def __init__(self) -> None:
        self.items: dict[str, Item] = {}

    async def open(self) -> None:
        return None

    async def write(self, items: Sequence[KeyedItem]) -> None:
        store = self.items
        for key, item in items:
            old = store.get(key)
            store[key] = {**old, **item} if old is not None else dict(item)

    async def close(self) -> None:
        return None
