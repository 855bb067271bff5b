"""Requests, and the canonical URL fingerprint that deduplicates them."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from yarl import URL

from ._exceptions import InvalidURL

#: Version of the serialised form (``Request.to_dict``); bump on incompatible change.
WIRE_VERSION = 1

_CRAWLABLE_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: An http(s) URL whose host is plain lower-case ASCII labels (no user info, IDNA,
#: IPv6 or percent-escapes): its ``host:port`` can be cut out without yarl.
_PLAIN_ORIGIN = re.compile(r"(https?)://((?:[a-z0-9-]+\.)*[a-z0-9-]+)(?::([0-9]{1,5}))?(?=[/?#]|$)")

#: What may follow a plain origin for yarl to take the URL as written: printable ASCII
#: without brackets or a backslash (no space, control or non-ASCII character either).
_PLAIN_TAIL = re.compile(r"[!-Z^-~]*")

#: A callback is given by function or by the name it was registered under.
CallbackRef = Callable[..., Any] | str | None


def parse_url(url: str | URL) -> URL:
    """Parse ``url`` and check it is an absolute http(s) URL, or raise InvalidURL.

    >>> parse_url("HTTP://Example.com:80/a/../b#frag")
    URL('http://example.com/b')
    """
    try:
        parsed = url if isinstance(url, URL) else URL(url.strip())
    except (ValueError, TypeError) as exc:
        raise InvalidURL(
            f"invalid URL {url!r}: {exc}; give a full URL like https://example.com/"
        ) from None
    if parsed.scheme not in _CRAWLABLE_SCHEMES or not parsed.host:
        raise InvalidURL(
            f"invalid URL {str(url)!r}: need an absolute http:// or https:// URL "
            "with a host, like https://example.com/"
        )
    return canonical_url(parsed)


def _plain_origin(url: str) -> re.Match[str] | None:
    """The match of ``url``'s plain origin, or None if yarl must judge it.

    Plain: http(s), lower-case ASCII labels without IDNA (yarl decodes and
    re-encodes those) and, if given, a port in 1-65535. Groups: scheme, host, port.
    """
    match = _PLAIN_ORIGIN.match(url)
    if match is None or "xn--" in match[2]:
        return None
    if match[3] and not 0 < int(match[3]) < 65536:
        return None
    return match


def is_plain_url(url: str) -> bool:
    """Whether ``parse_url(url)`` surely succeeds, told without parsing (False: not sure).

    The engine checks every URL a callback yields; most are links ``Response.follow``
    has just built canonical, and parsing one again with yarl costs ~13 k instructions
    against ~2 k for this test. A plain http(s) origin (lower-case ASCII labels, a port
    below 65536, no user info or IDNA) followed by printable ASCII is one yarl never
    refuses; anything else goes to ``parse_url``.

    >>> is_plain_url("https://movie.douban.com/subject/1/"), is_plain_url("http://h:99999/")
    (True, False)
    """
    match = _plain_origin(url)
    return match is not None and _PLAIN_TAIL.fullmatch(url, match.end()) is not None


#: An absolute http(s) URL already in canonical form, as far as a regex can tell: a
#: plain lower-case host, a port that is not the default (no leading zero), a path of
#: characters yarl never quotes or changes, and no query or fragment.
_CANONICAL_HTTP = re.compile(
    r"(https?)://(?:[a-z0-9-]+\.)*[a-z0-9-]+(?::([1-9][0-9]{0,4}))?/[A-Za-z0-9\-._~/]*"
)


def is_canonical_http_url(url: str) -> bool:
    """Whether ``url`` is its own canonical form (False: not sure).

    ``Response.follow`` is mostly given absolute links a spider has already resolved
    (``https://movie.douban.com/subject/1/``); joining one to the page URL and
    rebuilding it with yarl gives it back unchanged, at ~20 k instructions.

    >>> is_canonical_http_url("https://movie.douban.com/subject/1/")
    True
    """
    match = _CANONICAL_HTTP.fullmatch(url)
    return (
        match is not None
        and "/." not in url  # a "." or ".." segment is resolved
        and "xn--" not in url  # yarl decodes and re-encodes IDNA labels
        and match[2] != str(_DEFAULT_PORTS[match[1]])
        and (match[2] is None or int(match[2]) < 65536)
    )


def canonical_url(url: URL, *, sort_query: bool = False) -> URL:
    """The form of ``url`` used for fetching and dedup.

    Lower-case scheme and host (yarl does this), default port dropped, ``.``/``..``
    segments resolved, fragment dropped, empty path made ``/``. Query order is kept
    unless ``sort_query``: some sites treat ``?a=1&b=2`` and ``?b=2&a=1`` differently.

    >>> str(canonical_url(URL("http://a.com/?q=x%26y&b=2"), sort_query=True))
    'http://a.com/?b=2&q=x%26y'
    """
    port = url.explicit_port
    if port is not None and url.is_default_port():
        port = None
    query = url.raw_query_string
    if sort_query and query:
        query = _sorted_query(query)
    # Rebuilt rather than edited: yarl's with_port/with_path drop parts or the
    # trailing "/" of an empty path, and the canonical form must be stable.
    return URL.build(
        scheme=url.scheme, user=url.raw_user, password=url.raw_password, host=url.raw_host or "",
        port=port, path=url.raw_path or "/", query_string=query, encoded=True,
    )


def _sorted_query(raw_query: str) -> str:
    """``raw_query``'s parameters ordered by name, each kept exactly as it was written.

    Sorted raw, not decoded and re-encoded: decoding turns ``q=a%26b`` into ``q=a&b``,
    a different query, and ``+``, ``=`` and ``%2F`` mean what they mean only as
    written. The sort is stable, so repeated names keep their order (``?id=2&id=1``
    can be an ordered list).
    """
    params = [p for p in raw_query.split("&") if p]
    return "&".join(sorted(params, key=lambda p: p.partition("=")[0]))


def host_key(url: str) -> str:
    """``host:port`` of ``url`` as yarl gives it (``URL.host``, ``URL.port``).

    Every frontier computes it for every request it queues, and yarl parses a URL
    it has not seen in ~10 µs, so the common plain form is cut from the string.

    >>> host_key("https://movie.douban.com/subject/1/"), host_key("http://[::1]:8080/")
    ('movie.douban.com:443', '::1:8080')
    """
    match = _plain_origin(url)
    if match is not None:
        port = int(match[3]) if match[3] else _DEFAULT_PORTS[match[1]]
        return f"{match[2]}:{port}"
    parsed = URL(url)
    return f"{parsed.host}:{parsed.port}"


def fingerprint(method: str, url: str, body: bytes | None = None) -> bytes:
    """A 16-byte digest identifying a request for dedup.

    16 bytes keep memory per URL small (SQLite BLOB key, Redis set member) while
    collisions stay negligible (2**-64 at four billion URLs).
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(method.upper().encode())
    digest.update(b" ")
    digest.update(url.encode())
    if body:
        digest.update(b"\n")
        digest.update(body)
    return digest.digest()


@dataclass(slots=True, eq=False)
class Request:
    """One URL to fetch and the callback that will handle its response.

    ``callback`` is a function or the name it was registered under with the
    ``Crawler``; it travels between processes (SQLite, Redis) by name.

    >>> Request("https://example.com/", callback="detail", meta={"page": 1})
    Request(GET https://example.com/ -> detail)
    """

    url: str
    callback: CallbackRef = None
    method: str = "GET"
    headers: Mapping[str, str] | None = None
    body: bytes | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    depth: int = 0
    priority: int = 0
    dont_filter: bool = False
    attempt: int = 0
    referrer: str | None = None
    not_before: float = 0.0
    _fingerprint: bytes | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"Request({self.method} {self.url} -> {self.callback_name or 'default'})"

    def __reduce__(self) -> tuple[type[Request], tuple[Any, ...]]:
        # Requests travel between the processes of processes=N by pickle; the
        # default of a slots dataclass walks fields() per object, 2-3x slower.
        return (Request, (self.url, self.callback, self.method, self.headers, self.body,
                          self.meta, self.depth, self.priority, self.dont_filter, self.attempt,
                          self.referrer, self.not_before, self._fingerprint))

    @property
    def callback_name(self) -> str | None:
        cb = self.callback
        if cb is None or isinstance(cb, str):
            return cb
        return getattr(cb, "__name__", None)

    @property
    def fingerprint(self) -> bytes:
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.method, self.url, self.body)
        return self._fingerprint

    @property
    def host(self) -> str:
        """``host:port`` — the key of this request's politeness slot."""
        return host_key(self.url)

    def to_dict(self) -> dict[str, Any]:
        """A JSON/msgpack-safe form: no pickle, no code, versioned."""
        data: dict[str, Any] = {"v": WIRE_VERSION, "url": self.url}
        if self.callback_name:
            data["cb"] = self.callback_name
        if self.method != "GET":
            data["method"] = self.method
        if self.headers:
            data["headers"] = dict(self.headers)
        if self.body is not None:
            data["body"] = self.body.decode("latin-1")
        if self.meta:
            data["meta"] = self.meta
        for name in ("depth", "priority", "attempt"):
            value = getattr(self, name)
            if value:
                data[name] = value
        if self.dont_filter:
            data["dont_filter"] = True
        if self.referrer:
            data["referrer"] = self.referrer
        if self.not_before:
            data["not_before"] = self.not_before
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Request:
        """Rebuild a request from ``to_dict`` output; raise ValueError if malformed."""
        if not isinstance(data, Mapping) or data.get("v") != WIRE_VERSION:
            raise ValueError(
                f"not a corocrawl request (wire version {WIRE_VERSION}): {data!r:.200}"
            )
        url = data.get("url")
        if not isinstance(url, str):
            raise ValueError(f"request without a URL: {data!r:.200}")
        body = data.get("body")
        return cls(
            url=url,
            callback=data.get("cb"),
            method=str(data.get("method", "GET")),
            headers=data.get("headers"),
            body=body.encode("latin-1") if isinstance(body, str) else None,
            meta=dict(data.get("meta") or {}),
            depth=int(data.get("depth", 0)),
            priority=int(data.get("priority", 0)),
            dont_filter=bool(data.get("dont_filter", False)),
            attempt=int(data.get("attempt", 0)),
            referrer=data.get("referrer"),
            not_before=float(data.get("not_before", 0.0)),
        )
