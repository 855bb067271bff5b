"""Items as users write them: dicts, dataclasses, attrs classes, pydantic models.

The engine stores and exports plain dicts; ``as_item`` turns any of the
supported kinds into one, field by field, at the moment a callback yields it.

    >>> @dataclass
    ... class Page:
    ...     url: str
    ...     title: str
    >>> as_item(Page("https://example.com/", "Example"))
    {'url': 'https://example.com/', 'title': 'Example'}
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .sinks import Item


def as_item(value: object) -> Item | None:
    """``value`` as a dict of its fields, or None when it is not an item at all."""
    if isinstance(value, dict):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Shallow on purpose: asdict() would deep-copy every nested value.
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    attrs_fields = getattr(type(value), "__attrs_attrs__", None)
    if attrs_fields is not None:  # an attrs class, without importing attrs
        return {a.name: getattr(value, a.name) for a in attrs_fields}
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump) and hasattr(type(value), "model_fields"):  # pydantic v2
        dumped: Any = model_dump()
        return dumped if isinstance(dumped, dict) else None
    return None


class CrawlItems:
    """The items of a crawl, read from wherever it stored them, as a stream.

    Iterating reads the store again each time (memory, the SQLite file, or
    the shared Redis crawl), so a million items are never held in a list.
    ``len()`` counts them; ``==`` compares with a list; indexing reads up to
    the index.

        >>> crawler.run(db="docs.db")
        >>> for item in crawler.items: ...
        >>> len(crawler.items)
    """

    def __init__(self, read: Callable[[], Iterable[Item]], where: str,
                 count: Callable[[], int] | None = None) -> None:
        self._read = read
        self._count = count
        self.where = where

    def __iter__(self) -> Iterator[Item]:
        return iter(self._read())

    def __len__(self) -> int:
        if self._count is not None:
            return self._count()
        return sum(1 for _ in self._read())

    def __getitem__(self, index: int) -> Item:
        if index < 0:
            return list(self)[index]
        for item in itertools.islice(self._read(), index, None):
            return item
        raise IndexError(f"item {index} of {len(self)}")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CrawlItems | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = list(itertools.islice(self._read(), _REPR_ITEMS + 1))
        if len(shown) <= _REPR_ITEMS:
            return repr(shown)
        return f"{repr(shown[:_REPR_ITEMS])[:-1]}, ... ({len(self)} items in {self.where})]"


#: ``repr(crawler.items)`` (and so ``print``) shows at most this many items.
_REPR_ITEMS = 100
