"""Item sinks: SQLite, JSONL, CSV."""

from ._base import Item, ItemSink, KeyedItem

__all__ = ["Item", "ItemSink", "KeyedItem"]
