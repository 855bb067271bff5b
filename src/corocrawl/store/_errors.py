"""Turn SQLite and OS errors into one-line messages that say what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .._exceptions import StorageError, UsageError

# Primary SQLite result codes (https://sqlite.org/rescode.html).
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = (
    10, 11, 13, 14, 26)


class BadDatabase(StorageError, UsageError):
    """The ``--db`` path itself is the problem: unwritable, not SQLite, or a foreign schema.

    It is a ``UsageError`` too, so the CLI exits with code 2: the user must pass
    another path (or fix permissions), not retry.
    """


def unusable_path(path: Path, exc: OSError) -> BadDatabase:
    """The database (or its lock file) cannot be created or opened at ``path``."""
    reason = exc.strerror or type(exc).__name__
    return BadDatabase(
        f"cannot use {path}: {reason.lower()}; pass a --db path in a writable directory"
    )


def not_a_database(path: Path) -> BadDatabase:
    return BadDatabase(
        f"{path} is not a corocrawl database (not an SQLite file, or damaged); "
        "pass another --db path or move that file away"
    )


def translate(exc: sqlite3.Error, path: Path) -> StorageError:
    """A StorageError with a one-line message for a failed SQLite call on ``path``."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    text = str(exc)
    if code == _SQLITE_FULL or "disk is full" in text:
        return StorageError(
            f"the disk holding {path} is full (nothing half-written was kept); "
            "free some space and run the same command again to resume"
        )
    if code in (_SQLITE_READONLY, _SQLITE_PERM) or "readonly" in text:
        return BadDatabase(
            f"cannot write {path}: it or its directory is read-only; "
            "make it writable or pass another --db path"
        )
    if code == _SQLITE_CANTOPEN or "unable to open" in text:
        return BadDatabase(
            f"cannot open {path}; check the directory exists and is writable, "
            "or pass another --db path"
        )
    if code in (_SQLITE_NOTADB, _SQLITE_CORRUPT) or "not a database" in text:
        return not_a_database(path)
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return StorageError(
            f"{path} stayed locked by another program; close what else has it open and retry"
        )
    if code == _SQLITE_IOERR:
        # A write beyond a file-size limit or onto a full disk often surfaces as this.
        return StorageError(
            f"disk I/O error on {path}: the disk may be full or failing; free space or "
            "check it, then run the same command again to resume"
        )
    return StorageError(f"SQLite error on {path}: {text}")
