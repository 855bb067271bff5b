"""Running a callback: collecting what it yields, and which of its errors end the crawl."""

from __future__ import annotations

import inspect
from typing import Any

from ._exceptions import InvalidURL, UsageError
from ._items import as_item
from ._request import Request


def stops_crawl(error: BaseException) -> bool:
    """True if a callback's error is the user's mistake (a bad selector) and ends the crawl.

    A malformed URL met in a callback (``resp.follow`` of a page's link, a
    ``Request`` made from page data) is the page's fault: an error of that page.
    """
    return isinstance(error, UsageError) and not isinstance(error, InvalidURL)


async def drive(result: Any) -> tuple[list[Any], Exception | None]:
    """Collect what a callback's result yields: async generator, awaitable or iterable.

    Returns the values and the exception that stopped the callback, if any:
    values yielded before an exception are kept.
    """
    values: list[Any] = []
    try:
        if inspect.isasyncgen(result):
            async for value in result:
                values.append(value)
            return values, None
        if inspect.isawaitable(result):
            result = await result
        if result is None:
            return values, None
        if isinstance(result, Request) or as_item(result) is not None:
            values.append(result)
        else:
            values.extend(result)
    except Exception as exc:
        return values, exc
    return values, None
