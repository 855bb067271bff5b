"""Responses: decoded text, CSS selection, and following links."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

import orjson
from multidict import CIMultiDictProxy
from selectolax.lexbor import LexborHTMLParser, LexborNode
from yarl import URL

from ._encoding import sniff_encoding
from ._exceptions import CorocrawlError, InvalidSelector, InvalidURL
from ._request import CallbackRef, Request, canonical_url, is_canonical_http_url
from ._select import select_all, select_first

if TYPE_CHECKING:
    from bs4 import BeautifulSoup
    from parsel import Selector, SelectorList


#: Element nesting past which a page is not parsed. Lexbor's cost grows with the
#: square of the depth (100,000 nested <div>: 114 s with the event loop held;
#: 4,096: 0.03 s); browsers flatten the tree past 512 levels, and real pages
#: stay far below.
MAX_NESTING = 4096
#: Content types parsed as HTML, and so checked with ``NestingScan`` first.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})
_TAG = re.compile(rb"<(/?)([a-z][a-z0-9]*)")
# Elements that hold no children: they never add depth.
_VOID = frozenset(b"area base basefont bgsound br col command embed frame hr image img input "
                  b"keygen link meta param source track wbr html head body".split())
# Elements that a start tag of the same name closes (<p><p>, <li><li>, <td><td> …).
_SIBLING_CLOSED = frozenset(b"p li dt dd option optgroup tr td th rb rt rp rtc".split())
#: Bytes of the page scanned between two chances for other tasks to run.
_SCAN_SLICE = 256 * 1024
# A <base> element comes only from a "<base" tag in the source.
_BASE_TAG = re.compile(rb"<base[\s/>]", re.I)


class UnparseablePage(CorocrawlError):
    """A page the HTML parser is not given: nested too deeply to parse in bounded time."""


class NestingScan:
    """Estimates how deeply a page's elements nest, in time linear in its size.

    It replays the tags on a stack the way an HTML parser would, roughly: an end
    tag closes its element and the ones left open inside it, a stray end tag is
    ignored, void elements are skipped, and ``<p>``/``<li>``/``<td>`` … close an
    open one of the same name. Only pages with ``MAX_NESTING`` ``<`` or more are
    scanned at all. ``slices()`` lets a caller on the event loop pause between
    pieces (``await asyncio.sleep(0)``); ``check()`` runs it in one go.

    >>> NestingScan(b"<div><div><br></span></div></div>").check()
    >>> NestingScan(b"<div>" * 5000).check()
    'elements nested 4096 deep or more; not parsed'
    """

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._stack: list[bytes] = []
        self._open: dict[bytes, int] = {}
        self.reason: str | None = None

    def check(self) -> str | None:
        """None if the page can be parsed in bounded time, else why not."""
        for _ in self.slices():
            pass
        return self.reason

    def slices(self) -> Iterator[None]:
        """Scan a slice per step; stop early once ``reason`` is set."""
        body = self._body
        # Nesting MAX_NESTING deep takes at least that many "<". They are counted by
        # deleting up to MAX_NESTING of them: bytes.replace finds each with memchr,
        # bytes.count tests every byte (callgrind on a 57 KB page with 1,775 "<":
        # 169,000 instructions against 295,000).
        if len(body) - len(body.replace(b"<", b"", MAX_NESTING)) < MAX_NESTING:
            return
        text = body.lower()
        pos = 0
        while pos < len(text) and self.reason is None:
            # Slices end just before a "<", so no tag is split between two.
            end = text.find(b"<", pos + _SCAN_SLICE)
            end = len(text) if end < 0 else end
            self._feed(_TAG.findall(text, pos, end))
            pos = end
            yield

    def _feed(self, tags: list[tuple[bytes, bytes]]) -> None:
        stack, open_ = self._stack, self._open
        for slash, name in tags:
            if name in _VOID:
                continue
            if slash or name in _SIBLING_CLOSED:
                if open_.get(name):
                    while True:  # close it and whatever was left open inside it
                        top = stack.pop()
                        open_[top] -= 1
                        if top == name:
                            break
                if slash:
                    continue
            stack.append(name)
            open_[name] = open_.get(name, 0) + 1
            if len(stack) >= MAX_NESTING:
                self.reason = f"elements nested {MAX_NESTING} deep or more; not parsed"
                return


class Response:
    """A fetched page, handed to a spider callback.

    Parsing is lazy: ``text`` and ``dom`` are built on first use, so callbacks
    that only look at headers or bytes pay nothing for HTML parsing.

    >>> for node in resp.css("#showing-soon .item h3 a"):
    ...     yield resp.follow(node.attrs["href"], detail)
    """

    __slots__ = ("__dict__", "body", "elapsed", "headers", "redirects", "request", "status",
                 "truncated", "url")

    def __init__(
        self,
        url: str,
        status: int,
        headers: CIMultiDictProxy[str] | Mapping[str, str],
        body: bytes,
        request: Request,
    ) -> None:
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body
        self.request = request
        #: True when the body was cut off at the crawl's ``max_body``.
        self.truncated = False
        #: The URLs redirected through before ``url``, in order.
        self.redirects: tuple[str, ...] = ()
        #: Seconds from sending the request to reading the whole body.
        self.elapsed = 0.0
        # Set by check_nesting(): None until the page is scanned, then "" or why it is refused.
        self._unparseable: str | None = None

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.url}>"

    @property
    def meta(self) -> dict[str, Any]:
        """The request's ``meta``: data a callback passes to the next one."""
        return self.request.meta

    @property
    def content_type(self) -> str:
        return str(self.headers.get("Content-Type", "")).split(";", 1)[0].strip().lower()

    @cached_property
    def _sniffed(self) -> tuple[str, str | None]:
        return sniff_encoding(self.body, self.headers.get("Content-Type"))

    @cached_property
    def text(self) -> str:
        """The body decoded (BOM, header, ``<meta>``, UTF-8, then detection)."""
        encoding, text = self._sniffed
        return self.body.decode(encoding, "replace") if text is None else text

    @property
    def encoding(self) -> str:
        """The encoding ``text`` is decoded with (a Python codec name)."""
        return self._sniffed[0]

    async def check_nesting(self) -> str | None:
        """None if the body can be parsed as HTML in bounded time, else why not.

        Scans in slices, letting other tasks run in between (the engine calls it
        before a callback gets an HTML page); ``dom`` then does not scan again.
        """
        if self._unparseable is None:
            scan = NestingScan(self.body)
            for _ in scan.slices():
                await asyncio.sleep(0)
            self._unparseable = scan.reason or ""
        return self._unparseable or None

    @cached_property
    def dom(self) -> LexborHTMLParser:
        """The parsed document (selectolax / Lexbor); UnparseablePage if nested too deeply.

        The engine refuses such HTML pages before their callback runs; this
        check is for pages parsed whatever their Content-Type says.
        """
        reason = NestingScan(self.body).check() if self._unparseable is None else self._unparseable
        if reason:
            raise UnparseablePage(f"{self.url}: {reason}")
        if self.encoding == "utf-8":
            # The bytes read as UTF-8 (reads_as_utf8), which is what Lexbor
            # parses natively: from bytes it costs about half as much as from a
            # str, which selectolax would first encode back to UTF-8. Invalid
            # bytes, if any, become U+FFFD, as in Response.text.
            return LexborHTMLParser(self.body)
        return LexborHTMLParser(self.text)

    @cached_property
    def base_url(self) -> URL:
        """The URL relative links resolve against: ``<base href>`` if present."""
        url = URL(self.url)
        if "dom" not in self.__dict__ and self.encoding == "utf-8" \
                and _BASE_TAG.search(self.body) is None:
            # No "<base" in the (ASCII-compatible) bytes, so no <base> element: a page
            # not parsed yet need not be. Once it is, the query is the cheaper test
            # (on a 57 KB page 0.04 ms against 0.08 ms for the byte search).
            return url
        base = select_first(self.dom, "base[href]")
        href = base.attributes.get("href") if base is not None else None
        if href:
            try:
                return url.join(URL(href.strip()))
            except ValueError:
                return url
        return url

    def css(self, selector: str) -> list[LexborNode]:
        """All nodes matching a CSS selector."""
        try:
            return select_all(self.dom, selector)  # the thread's engine, not a new one a page
        except Exception as exc:  # selectolax raises a bare Exception for bad syntax
            raise InvalidSelector(f"bad CSS selector {selector!r}: {exc}") from None

    def css_first(self, selector: str) -> LexborNode | None:
        """The first node matching a CSS selector, or None."""
        try:
            return select_first(self.dom, selector)
        except Exception as exc:  # see css()
            raise InvalidSelector(f"bad CSS selector {selector!r}: {exc}") from None

    def urljoin(self, href: str) -> str:
        """Resolve ``href`` against this page (honouring ``<base href>``)."""
        href = href.strip()
        if is_canonical_http_url(href):
            # An absolute link already canonical: what the join and rebuild below
            # would give back, without parsing it twice (see is_canonical_http_url).
            return href
        try:
            return str(canonical_url(self.base_url.join(URL(href))))
        except ValueError as exc:
            raise InvalidURL(f"cannot resolve link {href!r} on {self.url}: {exc}") from None

    def follow(self, href: str, callback: CallbackRef = None, **kwargs: Any) -> Request:
        """A request for a link on this page, one level deeper.

        >>> resp.follow("/subject/1/", detail, meta={"name": "x"})
        """
        kwargs.setdefault("depth", self.request.depth + 1)
        kwargs.setdefault("referrer", self.url)
        return Request(self.urljoin(href), callback, **kwargs)

    def follow_all(
        self, links: str | Iterable[str | LexborNode], callback: CallbackRef = None,
        **kwargs: Any,
    ) -> Iterator[Request]:
        """Requests for many links: a CSS selector (its nodes' ``href``), or hrefs/nodes.

        >>> yield from resp.follow_all("nav a", page)
        """
        nodes = self.css(links) if isinstance(links, str) else links
        for link in nodes:
            href = link if isinstance(link, str) else link.attributes.get("href")
            if href:
                yield self.follow(href, callback, **kwargs)

    def json(self) -> Any:
        """The body parsed as JSON (``InvalidResponse`` with the URL if it is not)."""
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            from ._exceptions import InvalidResponse

            raise InvalidResponse(f"{self.url} is not JSON: {exc}") from None

    @cached_property
    def selector(self) -> Selector:
        """The page as a parsel ``Selector`` (``pip install 'corocrawl[xpath]'``)."""
        try:
            from parsel import Selector
        except ImportError:
            from ._exceptions import MissingExtra

            raise MissingExtra(
                "resp.xpath() needs parsel: pip install 'corocrawl[xpath]'"
            ) from None
        return Selector(text=self.text, base_url=self.url)

    def xpath(self, query: str, **variables: Any) -> SelectorList[Selector]:
        """Nodes matching an XPath query, as parsel selectors (``.get()``, ``.getall()``).

        >>> resp.xpath("//h1/text()").get()
        """
        try:
            return self.selector.xpath(query, **variables)
        except ValueError as exc:  # parsel's bad-XPath error
            raise InvalidSelector(f"bad XPath {query!r}: {exc}") from None

    @cached_property
    def soup(self) -> BeautifulSoup:
        """The page as BeautifulSoup, for those who prefer it (``pip install corocrawl[soup]``)."""
        try:
            from bs4 import BeautifulSoup
        except ImportError:
            from ._exceptions import MissingExtra

            raise MissingExtra(
                "resp.soup needs BeautifulSoup: pip install 'corocrawl[soup]'"
            ) from None
        return BeautifulSoup(self.text, "lxml")
