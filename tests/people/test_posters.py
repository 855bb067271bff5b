from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from corocrawl._posters import (
    download_posters,
    find_poster,
    safe_subject_id,
    sniff_image,
)

from .conftest import ImageServer


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def test_downloads_names_by_id_and_hash_and_skips_existing(
    image_server: ImageServer, tmp_path: Path
) -> None:
    items = [
        {"subject_id": str(1000 + i), "poster_url": image_server.url(f"/poster/{i}.png")}
        for i in range(12)
    ]
    report = await download_posters(items, tmp_path, concurrency=4, per_host=3)
    assert report.count("downloaded") == 12, report.failures
    names = _files(tmp_path)
    assert len(names) == 12
    for name in names:
        sid, rest = name.split("-", 1)
        assert sid.startswith("10") and rest.endswith(".png") and len(rest) == 12 + 4
    assert find_poster(tmp_path, "1003") == report.paths["1003"]

    again = await download_posters(items, tmp_path)
    assert again.count("exists") == 12
    assert sum(image_server.hits.values()) == 12  # nothing fetched twice
    assert _files(tmp_path) == names


async def test_extension_comes_from_the_bytes_not_content_type_or_url(
    image_server: ImageServer, tmp_path: Path
) -> None:
    # /photo.jpg serves PNG bytes as image/jpeg: the bytes decide.
    report = await download_posters(
        [{"subject_id": "42", "poster_url": image_server.url("/photo.jpg")}], tmp_path
    )
    assert report.paths["42"].suffix == ".png"


async def test_bad_responses_fail_cleanly_and_leave_no_files(
    image_server: ImageServer, tmp_path: Path
) -> None:
    items = [
        {"subject_id": "1", "poster_url": image_server.url("/page.html")},
        {"subject_id": "2", "poster_url": image_server.url("/huge.png")},
        {"subject_id": "3", "poster_url": image_server.url("/declared-huge.png")},
        {"subject_id": "4", "poster_url": image_server.url("/missing.png")},
        {"subject_id": "5", "poster_url": image_server.url("/vector.svg")},
        {"subject_id": "6", "poster_url": "http://127.0.0.1:1/refused.png"},
        {"subject_id": "7", "poster_url": "javascript:alert(1)"},
        {"subject_id": "8", "poster_url": None, "thumb_url": None},
        {"subject_id": "9", "poster_url": image_server.url("/poster/9.png")},
    ]
    report = await download_posters(items, tmp_path, max_bytes=200_000, retries=0)
    by_id = {r.subject_id: r for r in report.results}
    assert "not an image" in (by_id["1"].error or "")
    assert "too large" in (by_id["2"].error or "")
    assert "too large" in (by_id["3"].error or "")
    assert by_id["4"].error == "HTTP 404"
    assert "not an image" in (by_id["5"].error or "")
    assert by_id["6"].status == "failed"
    assert by_id["7"].error == "not an http(s) URL"
    assert by_id["8"].status == "skipped"
    assert by_id["9"].status == "downloaded"
    assert _files(tmp_path) == [report.paths["9"].name]


async def test_retries_a_5xx(image_server: ImageServer, tmp_path: Path) -> None:
    report = await download_posters(
        [{"subject_id": "77", "poster_url": image_server.url("/flaky.png")}], tmp_path, retries=2
    )
    assert report.count("downloaded") == 1
    assert image_server.hits["/flaky.png"] == 2


async def test_falls_back_to_thumb_url(image_server: ImageServer, tmp_path: Path) -> None:
    item = {"subject_id": "5", "poster_url": None, "thumb_url": image_server.url("/poster/5.png")}
    report = await download_posters([item], tmp_path)
    assert report.count("downloaded") == 1


async def test_network_names_cannot_escape_dest(image_server: ImageServer, tmp_path: Path) -> None:
    dest = tmp_path / "posters"
    items = [
        {"subject_id": "../../evil/123", "poster_url": image_server.url("/poster/1.png")},
        {"subject_id": "/etc/passwd", "poster_url": image_server.url("/poster/2.png")},
    ]
    report = await download_posters(items, dest)
    assert _files(tmp_path) == ["posters"]
    assert [p.name.split("-")[0] for p in dest.iterdir()] == ["123"]
    assert {r.status for r in report.results} == {"downloaded", "skipped"}
    assert safe_subject_id("１２３") is None  # full-width digits are not ASCII digits
    assert safe_subject_id("9" * 40) == "9" * 40  # never cut: two ids would share a file
    assert safe_subject_id("9" * 201) is None  # too long for a file name


async def test_cancel_mid_download_leaves_no_partial_file(
    image_server: ImageServer, tmp_path: Path
) -> None:
    task = asyncio.create_task(
        download_posters(
            [{"subject_id": "9", "poster_url": image_server.url("/slow.png")}], tmp_path
        )
    )
    for _ in range(200):  # bounded wait until the temp file exists
        if os.listdir(tmp_path):
            break
        await asyncio.sleep(0.01)
    assert any(name.startswith(".poster-") for name in os.listdir(tmp_path))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert os.listdir(tmp_path) == []


async def test_per_host_cap_and_host_policy(image_server: ImageServer, tmp_path: Path) -> None:
    from corocrawl._politeness import HostRule

    items = [
        {"subject_id": str(i), "poster_url": image_server.url(f"/poster/{i}.png")}
        for i in range(4)
    ]
    seen: list[str] = []

    def policy(host: str) -> HostRule | None:
        seen.append(host)
        return HostRule(per_host=1, delay=0.05, jitter=0.0)

    started = asyncio.get_running_loop().time()
    report = await download_posters(items, tmp_path, concurrency=4, host_policy=policy)
    elapsed = asyncio.get_running_loop().time() - started
    assert report.count("downloaded") == 4
    assert seen and seen[0].startswith("127.0.0.1:")
    assert elapsed >= 0.14  # one connection, 50 ms apart: the policy was obeyed


def test_sniff_image() -> None:
    assert sniff_image(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "jpg"
    assert sniff_image(b"GIF87a...") == "gif"
    assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert sniff_image(b"\x00\x00\x00\x20ftypmif1\x00\x00\x00\x00mif1avifmiaf") == "avif"
    assert sniff_image(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom") is None
    assert sniff_image(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None
    assert sniff_image(b"<html>") is None and sniff_image(b"") is None
