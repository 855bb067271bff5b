"""One live process per crawl database, enforced by the operating system.

The lock is ``flock`` on a sidecar file (``corocrawl.db.lock``). The kernel drops
it when the process dies, however it dies, so there is no stale PID to guess
about: a lock file left behind by a killed crawl is simply free again.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from .._exceptions import StoreLocked
from ._errors import unusable_path


class ProcessLock:
    """An exclusive, non-blocking lock on ``<db>.lock``, held until ``release``."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.path = db_path.with_name(db_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise StoreLocked naming the process that holds it."""
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise unusable_path(self.db_path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise unusable_path(self.db_path, exc) from None
            who = f"another corocrawl process (pid {holder})" if holder else (
                "another corocrawl process")
            raise StoreLocked(
                f"{who} is using {self.db_path}; wait for it or use another --db"
            ) from None
        # Only the holder writes its PID, so a reader sees a live holder's PID.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Drop the lock. The lock file stays; it is harmless and reused."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):  # a read-only remount: closing still unlocks
            os.ftruncate(fd, 0)
        os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
