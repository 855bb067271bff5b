"""Keeping what was fetched: page bodies under safe paths, and WARC files.

``safe_path(root, url)`` maps any URL to its own file under ``root`` that cannot
escape it: no ``..``, no absolute paths, no reserved device names, no control
or non-ASCII characters (``%XX`` escapes, which ``url_path_of`` decodes back),
every part at most ``MAX_PART`` bytes and the whole at most ``MAX_RELATIVE``
characters (longer ones are cut and made unique with a hash). Two URLs never
share a file, so a saved page is never overwritten by another.

``WarcArchive`` writes a gzip WARC 1.1 file with warcio: a ``warcinfo`` record,
then a ``request`` and a ``response`` record per fetched page, which the usual
WARC tools read (``warcio.archiveiterator.ArchiveIterator``, pywb, ...). A
resumed crawl appends to it. Writes run in a worker thread so compressing a
10 MB page never stalls the loop.

>>> safe_path(Path("out"), "https://Example.com/a/../../etc/passwd?x=1")
PosixPath('out/example.com/etc/passwd%Qx=1%.html')
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import functools
import hashlib
import io
import logging
import os
import re
import threading
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote_from_bytes, unquote_to_bytes

from yarl import URL

from ._exceptions import MissingExtra, StorageError

logger = logging.getLogger(__name__)

MAX_PART = 100
MAX_RELATIVE = 220
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)
_EXTENSIONS = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/plain": ".txt",
    "text/css": ".css",
    "application/json": ".json",
    "application/pdf": ".pdf",
    "application/xml": ".xml",
    "text/xml": ".xml",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
}


def _digest(text: str, size: int = 4) -> str:
    return hashlib.blake2b(text.encode(), digest_size=size).hexdigest()


#: Bytes kept as they are in a file name; every other byte becomes ``%XX``.
#: ASCII only (NFC and NFD spellings stay apart, even on macOS), nothing a
#: Windows or POSIX file system treats specially, and ``%`` itself escaped,
#: so a name decodes back to exactly one URL segment.
_NAME_SAFE = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$&'()+,;=@"
)
#: Markers that ``_encode_name`` can never produce (``%`` not followed by two
#: hex digits), so they cannot collide with an encoded URL segment:
_ADDED_EXT = "%."  # "x" saved as "x%.html": the extension is ours, not the URL's
_DIRECTORY_INDEX = "%index"  # "/docs/" saved as "docs/%index.html"
_EMPTY_SEGMENT = "%"  # the empty segment of "a//b"
_QUERY = "%Q"  # "list?page=2" saved as "list%Qpage=2%.html"
_CUT = "%~"  # a name cut to MAX_PART bytes, then a hash of the whole segment
_LONG_DIR = "%long"  # a URL too long for one path: a hash of the whole URL


def _encode_name(text: str | bytes) -> str:
    """``text`` as one file name: safe bytes kept, every other byte ``%XX``."""
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
    out = [chr(b) if b in _NAME_SAFE else f"%{b:02X}" for b in data]
    if out and out[0] == ".":  # hidden files, "." and ".."
        out[0] = "%2E"
    if out and out[-1] == ".":  # Windows drops trailing dots
        out[-1] = "%2E"
    name = "".join(out)
    if name.split(".", 1)[0].lower() in _WINDOWS_RESERVED:  # CON, nul.txt, LPT1
        name = f"%{ord(name[0]):02X}{name[1:]}"
    return name


def _fit(name: str, suffix: str, original: str) -> str:
    """``name + suffix`` cut to ``MAX_PART`` bytes, made unique by a hash if cut."""
    if len(name) + len(suffix) <= MAX_PART:
        return name + suffix
    room = MAX_PART - len(suffix) - len(_CUT) - 16
    keep = name[:room]
    if "%" in keep[-2:]:  # do not cut an escape in half
        keep = keep[: keep.rindex("%")]
    return f"{keep}{_CUT}{_digest(original, 8)}{suffix}"


_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")


def _segment(raw: str) -> str:
    """One raw (percent-encoded) URL path segment as a file-name-safe, decodable name.

    Only escapes that cannot change the URL's meaning are decoded (non-ASCII
    bytes, letters, digits, ``-._~``): ``%2F`` and ``/``, ``%2B`` and ``+``
    are different URLs, so their names differ too (``%252F``, ``%2F``).
    """

    def decode(match: re.Match[bytes]) -> bytes:
        byte = int(match[1], 16)
        return bytes([byte]) if byte >= 0x80 or byte in _UNRESERVED else match[0]

    return _encode_name(_ESCAPE.sub(decode, raw.encode("utf-8", "surrogateescape")))


def safe_relative_path(url: str, content_type: str = "") -> Path:
    """The path, relative to a save directory, where ``url``'s body goes.

    Every URL gets its own path, and the path decodes back to the URL
    (``%XX`` escapes; see ``_encode_name``): ``a%2Fb``, ``a/b`` and ``a/b.html``
    are three files; ``x`` (no extension) is saved as ``x%.html`` so it cannot
    overwrite ``x.html``; ``/docs/`` is ``docs/%index.html``; a query is part
    of the name (``list%3Fpage=2%.html``). Only names too long for a file
    system are cut, and a hash keeps them apart.
    """
    parsed = URL(url)
    authority = (parsed.host or "nohost").lower()
    if parsed.explicit_port is not None and not parsed.is_default_port():
        authority = f"{authority}:{parsed.port}"
    host = _fit(_encode_name(authority), "", authority)
    segments = parsed.raw_path.split("/")[1:] or [""]
    directories = [_fit(_segment(s), "", s) if s else _EMPTY_SEGMENT for s in segments[:-1]]
    last, query = segments[-1], parsed.raw_query_string
    stem = _segment(last) if last else _DIRECTORY_INDEX
    if query:  # kept as sent (not decoded): "a=%26" and "a=&" are different queries
        stem += _QUERY + _encode_name(query)
    base, dot, ext = stem.rpartition(".")
    if last and not query and dot and base and 0 < len(ext) <= 8 and ext.isalnum():
        stem, suffix = base, f".{ext}"  # the URL's own extension, kept if cut
    elif last or query:
        suffix = _ADDED_EXT + _content_extension(content_type)
    else:
        suffix = "." + _content_extension(content_type)
    relative = Path(host, *directories, _fit(stem, suffix, f"{last}?{query}"))
    if len(str(relative)) > MAX_RELATIVE:
        ext = relative.suffix if relative.suffix[1:].isalnum() else ".html"
        relative = Path(host, _LONG_DIR, f"{_digest(url, 16)}{ext}")
    return relative


def safe_path(root: Path, url: str, content_type: str = "") -> Path:
    """``root / safe_relative_path(url)``, checked to stay inside ``root``."""
    path = root / safe_relative_path(url, content_type)
    resolved_root = root.resolve()
    if not path.resolve().is_relative_to(resolved_root):  # defence in depth: cannot happen
        raise ValueError(f"refusing to save {url!r} outside {root}")
    return path


def _content_extension(content_type: str) -> str:
    return _EXTENSIONS.get(content_type, ".html").lstrip(".")


def url_path_of(relative: Path) -> str:
    """The URL path (and query) of a file saved by ``safe_relative_path``.

    >>> url_path_of(Path("e.test/a%252Fb%.html"))
    '/a%2Fb'

    Names cut for length (``%~hash``, ``%long/``) do not decode.
    """
    *directories, name = relative.parts[1:]
    if _ADDED_EXT in name:
        name = name[: name.rindex(_ADDED_EXT)]
    elif name.startswith(_DIRECTORY_INDEX + "."):
        name = _DIRECTORY_INDEX
    name, _, query = name.partition(_QUERY)
    if name == _DIRECTORY_INDEX:
        name = ""
    segments = [unquote_to_bytes(d) if d != _EMPTY_SEGMENT else b"" for d in directories]
    segments.append(unquote_to_bytes(name))
    path = "/" + "/".join(quote_from_bytes(seg, safe=_PCHAR + "%") for seg in segments)
    if _:
        path += "?" + unquote_to_bytes(query).decode("utf-8", "surrogateescape")
    return path


_PCHAR = "!$&'()*+,;=:@-._~"


_CLASH_DIR = "%clash"
#: Errors of the disk, not of one page: the crawl stops and the page is retried.
_DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG})


def _write_whole(path: Path, body: bytes) -> None:
    """Write ``path`` through a temp file: a full disk never leaves half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name[:40]}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        temp.write_bytes(body)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


