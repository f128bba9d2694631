"""What can go wrong with the history file while the scheduler runs, and what to say about it.

The writer asks `file_change` before each batch whether the path still names
the files its connection has open: SQLite keeps writing to a deleted file (or
to a deleted -wal file) without a word, so that is noticed here, by device and
inode. `FaultReport` logs each fault once per episode with what to do, and once
more when writing works again. `advice` turns SQLite's error into what to do.
Never opens, reads or writes the database itself.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("configure_task_scheduler.history")

Identity = tuple[int, int]  # (st_dev, st_ino): which file a path names

# SQLite's own words for a result code (sqlite3_errstr, stable across versions)
# and what the user can do about it; {path} and {directory} are filled in.
_ADVICE = (
    ("database is locked", "stop the other program writing to it"),
    ("database or disk is full", "free disk space"),
    ("disk I/O error", "check that it and {path}-wal are writable (chmod, chattr -i, a "
                       "read-write mount) and the disk is sound"),
    ("readonly database", "make it and {path}-wal writable"),
    ("unable to open database file", "check that {directory} exists and is writable"),
)
_ANY_FAULT = "free disk space, make it writable or stop the program holding it"
WAITING = "scheduling goes on, and run records wait in memory (up to %d) until then"


def advice(reason: str, path: str) -> str:
    """What to do about SQLite's error `reason` on the history file `path`."""
    for words, what_to_do in _ADVICE:
        if words in reason:
            return what_to_do.format(path=path, directory=Path(path).parent)
    return _ANY_FAULT


@dataclass(frozen=True, slots=True)
class OpenFiles:
    """Which files the database and its -wal path named when the connection opened them."""

    database: Identity | None
    wal: Identity | None


def open_files(path: str) -> OpenFiles:
    """The files `path` and `path-wal` name now (None: missing)."""
    return OpenFiles(_identity(path), _identity(f"{path}-wal"))


def file_change(path: str, opened: OpenFiles) -> str | None:
    """Return the warning to log if `path` no longer names the opened files, else None."""
    now = open_files(path)
    if now == opened:
        return None
    if now.database is None:
        return (f"history: {path} was deleted while the scheduler ran; starting a new history "
                "file there (the runs recorded before are gone: move or delete it only while "
                "the scheduler is stopped)")
    if now.database != opened.database:
        return (f"history: {path} was replaced while the scheduler ran; recording goes on in "
                "the new file")
    if opened.wal is not None and now.wal != opened.wal:
        # Closing the connection copies what the deleted -wal holds into the database.
        return (f"history: {path}-wal was deleted while the scheduler ran; reopening {path} (the "
                "records in it were kept: delete it only while the scheduler is stopped)")
    return None


class FaultReport:
    """Logs each fault once while it lasts, and once when writing works again.

    Args:
        path: the history file.
        capacity: how many run events wait in memory at most (for the message).
    """

    def __init__(self, path: str, capacity: int) -> None:
        self._path, self._capacity = path, capacity
        self._reported: set[str] = set()  # the faults of this episode, "" once over

    @property
    def active(self) -> bool:
        """True while writing fails."""
        return bool(self._reported)

    def failed(self, reason: str, own_message: bool = False) -> None:
        """Note a failed write: log it if this fault was not logged in this episode.

        Args:
            reason: SQLite's error, or a whole message (`own_message`: a `StateError`,
                which names the file and what to do itself).
        """
        if reason in self._reported:
            return
        self._reported.add(reason)
        if own_message:
            logger.error("history: %s; " + WAITING, reason, self._capacity)
        else:
            logger.error("history: cannot write to %s (%s): %s; " + WAITING, self._path, reason,
                         advice(reason, self._path), self._capacity)

    def succeeded(self, dropped: int) -> None:
        """Note a write that worked: if it ends an episode, say so."""
        if self._reported:
            self._reported.clear()
            logger.warning("history: writing to %s again (%d records dropped so far)",
                           self._path, dropped)


def _identity(path: str) -> Identity | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_dev, status.st_ino)
