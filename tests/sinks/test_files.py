"""JSONL, JSON and CSV exports, written to real files."""

from __future__ import annotations

import codecs
import csv
import json
import os
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from corocrawl._exceptions import StorageError, UsageError
from corocrawl.sinks._files import check_export_path, export_format, export_items

MOVIES: list[dict[str, Any]] = [
    {
        "name": "教授与疯子",
        "date": "12月24日",
        "wants": 16577,
        "region": "爱尔兰",
        "tags": ["a", "b"],
    },
    {"name": 'Tom & "Jerry", 猫和老鼠\nline two', "date": "02月26日", "wants": None},
    {"name": "🎬 emoji", "wants": 0, "extra": {"k": "值"}},
]
FIELDS = ("name", "date", "region", "wants")


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".JSONL"])
def test_jsonl_round_trip_keeps_non_ascii_unescaped(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"movies{suffix}"
    assert export_items(MOVIES, path, None) == 3
    raw = path.read_bytes()
    assert "教授与疯子".encode() in raw and b"\\u" not in raw
    lines = raw.decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == MOVIES
    assert _leftovers(tmp_path) == []


def test_jsonl_with_fields_has_exactly_those_keys(tmp_path: Path) -> None:
    path = tmp_path / "movies.jsonl"
    export_items(iter(MOVIES), str(path), FIELDS)
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert all(list(row) == list(FIELDS) for row in rows)
    assert rows[2] == {"name": "🎬 emoji", "date": None, "region": None, "wants": 0}


def test_csv_has_bom_header_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "movies.csv"
    assert export_items(MOVIES, path, FIELDS) == 3
    assert path.read_bytes().startswith(codecs.BOM_UTF8)
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(FIELDS)
    assert rows[1] == ["教授与疯子", "12月24日", "爱尔兰", "16577"]
    assert rows[2] == ['Tom & "Jerry", 猫和老鼠\nline two', "02月26日", "", ""]
    assert rows[3] == ["🎬 emoji", "", "", "0"]
    with path.open(encoding="utf-8-sig", newline="") as f:
        assert next(csv.DictReader(f))["name"] == "教授与疯子"


def test_csv_without_fields_uses_union_of_keys(tmp_path: Path) -> None:
    path = tmp_path / "movies.csv"
    export_items(MOVIES, path, None)
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["name", "date", "wants", "region", "tags", "extra"]
    assert rows[0]["tags"] == '["a","b"]'
    assert json.loads(rows[2]["extra"]) == {"k": "值"}


def test_dates_and_numbers_read_naturally_in_both_formats(tmp_path: Path) -> None:
    row = {"release_date": date(2020, 1, 5), "seen": datetime(2020, 1, 5, 8, 30), "score": 8.5}
    export_items([row], tmp_path / "d.csv", None)
    with (tmp_path / "d.csv").open(encoding="utf-8-sig", newline="") as f:
        assert next(csv.DictReader(f)) == {
            "release_date": "2020-01-05",
            "seen": "2020-01-05T08:30:00",
            "score": "8.5",
        }
    export_items([row], tmp_path / "d.jsonl", None)
    assert json.loads((tmp_path / "d.jsonl").read_text("utf-8")) == {
        "release_date": "2020-01-05",
        "seen": "2020-01-05T08:30:00",
        "score": 8.5,
    }


def test_empty_export_writes_header_only(tmp_path: Path) -> None:
    assert export_items([], tmp_path / "none.csv", FIELDS) == 0
    assert (tmp_path / "none.csv").read_bytes() == codecs.BOM_UTF8 + b"name,date,region,wants\r\n"
    assert export_items([], tmp_path / "none.jsonl", FIELDS) == 0
    assert (tmp_path / "none.jsonl").read_bytes() == b""


@pytest.mark.parametrize(
    "name", ["movies.jsn", "movies.txt", "movies", "movies.jsnol", "movies.csv.gz"]
)
def test_unknown_extension_is_a_usage_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError) as info:
        export_items(MOVIES, tmp_path / name, None)
    message = str(info.value)
    assert "\n" not in message
    assert ".jsonl" in message and ".csv" in message and ".ndjson" in message
    assert ".json," in message
    assert (Path(name).suffix or "no extension") in message
    with pytest.raises(UsageError):
        check_export_path(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_home_directory_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert check_export_path("~/m.jsonl") == tmp_path / "m.jsonl"
    assert export_items(MOVIES, "~/m.jsonl", None) == 3
    assert (tmp_path / "m.jsonl").is_file()


def test_export_format() -> None:
    assert export_format("a.CSV") == "csv"
    assert export_format("a.json") == "json"
    assert export_format(Path("x/y.ndjson")) == "jsonl"


def test_unwritable_path_is_a_storage_error(tmp_path: Path) -> None:
    # Tests run as root, which ignores chmod: a regular file as the "directory" is
    # unwritable for everyone.
    (tmp_path / "afile").write_text("x")
    for target in (tmp_path / "afile" / "x.jsonl", tmp_path / "afile" / "x.csv"):
        with pytest.raises(StorageError) as info:
            export_items(MOVIES, target, None)
        assert str(target) in str(info.value) and "\n" not in str(info.value)
        with pytest.raises(StorageError) as info:
            check_export_path(target)
        assert str(target) in str(info.value) and "not a directory" in str(info.value)


def test_check_export_path(tmp_path: Path) -> None:
    assert check_export_path(tmp_path / "ok.jsonl") == tmp_path / "ok.jsonl"
    assert list(tmp_path.iterdir()) == []  # the probe file is gone
    with pytest.raises(StorageError, match="does not exist"):
        check_export_path(tmp_path / "missing" / "x.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(StorageError, match="is a directory"):
        check_export_path(tmp_path / "dir.csv")
    with pytest.raises(StorageError):
        export_items(MOVIES, tmp_path / "dir.csv", None)
    assert _leftovers(tmp_path) == []


@pytest.mark.skipif(
    os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root ignores chmod"
)
def test_read_only_directory(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(StorageError, match="choose a writable path"):
            check_export_path(locked / "x.jsonl")
    finally:
        locked.chmod(0o700)


def test_json_is_one_array_and_agrees_with_jsonl_and_csv(tmp_path: Path) -> None:
    assert export_items(MOVIES, tmp_path / "m.json", None) == 3
    assert export_items(MOVIES, tmp_path / "m.jsonl", None) == 3
    assert export_items(MOVIES, tmp_path / "m.csv", FIELDS) == 3
    raw = (tmp_path / "m.json").read_bytes()
    assert "教授与疯子".encode() in raw and b"\\u" not in raw
    as_json = json.loads(raw)
    as_jsonl = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text("utf-8").splitlines()]
    assert as_json == as_jsonl == MOVIES
    with (tmp_path / "m.csv").open(encoding="utf-8-sig", newline="") as f:
        names = [row["name"] for row in csv.DictReader(f)]
    assert names == [movie["name"] for movie in as_json]


def test_json_export_streams_items(tmp_path: Path) -> None:
    """Each item is written before the next is asked for: no list of all items."""
    path = tmp_path / "m.json"
    written: list[int] = []

    def items() -> Iterator[dict[str, Any]]:
        for i in range(3):
            temp = next(p for p in tmp_path.iterdir() if p.name.endswith(".tmp"))
            written.append(temp.stat().st_size)
            yield {"i": i, "pad": "x" * 70000}  # past any write buffer

    assert export_items(items(), path, None) == 3
    assert written[0] < written[1] < written[2]
    assert [row["i"] for row in json.loads(path.read_bytes())] == [0, 1, 2]


def test_empty_json_export_is_an_empty_array(tmp_path: Path) -> None:
    assert export_items([], tmp_path / "none.json", FIELDS) == 0
    assert json.loads((tmp_path / "none.json").read_bytes()) == []


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_crash_mid_export_keeps_the_old_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"movies{suffix}"
    export_items(MOVIES[:1], path, None)
    before = path.read_bytes()

    def exploding() -> Iterator[dict[str, Any]]:
        yield MOVIES[0]
        yield MOVIES[1]
        raise RuntimeError("crawl died")

    with pytest.raises(RuntimeError, match="crawl died"):
        export_items(exploding(), path, None)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_overwrite_replaces_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "movies.csv"
    export_items(MOVIES, path, FIELDS)
    export_items(MOVIES[:1], path, FIELDS)
    with path.open(encoding="utf-8-sig", newline="") as f:
        assert len(list(csv.reader(f))) == 2


def test_file_mode_follows_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        export_items(MOVIES, tmp_path / "m.jsonl", None)
    finally:
        os.umask(old)
    assert (tmp_path / "m.jsonl").stat().st_mode & 0o777 == 0o644
