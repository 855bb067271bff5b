"""Keeping what was fetched: page bodies under safe paths, and WARC files.

``safe_path(root, url)`` maps any URL to a file under ``root`` that cannot escape
it: no ``..``, no absolute paths, no drive letters or reserved device names, no
control characters, every part at most ``MAX_PART`` bytes and the whole at most
``MAX_RELATIVE`` characters (longer ones are cut and made unique with a hash).

``WarcArchive`` writes a gzip WARC 1.1 file with warcio: a ``warcinfo`` record,
then a ``request`` and a ``response`` record per fetched page, which the usual
WARC tools read (``warcio.archiveiterator.ArchiveIterator``, pywb, ...).
Writes run in a worker thread so compressing a 10 MB page never stalls the loop.

>>> safe_path(Path("out"), "https://Example.com/a/../../etc/passwd?x=1")
PosixPath('out/example.com/etc/passwd-q<hash>.html')
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from yarl import URL

from ._exceptions import MissingExtra, StorageError

logger = logging.getLogger(__name__)

MAX_PART = 100
MAX_RELATIVE = 220
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
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


def _safe_part(part: str, suffix: str = "") -> str:
    """One path segment (plus ``suffix``) made harmless for every common file system."""
    part = unicodedata.normalize("NFC", part)
    part = _UNSAFE.sub("_", part).strip(" .")
    if not part or set(part) <= {"."}:
        return "_"
    if part.split(".", 1)[0].lower() in _WINDOWS_RESERVED:
        part = "_" + part
    room = MAX_PART - len(suffix.encode("utf-8"))
    encoded = part.encode("utf-8")
    if len(encoded) > room:
        keep = encoded[: room - 9].decode("utf-8", errors="ignore")
        part = f"{keep}-{_digest(part)}"
    return part + suffix


def safe_relative_path(url: str, content_type: str = "") -> Path:
    """The path, relative to a save directory, where ``url``'s body goes.

    ``host[_port]/dir/.../name[-q<hash>].ext``: a directory URL gets ``index``, a
    name without extension gets one from the content type (``.html`` by
    default), and a query adds a short hash so ``?page=2`` is its own file.
    """
    parsed = URL(url)
    host = _safe_part((parsed.host or "nohost").lower())
    if parsed.explicit_port is not None and not parsed.is_default_port():
        host = f"{host}_{parsed.port}"
    # URL.parts decodes %2F into "/" inside one part; we sanitise each part anyway.
    segments = [p for p in parsed.path.split("/")]
    directory_url = parsed.path.endswith("/") or not parsed.path
    names = [s for s in segments if s not in ("", ".", "..")]
    if directory_url or not names:
        names.append("index")
    parts = [_safe_part(s) for s in names[:-1]]
    stem, dot, ext = names[-1].rpartition(".")
    if not dot or not stem.strip(" .") or not 0 < len(ext) <= 8:
        stem, ext = names[-1], _EXTENSIONS.get(content_type, ".html").lstrip(".")
    if parsed.raw_query_string:
        stem = f"{stem}-q{_digest(parsed.raw_query_string)}"
    parts.append(_safe_part(stem, suffix="." + _safe_part(ext)))
    relative = Path(host, *parts)
    if len(str(relative)) > MAX_RELATIVE:
        relative = Path(host, "_long", f"{_digest(url, 8)}.{ext[:8]}")
    return relative


def safe_path(root: Path, url: str, content_type: str = "") -> Path:
    """``root / safe_relative_path(url)``, checked to stay inside ``root``."""
    path = root / safe_relative_path(url, content_type)
    resolved_root = root.resolve()
    if not path.resolve().is_relative_to(resolved_root):  # defence in depth: cannot happen
        raise ValueError(f"refusing to save {url!r} outside {root}")
    return path


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
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            # "/a" saved as a file, then "/a/b" needs "a" as a directory (or the reverse).
            ext = path.suffix or ".html"
            host_dir = self.root / path.relative_to(self.root).parts[0]
            path = host_dir / "_clash" / f"{_digest(url, 8)}{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
        self.saved += 1
        return path

    async def save(self, url: str, content_type: str, body: bytes) -> Path:
        """Write ``body`` to its safe path (in a thread) and return the path."""
        return await asyncio.to_thread(self._write, url, content_type, body)


# Hop-by-hop and encoding headers describe the bytes on the wire; we store the
# decoded body, so they would lie about the record's payload.
_DROP_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length", "connection"})


class WarcArchive:
    """A gzip WARC file of request/response pairs (``--warc FILE.warc.gz``)."""

    def __init__(self, path: Path, *, software: str = "corocrawl") -> None:
        try:
            from warcio.statusandheaders import StatusAndHeaders
            from warcio.warcwriter import WARCWriter
        except ImportError:
            raise MissingExtra("--warc needs warcio: pip install 'corocrawl[warc]'") from None
        self._status_and_headers = StatusAndHeaders
        self.path = path
        self.records = 0
        self._lock = asyncio.Lock()
        try:
            self._file: BinaryIO = open(path, "wb")  # noqa: SIM115 (closed in close())
        except OSError as exc:
            raise StorageError(f"cannot write WARC file {path}: {exc.strerror}") from None
        self._writer = WARCWriter(self._file, gzip=path.name.endswith(".gz"), warc_version="1.1")
        info = self._writer.create_warcinfo_record(
            path.name, {"software": software, "format": "WARC File Format 1.1"}
        )
        self._writer.write_record(info)

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
            http_headers=self._status_and_headers(
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
            http_headers=self._status_and_headers(
                f"{status} {reason}".strip(), headers, protocol="HTTP/1.1"
            ),
            warc_headers_dict=warc_headers,
        )
        self._writer.write_request_response_pair(request, response)
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
