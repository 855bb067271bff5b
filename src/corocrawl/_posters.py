"""Download movie posters into a directory, safely and politely.

Each poster lands as ``<subject_id>-<sha256[:12]>.<ext>``, where ``ext`` comes
from the image's own first bytes (JPEG, PNG, WebP, GIF or AVIF), never from
the server's Content-Type. The rules that make this safe to run on data from
the network, and safe to interrupt:

* the subject id is reduced to ASCII digits, so no name can leave ``dest``;
  all of them are kept (up to ``MAX_SUBJECT_DIGITS``), so two ids never share
  a file;
* only bodies that are one of those image types, up to ``max_bytes``, are
  kept: an HTML page or an SVG served as ``image/png`` is refused;
* the body is streamed into a hidden temp file in ``dest`` and renamed with
  ``os.replace`` once complete, so a crash, an error or a cancel never leaves a
  partial poster behind (the temp file is removed on every exit path);
* a poster already on disk for a subject id is not fetched again;
* a full disk stops the whole download with ``StorageError`` (one line):
  the posters that are missing are fetched by the next run.

Concurrency is capped globally (a fixed pool of workers) and per host by the
engine's per-host slots (``corocrawl._politeness.HostSlots``): the same
politeness rules the crawl follows, including a spider's host policy (douban's
own hosts: one connection, ~2 s apart). Pass the crawl's ``slots`` to share
them with a crawl that is still running.

    >>> report = asyncio.run(download_posters(items, "posters"))
    >>> report.paths["1292052"]
    PosixPath('posters/1292052-3f2a9c81b0de.jpg')
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp
from yarl import URL

from ._exceptions import StorageError
from ._politeness import HostPolicy, HostRule, HostSlots

logger = logging.getLogger(__name__)

#: The image types we keep: file extension → its leading "magic" bytes test.
_POSTER_NAME = re.compile(
    r"^(?P<sid>[0-9]+)-(?P<digest>[0-9a-f]{12})\.(?P<ext>jpg|png|webp|gif|avif)$"
)
#: Bytes needed to tell the image types apart.
_SNIFF_BYTES = 32
#: A file name holds at most 255 bytes: digits, "-", 12 hex digits, "." and 4.
MAX_SUBJECT_DIGITS = 200
_NON_DIGITS = re.compile(r"[^0-9]")
_CHUNK = 64 * 1024
_TEMP_PREFIX = ".poster-"

DEFAULT_MAX_BYTES = 20 * 1024 * 1024

Status = Literal["downloaded", "exists", "skipped", "failed"]


class PosterError(Exception):
    """One poster could not be stored; the message says why (kept in the report)."""


@dataclass(frozen=True, slots=True)
class PosterResult:
    """What happened to one item's poster."""

    subject_id: str
    url: str | None
    status: Status
    path: Path | None = None
    size: int = 0
    error: str | None = None


@dataclass(slots=True)
class PosterReport:
    """All results of a :func:`download_posters` run."""

    results: list[PosterResult] = field(default_factory=list)

    def count(self, status: Status) -> int:
        """How many results have ``status``."""
        return sum(1 for r in self.results if r.status == status)

    @property
    def paths(self) -> dict[str, Path]:
        """subject id → local poster file, for every poster now on disk."""
        return {r.subject_id: r.path for r in self.results if r.path is not None}

    @property
    def failures(self) -> list[PosterResult]:
        """The results that failed, with their error message."""
        return [r for r in self.results if r.status == "failed"]


def safe_subject_id(value: object) -> str | None:
    """The ASCII digits of ``value``, or None when there are none.

    >>> safe_subject_id("../../etc/1292052")
    '1292052'
    """
    if value is None:
        return None
    digits = _NON_DIGITS.sub("", str(value))
    if len(digits) > MAX_SUBJECT_DIGITS:  # cutting would give two movies one poster
        return None
    return digits or None


