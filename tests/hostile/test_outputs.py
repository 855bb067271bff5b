"""Issue 12, side outputs: a hostile server cannot crash --warc, --save-pages,
--posters or the gallery, make them lose or overwrite a page, or make a full
disk look like a finished page. One test (or two) per row: F3, F7-F11, and the
two minor ones (long subject ids, a database in a read-only directory).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from corocrawl import CrawlConfig, Timeouts, cli
from corocrawl._archive import WarcArchive, safe_relative_path, url_path_of
from corocrawl._exceptions import StorageError
from corocrawl._posters import download_posters, find_poster
from corocrawl.report import render_gallery
from corocrawl.spiders._pagestore import read_pages
from corocrawl.spiders.generic import GenericCrawl, GenericOptions

from .outputs_server import (
    BAD_HEADER,
    COLLIDING,
    PNG,
    OutputsServer,
    bad_header_site,
    chain_site,
    colliding_site,
    poster_site,
    serving,
)

FAST = CrawlConfig(timeouts=Timeouts(connect=2.0, read=2.0, total=5.0), retries=0,
                   concurrency=4)
QUIET = ["--timeout", "5", "--retries", "0", "-q", "--no-autothrottle"]


def crawl(server: OutputsServer, db: Path, *, config: CrawlConfig = FAST,
          **options: object) -> GenericCrawl:
    return GenericCrawl(GenericOptions([server.url("/")], **options),  # type: ignore[arg-type]
                        config=config, db=db)


def warc_responses(path: Path) -> list[tuple[str, bytes]]:
    """(target URI, raw HTTP header block) of every response record in ``path``."""
    found = []
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream, no_record_parse=True):
            if record.rec_type == "response":
                block = record.raw_stream.read()  # the HTTP header block, then the body
                found.append((record.rec_headers.get_header("WARC-Target-URI"), block))
    return found


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 96 KiB file system (tmpfs), unmounted at the end: it fills up for real."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=False)  # busy: detach it


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> None:
    wanted = ("_crawl", "_status", "_export", "_report", "_links")
    only = tuple(c for c in cli.COMMANDS if c[1] in wanted)
    monkeypatch.setattr(cli, "COMMANDS", only)


# -- F3: headers that are not UTF-8 -------------------------------------------------


async def test_f3_non_utf8_headers_are_written_as_bytes(tmp_path: Path) -> None:
    warc = tmp_path / "site.warc.gz"
    with serving(bad_header_site()) as server:
        result = await crawl(server, tmp_path / "site.db", warc=warc).crawl()
    records = {r["requested_url"]: r for r in read_pages(tmp_path / "site.db")}
    assert len(records) == 4
    assert records[server.url("/bad-404")]["status"] == 404
    assert records[server.url("/bad-200")]["status"] == 200
    responses = dict(warc_responses(warc))
    assert set(responses) == set(records)  # no record lost, the crawl did not crash
    for target in ("/bad-404", "/bad-200"):
        assert b"X-Hostile: " + BAD_HEADER + b"\r\n" in responses[server.url(target)]
    assert responses[server.url("/bad-404")].startswith(b"HTTP/1.1 404 ")
    assert result.warc_records == 8


# -- F7: the poster's extension comes from its bytes --------------------------------


async def test_f7_poster_type_is_sniffed_and_non_images_are_refused(tmp_path: Path) -> None:
    dest = tmp_path / "posters"
    with serving(poster_site()) as server:
        targets = list(server.pages)
        items = [{"subject_id": str(100 + i), "poster_url": server.url(t)}
                 for i, t in enumerate(targets)]
        report = await download_posters(items, dest, retries=0)
    by_target = {r.url.rsplit("/", 1)[1]: r for r in report.results if r.url}
    for refused in ("php", "html", "traversal", "svg"):
        assert by_target[refused].status == "failed"
        assert "not an image" in (by_target[refused].error or "")
    kept = {name: by_target[name].path for name in by_target if by_target[name].path}
    assert {name: path.suffix for name, path in kept.items()} == {
        "png-as-php": ".png", "jpeg-as-octets": ".jpg", "gif": ".gif",
        "webp": ".webp", "avif": ".avif", "big-png": ".png",
    }
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in kept.values())
    assert not _named(tmp_path, "**/*.php", "**/*.html")


def _named(root: Path, *patterns: str) -> list[Path]:
    return [path for pattern in patterns for path in root.glob(pattern)]


async def test_minor_long_subject_ids_get_their_own_poster(tmp_path: Path) -> None:
    one, two = "1" * 32 + "1" * 8, "1" * 32 + "2" * 8  # equal in their first 32 digits
    with serving(poster_site()) as server:
        items = [{"subject_id": one, "poster_url": server.url("/gif")},
                 {"subject_id": two, "poster_url": server.url("/webp")}]
        report = await download_posters(items, tmp_path)
    assert report.count("downloaded") == 2
    first, second = find_poster(tmp_path, one), find_poster(tmp_path, two)
    assert first is not None and second is not None and first != second
    assert (first.suffix, second.suffix) == (".gif", ".webp")


# -- F8: --save-pages never overwrites ------------------------------------------------


async def test_f8_every_page_gets_its_own_file(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    with serving(colliding_site()) as server:
        await crawl(server, tmp_path / "site.db", save_pages=mirror).crawl()
        records = read_pages(tmp_path / "site.db")
    saved = [r for r in records if r["status"] == 200]
    assert len(saved) == len(COLLIDING) + 1 and all(r["error"] is None for r in saved)
    files = [p for p in mirror.rglob("*") if p.is_file()]
    assert len(files) == len(saved)  # nothing was overwritten
    bodies = {p.read_bytes() for p in files}
    for target in COLLIDING:
        assert any(f"page {target}</html>".encode() in body for body in bodies), target


def test_f8_names_decode_back_to_their_url() -> None:
    for target in COLLIDING:
        url = f"http://e.test{target}"
        relative = safe_relative_path(url)
        if "%long" not in relative.parts and "%~" not in relative.name:
            assert url_path_of(relative) == target, (target, relative)


# -- F9: a full disk under a side output ------------------------------------------------


@pytest.mark.usefixtures("commands")
@pytest.mark.parametrize("output", ["--save-pages", "--warc"])
def test_f9_full_disk_stops_with_one_line_and_resumes(
    output: str, small_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "site.db"
    target = small_disk / ("mirror" if output == "--save-pages" else "site.warc")
    with serving(chain_site(12, size=20_000)) as server:
        code = cli.main(["crawl", server.url("/"), "--db", str(db), output, str(target),
                         *QUIET])
        err = capsys.readouterr().err
        assert code != 0
        assert "Traceback" not in err and "ExceptionGroup" not in err
        lines = [line for line in err.splitlines() if line.startswith("corocrawl:")]
        assert len(lines) == 1 and "free some space" in lines[0], err
        stored = {r["requested_url"] for r in read_pages(db)}
        assert len(stored) < 13  # the disk filled before the end

        # Space comes back: the same command finishes the job, nothing is missing.
        subprocess.run(["mount", "-o", "remount,size=2m", str(small_disk)], check=True)
        code = cli.main(["crawl", server.url("/"), "--db", str(db), output, str(target),
                         *QUIET])
        assert code == 0, capsys.readouterr().err
    records = read_pages(db)
    assert len(records) == 13 and all(r["status"] == 200 for r in records)
    if output == "--save-pages":
        files = [p for p in target.rglob("*") if p.is_file()]
        assert len(files) == 13
    else:
        assert {uri for uri, _ in warc_responses(target)} == {r["url"] for r in records}


def test_f9_full_disk_under_posters_is_one_storage_error(small_disk: Path) -> None:
    with serving({f"/{i}.png": poster_site()["/big-png"] for i in range(4)}) as server:
        items = [{"subject_id": str(i), "poster_url": server.url(f"/{i}.png")}
                 for i in range(4)]
        with pytest.raises(StorageError, match="free some space") as info:
            asyncio.run(download_posters(items, small_disk, concurrency=1, retries=0))
        assert "\n" not in str(info.value)
        assert not [p for p in small_disk.iterdir() if p.name.startswith(".")]  # no temp
        subprocess.run(["mount", "-o", "remount,size=2m", str(small_disk)], check=True)
        again = asyncio.run(download_posters(items, small_disk, retries=0))
    assert again.count("downloaded") + again.count("exists") == 4


# -- F10: --warc across resumes ------------------------------------------------------


@pytest.mark.usefixtures("commands")
def test_f10_resume_appends_to_the_warc(tmp_path: Path) -> None:
    db, warc = tmp_path / "site.db", tmp_path / "site.warc.gz"
    runs = 0
    with serving(chain_site(30)) as server:
        while len(read_pages(db) if db.exists() else []) < 31 and runs < 10:
            assert cli.main(["crawl", server.url("/"), "--db", str(db), "--warc", str(warc),
                             "--max-pages", "7", *QUIET]) == 0
            runs += 1
    assert runs >= 5
    pages = {r["url"] for r in read_pages(db)}
    assert len(pages) == 31
    assert {uri for uri, _ in warc_responses(warc)} == pages


def test_f10_kill_9_and_resume_keeps_every_record(tmp_path: Path) -> None:
    db, warc = tmp_path / "site.db", tmp_path / "site.warc.gz"
    with serving(chain_site(60, size=2_000)) as server:
        command = [sys.executable, "-m", "corocrawl", "crawl", server.url("/"), "--db",
                   str(db), "--warc", str(warc), "--delay", "0.05", "--concurrency", "2",
                   *QUIET]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                if db.exists() and _stored(db) >= 10:
                    break
                time.sleep(0.05)
            assert proc.poll() is None, "the crawl ended before it could be killed"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
            assert proc.stderr is not None
            proc.stderr.close()
        before = len(warc_responses(warc))
        assert 0 < before < 61
        done = subprocess.run(command, capture_output=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr.decode()
    pages = {r["url"] for r in read_pages(db)}
    assert len(pages) == 61
    assert pages <= {uri for uri, _ in warc_responses(warc)}


def _stored(db: Path) -> int:
    try:
        with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM crawl_pages").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("name", ["cut.warc.gz", "cut.warc"])
async def test_f10_a_record_cut_by_a_kill_is_dropped_before_appending(
    name: str, tmp_path: Path
) -> None:
    warc = tmp_path / name
    archive = WarcArchive(warc)
    for i in range(3):
        await archive.write(url=f"http://e.test/{i}", status=200,
                            response_headers=[("Content-Type", "text/html")], body=b"x" * 500)
    await archive.close()
    with warc.open("r+b") as file:  # the kill -9 came in the middle of the last record
        file.truncate(warc.stat().st_size - 40)
    archive = WarcArchive(warc)
    await archive.write(url="http://e.test/after", status=200,
                        response_headers=[("Content-Type", "text/html")], body=b"y")
    await archive.close()
    uris = [uri for uri, _ in warc_responses(warc)]
    assert uris[-1] == "http://e.test/after" and "http://e.test/0" in uris


# -- F11: the gallery loads no remote poster unless asked ---------------------------------


def test_f11_gallery_shows_only_local_posters_by_default(tmp_path: Path) -> None:
    posters = tmp_path / "posters"
    posters.mkdir()
    (posters / "1-0123456789ab.png").write_bytes(PNG)
    movies = [
        {"subject_id": "1", "name": "local", "poster_url": "http://evil.test/1.jpg"},
        {"subject_id": "2", "name": "refused", "poster_url": "http://evil.test/bomb.jpg",
         "thumb_url": "http://evil.test/thumb.jpg"},
    ]
    page = render_gallery(movies, poster_dir=posters, page_dir=tmp_path)
    assert "evil.test/bomb" not in page and "evil.test/thumb" not in page
    assert 'src="posters/1-0123456789ab.png"' in page and "noposter" in page
    remote = render_gallery(movies, poster_dir=posters, page_dir=tmp_path, remote_posters=True)
    assert 'src="http://evil.test/bomb.jpg"' in remote


# -- minor: a database in a read-only directory -------------------------------------------


@pytest.mark.usefixtures("commands")
def test_minor_status_export_report_read_a_database_in_a_read_only_directory(
    small_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subprocess.run(["mount", "-o", "remount,size=2m", str(small_disk)], check=True)
    db = small_disk / "site.db"
    with serving(chain_site(3)) as server:
        assert cli.main(["crawl", server.url("/"), "--db", str(db), *QUIET]) == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    before = sorted(p.name for p in small_disk.iterdir())
    assert cli.main(["status", "--db", str(db)]) == 0, capsys.readouterr().err
    out = tmp_path / "items.jsonl"
    assert cli.main(["export", "--db", str(db), "-o", str(out)]) in (0, 1)
    assert cli.main(["report", "--db", str(db), "-o", str(tmp_path / "m.html")]) in (0, 1)
    assert cli.main(["links", "--db", str(db)]) in (0, 1)
    err = capsys.readouterr().err
    assert "cannot open" not in err and "Traceback" not in err, err
    assert sorted(p.name for p in small_disk.iterdir()) == before
