"""Exports to files: JSONL, JSON and CSV, chosen by the file's extension.

Exports are written whole and atomically: rows go to a temporary file in the
target's directory, which is fsynced and then ``os.replace``d over the target.
A crash mid-export leaves the previous file (or none), never half of one.

``check_export_path`` runs the same checks up front, so the CLI can reject
``-o movies.jsnol`` or an unwritable directory before an hour-long crawl.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, time
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from .._exceptions import StorageError, UsageError

__all__ = ["EXPORT_FORMATS", "check_export_path", "export_format", "export_items"]

ExportFormat = Literal["jsonl", "json", "csv"]

#: File extensions and the format each one selects.
EXPORT_FORMATS: dict[str, ExportFormat] = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv",
}

_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def export_format(path: str | Path) -> ExportFormat:
    """The export format ``path``'s extension selects, or UsageError.

    >>> export_format("movies.CSV")
    'csv'
    """
    suffix = Path(path).suffix.lower()
    try:
        return EXPORT_FORMATS[suffix]
    except KeyError:
        valid = ", ".join(EXPORT_FORMATS)
        shown = f"extension {suffix!r}" if suffix else "no extension"
        raise UsageError(
            f"cannot export to {str(path)!r}: {shown} is not a known format; use one of {valid}"
        ) from None


def _reason(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


def check_export_path(path: str | Path) -> Path:
    """Check now that ``path`` can be exported to; return it as a ``Path``.

    Raises UsageError for an unknown extension and StorageError when the file
    cannot be created (missing or read-only directory, a directory in the way).
    It really creates and removes a temporary file beside the target, because
    permission bits lie (root, ACLs, read-only mounts).

    >>> check_export_path("movies.jsonl")
    PosixPath('movies.jsonl')
    """
    target = Path(path).expanduser()
    export_format(target)
    if target.is_dir():
        raise StorageError(
            f"cannot write export {str(target)!r}: it is a directory; give a file name"
        )
    directory = target.parent
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        raise StorageError(
            f"cannot write export {str(target)!r}: {str(directory)!r} {what}; "
            "create the directory or choose another path"
        )
    probe = _temp_path(target)
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise StorageError(
            f"cannot write export {str(target)!r}: {_reason(exc)}; choose a writable path"
        ) from None
    os.close(fd)
    os.unlink(probe)
    return target


def _temp_path(target: Path) -> Path:
    # Same directory as the target, so os.replace is a rename on one file system.
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")


def _json_default(value: Any) -> Any:
    """Serialise what orjson does not know (sets, Paths, ...) as plain JSON."""
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _rows(
    items: Iterable[Mapping[str, Any]], fields: Sequence[str] | None
) -> Iterator[dict[str, Any]]:
    for item in items:
        if fields is None:
            yield dict(item)
        else:
            yield {name: item.get(name) for name in fields}


def _write_jsonl(out: IO[bytes], rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    for row in rows:
        out.write(orjson.dumps(row, default=_json_default, option=_JSON_OPTIONS))
        out.write(b"\n")
        count += 1
    return count


def _write_json(out: IO[bytes], rows: Iterable[dict[str, Any]]) -> int:
    """One JSON array, an item per line, written as the rows come (never all in memory)."""
    count = 0
    out.write(b"[")
    for row in rows:
        out.write(b",\n" if count else b"\n")
        out.write(orjson.dumps(row, default=_json_default, option=_JSON_OPTIONS))
        count += 1
    out.write(b"\n]\n" if count else b"]\n")
    return count


def _write(out: IO[bytes], fmt: ExportFormat, rows: Iterable[dict[str, Any]],
           fields: Sequence[str] | None) -> int:
    if fmt == "jsonl":
        return _write_jsonl(out, rows)
    if fmt == "json":
        return _write_json(out, rows)
    return _write_csv(out, rows, fields)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, date | time):  # datetime is a date: ISO 8601 like the JSONL export
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        # Lists and dicts stay machine-readable inside one cell.
        return orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS).decode()
    return str(value)


def _write_csv(out: IO[bytes], rows: Iterable[dict[str, Any]], fields: Sequence[str] | None) -> int:
    if fields is None:
        # The header must list every key before the first row is written.
        materialised = list(rows)
        header: list[str] = list(dict.fromkeys(key for row in materialised for key in row))
        rows = materialised
    else:
        header = list(fields)
    # utf-8-sig writes the BOM Excel needs to read the file as UTF-8 (Chinese names).
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=False)
    try:
        writer = csv.writer(text)
        writer.writerow(header)
        count = 0
        for row in rows:
            writer.writerow([_csv_cell(row.get(name)) for name in header])
            count += 1
        text.flush()
    finally:
        text.detach()  # leave the binary file open for the caller to fsync and close
    return count


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on directories; the data itself is synced
    finally:
        os.close(fd)


def export_items(
    items: Iterable[Mapping[str, Any]],
    path: str | Path,
    fields: Sequence[str] | None = None,
) -> int:
    """Write ``items`` to ``path`` as JSONL, JSON or CSV (by extension); return the row count.

    JSONL (``.jsonl``, ``.ndjson``): one UTF-8 JSON object per line, non-ASCII as is.
    JSON (``.json``): one array of those objects, streamed an item at a time.
    CSV (``.csv``): UTF-8 with a BOM so Excel shows Chinese; a header row first.
    With ``fields`` every row has exactly those keys (missing ones null / empty);
    without, JSON and JSONL rows are written as they are and the CSV header is the union of
    all keys in first-seen order.

    >>> export_items([{"name": "教授与疯子", "wants": 16577}], "movies.csv", ["name", "wants"])
    1
    """
    target = Path(path).expanduser()
    fmt = export_format(target)
    temp = _temp_path(target)
    rows = _rows(items, fields)
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    except OSError as exc:
        raise StorageError(
            f"cannot write export {str(target)!r}: {_reason(exc)}; choose a writable path"
        ) from None
    try:
        with os.fdopen(fd, "wb") as out:
            count = _write(out, fmt, rows, fields)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise StorageError(
            f"cannot write export {str(target)!r}: {_reason(exc)}; choose a writable path"
        ) from None
    except BaseException:
        # Anything else (a bad item, Ctrl-C): keep the old export, drop the partial one.
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(target.parent)
    return count
