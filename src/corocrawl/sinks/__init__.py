"""Item sinks: memory, SQLite, JSONL, CSV."""

from ._base import Item, ItemSink, KeyedItem
from ._memory import MemorySink

__all__ = ["Item", "ItemSink", "KeyedItem", "MemorySink"]
