"""CSS queries through one selector engine per thread instead of one per page.

selectolax gives every parsed document its own ``LexborCSSSelector`` (a CSS parser
and a Lexbor selector engine), created on the document's first query and freed
with it: ~25 k instructions a page, as much as compiling and running a simple
query. The engine is not tied to a document (``find`` takes the node to search
from, and answers with nodes of that node's document), so one kept per thread
serves every page. Per thread, not per process: a query holds the engine's
state (its results, the node searched) until it returns, and a spider may query
pages from worker threads (``asyncio.to_thread``).

Only for nodes of a whole parsed document (``LexborHTMLParser``, what
``Response.dom`` is): selectolax searches a ``parse_fragment`` root through an
internal wrapper it does not expose.
"""

from __future__ import annotations

import threading

from selectolax.lexbor import LexborCSSSelector, LexborHTMLParser, LexborNode

__all__ = ["select_all", "select_first"]


class _Engine(threading.local):
    def __init__(self) -> None:
        # The stub types its __init__ without "-> None".
        self.selector = LexborCSSSelector()  # type: ignore[no-untyped-call]


_ENGINE = _Engine()


def _root(where: LexborHTMLParser | LexborNode) -> LexborNode | None:
    return where.root if isinstance(where, LexborHTMLParser) else where


def select_all(where: LexborHTMLParser | LexborNode, query: str) -> list[LexborNode]:
    """``where.css(query)``, without a selector engine of the document's own.

    Raises what ``css`` raises for a bad selector (selectolax's ``SelectolaxError``).

    >>> [n.text() for n in select_all(LexborHTMLParser("<p>a</p><p>b</p>"), "p")]
    ['a', 'b']
    """
    root = _root(where)
    return [] if root is None else _ENGINE.selector.find(query, root)


def select_first(where: LexborHTMLParser | LexborNode, query: str) -> LexborNode | None:
    """``where.css_first(query)``: stops at the first match, like it.

    >>> select_first(LexborHTMLParser("<p>a</p><p>b</p>"), "p").text()
    'a'
    """
    root = _root(where)
    if root is None:
        return None
    # find_first is in selectolax's compiled module but not in its type stub.
    found: list[LexborNode] = _ENGINE.selector.find_first(query, root)  # type: ignore[attr-defined]
    return found[0] if found else None
