"""Download movie posters into a directory, safely and politely.

Each poster lands as ``<subject_id>-<sha256[:12]>.<ext>``, where ``ext`` comes
from the response's Content-Type. The rules that make this safe to run on data
from the network, and safe to interrupt:

* the subject id is reduced to ASCII digits, so no name can leave ``dest``;
* only ``image/*`` responses (not SVG) up to ``max_bytes`` are kept;
* the body is streamed into a hidden temp file in ``dest`` and renamed with
  ``os.replace`` once complete, so a crash, an error or a cancel never leaves a
  partial poster behind (the temp file is removed on every exit path);
* a poster already on disk for a subject id is not fetched again.

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

from ._politeness import HostPolicy, HostRule, HostSlots

logger = logging.getLogger(__name__)

#: Content types we keep, and the file extension each gets.
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/pjpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/avif": "avif",
    "image/bmp": "bmp",
}
_POSTER_NAME = re.compile(r"^(?P<sid>[0-9]+)-(?P<digest>[0-9a-f]{12})\.(?P<ext>[a-z0-9]{1,8})$")
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
    digits = _NON_DIGITS.sub("", str(value))[:32]
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


def extension_for(content_type: str | None) -> str | None:
    """The file extension for an image Content-Type, or None if we do not keep it.

    SVG is refused: it is a document that can carry scripts, not a poster.
    """
    if not content_type:
        return None
    mime = content_type.split(";", 1)[0].strip().lower()
    if not mime.startswith("image/") or "svg" in mime:
        return None
    if mime in _EXTENSIONS:
        return _EXTENSIONS[mime]
    subtype = re.sub(r"[^a-z0-9]", "", mime.removeprefix("image/"))[:8]
    return subtype or None


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

        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(concurrency, len(jobs)))):
                group.create_task(worker())
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
            ext = extension_for(resp.headers.get("Content-Type"))
            if ext is None:
                raise PosterError(
                    f"not an image: Content-Type {resp.headers.get('Content-Type')!r}"
                )
            if resp.content_length is not None and resp.content_length > self.max_bytes:
                raise PosterError(f"too large: {resp.content_length} bytes > {self.max_bytes}")
            digest = hashlib.sha256()
            size = 0
            temp = self.directory / f"{_TEMP_PREFIX}{sid}-{secrets.token_hex(6)}.part"
            try:
                # Plain writes: posters are small and local disks are fast next to the
                # network; a thread hop per 64 KiB chunk would cost more than it saves.
                with temp.open("xb") as out:
                    async for chunk in resp.content.iter_chunked(_CHUNK):
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise PosterError(f"too large: more than {self.max_bytes} bytes")
                        digest.update(chunk)
                        out.write(chunk)
                if size == 0:
                    raise PosterError("empty body")
                final = self.directory / f"{sid}-{digest.hexdigest()[:12]}.{ext}"
                os.replace(temp, final)
            finally:
                # Covers errors and cancellation alike: no partial file survives.
                temp.unlink(missing_ok=True)
            return final, size


class _Transient(Exception):
    """A status worth retrying (5xx, 429)."""