def find_poster(dest: str | os.PathLike[str], subject_id: object) -> Path | None:
    """The complete poster file stored in ``dest`` for ``subject_id``, if any.

    Temp files are hidden (``.poster-…``) and never match, so a file this returns
    was written completely.
    """
    sid = safe_subject_id(subject_id)
    directory = Path(dest)
    if sid is None or not directory.is_dir():
        return None
    for candidate in sorted(directory.glob(f"{sid}-*")):
        match = _POSTER_NAME.match(candidate.name)
        if match and match["sid"] == sid and candidate.is_file():
            return candidate
    return None


def sniff_image(head: bytes) -> str | None:
    """The file extension of the image that starts with ``head``, or None.

    Looks at the bytes only: what the server says the type is does not count.
    SVG is never an image here: it is a document that can carry scripts.

    >>> sniff_image(b"\\x89PNG\\r\\n\\x1a\\n...")
    'png'
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":  # ISO-BMFF: the major brand, then the compatible ones
        box = min(int.from_bytes(head[:4], "big"), len(head))
        brands = [head[8:12]] + [head[i : i + 4] for i in range(16, box - 3, 4)]
        if b"avif" in brands or b"avis" in brands:
            return "avif"
    return None


async def download_posters(
    items: Iterable[Mapping[str, Any]],
    dest: str | os.PathLike[str],
    *,
    session: aiohttp.ClientSession | None = None,
    slots: HostSlots | None = None,
    host_policy: HostPolicy | None = None,
    concurrency: int = 8,
    per_host: int = 4,
    delay: float = 0.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    request_timeout: float = 60.0,
    retries: int = 2,
    user_agent: str | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
    proxy: str | None = None,
    on_result: Callable[[PosterResult], None] | None = None,
) -> PosterReport:
    """Download the poster of every item into ``dest``; never raises for one poster.

    Uses ``item["poster_url"]``, else ``item["thumb_url"]`` (a movie whose detail
    page failed still gets its small poster). ``session`` is reused if given
    (the crawl's session), else one is opened and closed here. ``slots`` are
    the per-host slots to use; by default new ones from ``per_host``, ``delay``
    and ``host_policy`` (e.g. ``douban_host_policy``). ``on_result`` is called
    with each result as it comes (for progress displays). ``extra_headers`` and
    ``proxy`` are the crawl's (``CrawlConfig.headers``/``proxy``); without a proxy
    an own session honours HTTP_PROXY/HTTPS_PROXY/NO_PROXY, as the crawl does.

        >>> report = await download_posters(items, "posters", concurrency=16)
        >>> report.count("downloaded"), report.failures
    """
    directory = Path(dest)
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    if slots is None:
        slots = HostSlots(HostRule(per_host, delay), host_policy)
    report = PosterReport()
    # One entry per subject id: the same poster is never fetched twice in a run.
    jobs: dict[str, str | None] = {}
    for item in items:
        sid = safe_subject_id(item.get("subject_id"))
        url = item.get("poster_url") or item.get("thumb_url")
        if sid is None:
            report.results.append(
                PosterResult(str(item.get("subject_id")), url, "skipped", error="no subject id")
            )
            continue
        if sid not in jobs or (jobs[sid] is None and url):
            jobs[sid] = str(url) if url else None

    headers = {"User-Agent": user_agent} if user_agent else {}
    headers.update(extra_headers)
    async with contextlib.AsyncExitStack() as stack:
        if session is None:
            session = await stack.enter_async_context(
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=request_timeout),
                                      trust_env=True)
            )
        downloader = _Downloader(directory, session, slots, max_bytes, retries, headers or None,
                                 proxy)
        # A bounded pool of workers over a queue: one task per worker, not per poster.
        queue: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()
        for job in jobs.items():
            queue.put_nowait(job)

        async def worker() -> None:
            while True:
                try:
                    sid, url = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                result = await downloader.one(sid, url)
                report.results.append(result)
                if on_result is not None:
                    on_result(result)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(max(1, min(concurrency, len(jobs)))):
                    group.create_task(worker())
        except* StorageError as failed:  # a full disk: one line, not a traceback group
            raise failed.exceptions[0] from None
    logger.info(
        "posters: %d downloaded, %d already there, %d failed, %d skipped",
        report.count("downloaded"),
        report.count("exists"),
        report.count("failed"),
        report.count("skipped"),
    )
    return report


@dataclass(slots=True)
class _Downloader:
    directory: Path
    session: aiohttp.ClientSession
    slots: HostSlots
    max_bytes: int
    retries: int
    headers: dict[str, str] | None
    proxy: str | None = None

    async def one(self, sid: str, url: str | None) -> PosterResult:
        existing = find_poster(self.directory, sid)
        if existing is not None:
            return PosterResult(sid, url, "exists", existing, existing.stat().st_size)
        if url is None:
            return PosterResult(sid, None, "skipped", error="no poster URL")
        try:
            parsed = URL(url)
        except ValueError:
            return PosterResult(sid, url, "failed", error="invalid URL")
        if parsed.scheme not in ("http", "https") or not parsed.host:
            return PosterResult(sid, url, "failed", error="not an http(s) URL")
        host = f"{parsed.host}:{parsed.port}"
        for attempt in range(self.retries + 1):
            try:
                async with self.slots.get(host).hold():
                    path, size = await self._fetch(sid, parsed)
                return PosterResult(sid, url, "downloaded", path, size)
            except PosterError as exc:
                return PosterResult(sid, url, "failed", error=str(exc))
            except (aiohttp.ClientError, TimeoutError, _Transient) as exc:
                if attempt == self.retries:
                    message = str(exc) or type(exc).__name__
                    return PosterResult(sid, url, "failed", error=message)
                await asyncio.sleep(min(0.25 * 2**attempt, 5.0))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _fetch(self, sid: str, url: URL) -> tuple[Path, int]:
        async with self.session.get(url, headers=self.headers, allow_redirects=True,
                                    proxy=self.proxy) as resp:
            if resp.status >= 500 or resp.status == 429:
                raise _Transient(f"HTTP {resp.status}")
            if resp.status != 200:
                raise PosterError(f"HTTP {resp.status}")
            if resp.content_length is not None and resp.content_length > self.max_bytes:
                raise PosterError(f"too large: {resp.content_length} bytes > {self.max_bytes}")
            digest = hashlib.sha256()
            size = 0
            head = b""
            ext: str | None = None
            declared = resp.headers.get("Content-Type")
            temp = self.directory / f"{_TEMP_PREFIX}{sid}-{secrets.token_hex(6)}.part"
            try:
                # Plain writes: posters are small and local disks are fast next to the
                # network; a thread hop per 64 KiB chunk would cost more than it saves.
                with temp.open("xb") as out:
                    async for chunk in resp.content.iter_chunked(_CHUNK):
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise PosterError(f"too large: more than {self.max_bytes} bytes")
                        if ext is None:
                            head += chunk[: _SNIFF_BYTES - len(head)]
                            if len(head) >= _SNIFF_BYTES:
                                ext = _sniffed(head, declared)
                        digest.update(chunk)
                        out.write(chunk)
                if size == 0:
                    raise PosterError("empty body")
                ext = ext or _sniffed(head, declared)
                final = self.directory / f"{sid}-{digest.hexdigest()[:12]}.{ext}"
                os.replace(temp, final)
            except OSError as exc:
                if exc.errno in _DISK_ERRORS:
                    raise StorageError(
                        f"cannot save posters in {self.directory}: {exc.strerror}; "
                        "free some space and run the same command again"
                    ) from None
                raise PosterError(f"cannot save: {exc.strerror or exc}") from None
            finally:
                # Covers errors and cancellation alike: no partial file survives.
                temp.unlink(missing_ok=True)
            return final, size


def _sniffed(head: bytes, declared: str | None) -> str:
    ext = sniff_image(head)
    if ext is None:
        raise PosterError(
            f"not an image (JPEG, PNG, WebP, GIF or AVIF): served as {declared!r}"
        )
    return ext


#: Errors of the disk, not of one poster: stop, and let the next run finish.
_DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG})


class _Transient(Exception):
    """A status worth retrying (5xx, 429)."""