class PageSaver:
    """Writes page bodies under a directory (``--save-pages DIR``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.saved = 0
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create --save-pages directory {root}: {exc.strerror}"
            ) from None

    def _write(self, url: str, content_type: str, body: bytes) -> Path:
        path = safe_path(self.root, url, content_type)
        try:
            try:
                _write_whole(path, body)
            except (FileExistsError, NotADirectoryError, IsADirectoryError):
                # "/a.b" saved as a file, then "/a.b/c" needs "a.b" as a directory
                # (or the reverse): a name no URL segment can have, unique per URL.
                ext = path.suffix or ".html"
                host_dir = self.root / path.relative_to(self.root).parts[0]
                path = host_dir / _CLASH_DIR / f"{_digest(url, 16)}{ext}"
                _write_whole(path, body)
        except OSError as exc:
            if exc.errno in _DISK_ERRORS:
                raise StorageError(
                    f"cannot save {url} under {self.root}: {exc.strerror}; "
                    "free some space and run the same command again to resume"
                ) from None
            raise
        self.saved += 1
        return path

    async def save(self, url: str, content_type: str, body: bytes) -> Path:
        """Write ``body`` to its safe path (in a thread) and return the path."""
        return await asyncio.to_thread(self._write, url, content_type, body)


# Hop-by-hop and encoding headers describe the bytes on the wire; we store the
# decoded body, so they would lie about the record's payload.
_DROP_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length", "connection"})


class WarcArchive:
    """A WARC file of request/response pairs (``--warc FILE.warc.gz``).

    A resumed crawl appends to the file (``fresh=False``, the default): the
    records of earlier runs stay, each run adds a ``warcinfo`` record and its
    pages. A record cut short by a kill -9 is dropped before appending, so the
    file stays readable. A write that fails (a full disk) is rolled back and
    raises ``StorageError``: the page is fetched again on the next run.
    """

    def __init__(self, path: Path, *, software: str = "corocrawl", fresh: bool = False) -> None:
        try:
            from warcio.warcwriter import WARCWriter
        except ImportError:
            raise MissingExtra("--warc needs warcio: pip install 'corocrawl[warc]'") from None
        self.path = path
        self.records = 0
        self._lock = asyncio.Lock()
        self._gzip = path.name.endswith(".gz")
        try:
            self._file: BinaryIO = open(path, "wb" if fresh else "ab")  # noqa: SIM115 (closed in close())
            if not fresh:
                kept = _complete_prefix(path, gzipped=self._gzip)
                if kept < self._file.tell():
                    logger.warning(
                        "%s: dropped %d bytes of a record cut short by an earlier run",
                        path, self._file.tell() - kept,
                    )
                    self._file.truncate(kept)
        except OSError as exc:
            raise StorageError(f"cannot write WARC file {path}: {exc.strerror}") from None
        self._writer = WARCWriter(self._file, gzip=self._gzip, warc_version="1.1")
        info = self._writer.create_warcinfo_record(
            path.name, {"software": software, "format": "WARC File Format 1.1"}
        )
        self._append([info])

    def _append(self, records: list[Any]) -> None:
        """Write ``records`` in one piece, or not at all (the file is cut back on error)."""
        buffer = io.BytesIO()
        writer = type(self._writer)(buffer, gzip=self._gzip, warc_version="1.1")
        for record in records:
            writer.write_record(record)
        # With processes=N every crawl process writes to this one file (opened
        # before they were forked): an exclusive lock keeps each write whole and
        # at the true end of the file.
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
        try:
            start = self._file.seek(0, io.SEEK_END)
            try:
                self._file.write(buffer.getbuffer())
                self._file.flush()
            except OSError as exc:
                with contextlib.suppress(OSError):  # the disk is full, not broken: cutting frees
                    self._file.truncate(start)
                raise StorageError(
                    f"cannot write WARC file {self.path}: {exc.strerror or exc}; "
                    "free some space and run the same command again to resume"
                ) from None
        finally:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)

    def _write_pair(
        self,
        *,
        url: str,
        method: str,
        request_headers: Iterable[tuple[str, str]],
        status: int,
        reason: str,
        response_headers: Iterable[tuple[str, str]],
        body: bytes,
        truncated: bool,
        fetched_at: datetime,
    ) -> None:
        target = URL(url)
        path = target.raw_path_qs or "/"
        date = fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        req_headers = list(request_headers)
        if not any(k.lower() == "host" for k, _ in req_headers):
            req_headers.insert(0, ("Host", target.raw_authority))
        request = self._writer.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(b""),
            length=0,  # without a length warcio buffers into a temp file it never closes
            http_headers=_raw_headers()(
                f"{method} {path} HTTP/1.1", req_headers, is_http_request=True
            ),
            warc_headers_dict={"WARC-Date": date},
        )
        headers = [(k, v) for k, v in response_headers if k.lower() not in _DROP_HEADERS]
        headers.append(("Content-Length", str(len(body))))
        warc_headers = {"WARC-Date": date}
        if truncated:
            warc_headers["WARC-Truncated"] = "length"
        response = self._writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=_raw_headers()(
                f"{status} {reason}".strip(), headers, protocol="HTTP/1.1"
            ),
            warc_headers_dict=warc_headers,
        )
        request.rec_headers.add_header("WARC-Concurrent-To",
                                       response.rec_headers.get_header("WARC-Record-ID"))
        self._append([response, request])
        self.records += 2

    async def write(
        self,
        *,
        url: str,
        status: int,
        response_headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes,
        method: str = "GET",
        request_headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        reason: str = "",
        truncated: bool = False,
    ) -> None:
        """Append a request record and a response record for one fetched page."""
        kwargs: dict[str, Any] = {
            "url": url,
            "method": method,
            "request_headers": _pairs(request_headers),
            "status": status,
            "reason": reason or _REASONS.get(status, ""),
            "response_headers": _pairs(response_headers),
            "body": body,
            "truncated": truncated,
            "fetched_at": datetime.now(UTC),
        }
        async with self._lock:  # records must not interleave in the file
            await asyncio.to_thread(self._write_pair, **kwargs)

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._file.close)


@functools.cache
def _raw_headers() -> type:
    """warcio's ``StatusAndHeaders``, but written as the bytes that came off the wire.

    aiohttp decodes header bytes that are not UTF-8 as lone surrogates
    (``surrogateescape``); warcio would percent-encode them and fail on the
    surrogates. WARC stores the HTTP header block as bytes, so we give it the
    original bytes back instead: a bad header is kept as sent, never a crash.
    """
    from warcio.statusandheaders import StatusAndHeaders

    class RawStatusAndHeaders(StatusAndHeaders):  # type: ignore[misc]
        def compute_headers_buffer(self, header_filter: Any = None) -> None:
            text = self.to_str(header_filter)
            self.headers_buff = text.encode("utf-8", "surrogateescape") + b"\r\n"

    return RawStatusAndHeaders


def _complete_prefix(path: Path, *, gzipped: bool) -> int:
    """How many leading bytes of the WARC file ``path`` are whole records.

    A kill -9 can cut the last record short; appending after it would hide
    every later record from readers. Gzip WARCs hold one gzip member per
    record: the prefix ends after the last member that inflates to its end.
    """
    with open(path, "rb") as file:
        if gzipped:
            return _complete_gzip_members(file)
        return _complete_plain_records(file)


def _complete_gzip_members(file: BinaryIO) -> int:
    complete = offset = 0
    inflater = zlib.decompressobj(wbits=31)
    while chunk := file.read(1 << 20):
        while chunk:
            try:
                inflater.decompress(chunk, 1 << 16)
                while inflater.unconsumed_tail:  # bounded output: never hold a whole record
                    inflater.decompress(inflater.unconsumed_tail, 1 << 16)
            except zlib.error:
                return complete
            used = len(chunk) - len(inflater.unused_data)
            offset += used
            if not inflater.eof:
                break
            complete = offset
            chunk = inflater.unused_data
            inflater = zlib.decompressobj(wbits=31)
    return complete


_WARC_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)\r\n", re.IGNORECASE)


def _complete_plain_records(file: BinaryIO) -> int:
    complete = 0
    size = file.seek(0, io.SEEK_END)
    while complete < size:
        file.seek(complete)
        head = file.read(64 * 1024)
        end = head.find(b"\r\n\r\n")
        match = _WARC_LENGTH.search(head, 0, end + 2) if end > 0 else None
        if not head.startswith(b"WARC/") or match is None:
            break
        record_end = complete + end + 4 + int(match[1]) + 4  # block, then CRLF CRLF
        if record_end > size:
            break
        complete = record_end
    return complete


def _pairs(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    if isinstance(headers, Mapping):
        # A CIMultiDict is a Mapping whose items() keeps repeated headers (Set-Cookie).
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


_REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 206: "Partial Content",
    301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 410: "Gone",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}
