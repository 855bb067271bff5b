"""The item sink contract: where scraped items go.

Items arrive as ``(key, item)`` pairs. The key makes writes idempotent: a page
fetched twice (after a crash, or by two workers) writes the same keys again and
the sink upserts, so the stored set never holds duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

Item = dict[str, Any]
KeyedItem = tuple[str, Item]


@runtime_checkable
class ItemSink(Protocol):
    async def open(self) -> None:
        """Create files or tables; fail early with a StorageError if impossible."""

    async def write(self, items: Sequence[KeyedItem]) -> None:
        """Store items durably (upsert by key) before returning."""

    async def close(self) -> None:
        """Flush and release; called on every exit path."""
