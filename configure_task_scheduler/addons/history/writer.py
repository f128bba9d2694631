"""The history writer: a run-event listener that never makes a run wait for SQLite.

The listener only appends the event to a bounded in-memory queue (a deque:
one atomic append, no lock) and wakes the writer thread when the queue was
empty. The thread drains everything queued into one transaction, so 10,000
runs a second cost a few commits, not 20,000. When the database cannot be
written (locked by another process, disk full, read-only, deleted), the
records wait in memory up to the queue's capacity and are written once it is
usable again; past that they are dropped and counted. Each fault is logged
once, when it starts, and once when writing resumes. Never reads the real
clock: times come from the events and from the clock it is given.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import operator
import os
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ...clock import Clock
from ...task import EventKind, RunEvent, RunResult, RunStatus
from . import store
from .faults import FaultReport, OpenFiles, file_change, open_files

logger = logging.getLogger("configure_task_scheduler.history")

# Events held in memory at most (waiting for the writer, or for a locked
# database): at 10,000 runs/s, two events a run, 5 s of a locked database.
QUEUE_CAPACITY = 100_000
# How long the writer waits before trying an unusable database again.
RETRY_SECONDS = 1.0
RETENTION_EVERY_SECONDS = 86_400.0

_INSERT = ("INSERT INTO runs (id, task_id, run_number, attempt, planned_at, started_at, "
           "ended_at, duration_seconds, status, exit_code, error, stdout_tail, stderr_tail) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_FINISH = ("UPDATE runs SET ended_at = ?, duration_seconds = ?, status = ?, exit_code = ?, "
           "error = ?, stdout_tail = ?, stderr_tail = ? WHERE id = ?")

# 13 columns a row: 76 rows stay under SQLite's oldest limit of 999 parameters a statement.
ROWS_PER_INSERT = 76
_ROW_MARKS = "(" + ", ".join("?" * 13) + ")"

RunKey = tuple[str, int, int]  # task id, run number, attempt


@dataclass(slots=True)
class _Batch:
    """The rows one transaction writes. Row ids are given out here, not by SQLite, so a
    run that starts and ends within one batch is one INSERT, and all of a batch's rows
    go in one `executemany`."""

    next_id: int
    new_rows: list[list[Any]] = field(default_factory=list)
    new_by_run: dict[RunKey, list[Any]] = field(default_factory=dict)  # still `running`
    finished_rows: list[tuple[Any, ...]] = field(default_factory=list)  # of earlier batches
    closed: set[RunKey] = field(default_factory=set)  # runs of earlier batches now ended
    new_tasks: dict[str, str] = field(default_factory=dict)  # first seen: a task added later

    def add(self, key: RunKey, values: tuple[Any, ...]) -> list[Any]:
        row = [self.next_id, *key, *values]
        self.next_id += 1
        self.new_rows.append(row)
        return row


class HistoryWriter:
    """Records every run event in the history database, on its own thread.

    Args:
        path: the SQLite file (made, with its directory, if missing).
        clock: the scheduler's clock (retention's "now").
        history_days: rows planned longer ago than this are deleted.
        max_rows_per_task: a task keeps at most this many rows.
        capacity: events held in memory at most; more are dropped and counted.
    """

    def __init__(self, path: str, clock: Clock, *, history_days: float = 30.0,
                 max_rows_per_task: int = 100_000, capacity: int = QUEUE_CAPACITY) -> None:
        self.path = path
        self._clock = clock
        self._history_days, self._max_rows = history_days, max_rows_per_task
        self._capacity = capacity
        self._queue: collections.deque[RunEvent] = collections.deque()
        self._wake, self._idle = threading.Event(), threading.Event()
        self._stopping = False
        self._dropped = 0
        self._drop_lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._files = OpenFiles(None, None)  # what the connection has open
        self._row_ids: dict[RunKey, int] = {}  # rows written as `running`, by run
        self._next_id = 1  # the id of the next row (this process is the only writer)
        self._last_planned: tuple[datetime | None, str] = (None, "")
        self._known_tasks: set[str] = set()  # ids in the tasks table
        self._faults = FaultReport(path, capacity)
        self._thread: threading.Thread | None = None
        self._next_retention = 0.0
        self._inserted: collections.Counter[str] = collections.Counter()  # rows since trimmed

    @property
    def dropped(self) -> int:
        """How many events were dropped because the queue was full."""
        return self._dropped

    # -- start and stop (the scheduler's thread) ------------------------------------

    def open(self, task_ids: list[str]) -> int:
        """Open (or create, or migrate) the database and close rows left `running`.

        Returns:
            How many runs were found interrupted.

        Raises:
            store.StateError: the file cannot be used (it is left as it is).
        """
        self._db = store.connect(self.path)
        self._files = open_files(self.path)
        now = self._clock.wall()
        try:
            interrupted = store.close_interrupted(self._db, now)
            store.see_tasks(self._db, task_ids, now)
            self._known_tasks = set(task_ids)
        except sqlite3.Error as error:
            self._db.close()
            raise store.StateError(f"{self.path}: cannot write to the history database "
                                   f"({error}); check that it is writable") from None
        self._delete_old_rows()
        if interrupted:
            logger.warning("history: %d run%s left in flight by an earlier scheduler marked "
                           "interrupted", interrupted, "" if interrupted == 1 else "s")
        return interrupted

    def start(self) -> None:
        """Start the writer thread (after `open`, and after any rows written meanwhile)."""
        assert self._db is not None
        self._next_id = store.next_row_id(self._db)
        self._thread = threading.Thread(target=self._serve, name="history-writer", daemon=True)
        self._thread.start()

    def close(self, timeout_seconds: float = 10.0) -> None:
        """Write what is queued (waiting up to `timeout_seconds`), then stop and close."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_seconds)
        if self._dropped:
            logger.warning("history: %d run records were dropped (the queue was full or the "
                           "database unusable)", self._dropped)
        if self._db is not None and (self._thread is None or not self._thread.is_alive()):
            self._db.close()

    def flush(self, timeout_seconds: float = 5.0) -> bool:
        """Wait until everything queued so far is written; False if it was not in time."""
        self._idle.clear()
        self._wake.set()
        return self._idle.wait(timeout_seconds)

    # -- the listener (engine and pool threads) -------------------------------------

    def __call__(self, event: RunEvent) -> None:
        """Queue a run event for the writer; never blocks, drops it if the queue is full."""
        queue = self._queue
        if len(queue) >= self._capacity:
            with self._drop_lock:
                self._dropped += 1
            return
        queue.append(event)
        if not self._wake.is_set():
            self._wake.set()

    # -- the writer thread ------------------------------------------------------------

    def _serve(self) -> None:
        pending: list[RunEvent] = []
        while True:
            if not self._stopping:  # once stopping, drain without waiting
                self._wake.wait(RETRY_SECONDS if pending else None)
            self._wake.clear()
            while self._queue:
                pending.append(self._queue.popleft())
            if pending and self._write(pending):
                pending = []
            elif len(pending) > self._capacity:
                self._drop(pending, len(pending) - self._capacity)
            if self._stopping and (pending or not self._queue):
                break  # all written, or the database is unusable: what it holds back is lost
            if not pending and not self._queue:
                self._idle.set()
            self._delete_old_rows(due_only=True)
        if pending:
            self._drop(pending, len(pending))

    def _drop(self, pending: list[RunEvent], count: int) -> None:
        del pending[:count]
        with self._drop_lock:
            self._dropped += count

    def _write(self, events: list[RunEvent]) -> bool:
        """Write `events` in one transaction; on a fault, log it once and return False."""
        try:
            db = self._connection()
            batch = _Batch(self._next_id)
            for event in events:
                self._apply(event, batch)
            with store.transaction(db):
                _insert_rows(db, batch.new_rows)
                db.executemany(_FINISH, batch.finished_rows)
                db.executemany("INSERT OR IGNORE INTO tasks VALUES (?, ?)",
                               batch.new_tasks.items())
        except (sqlite3.Error, OSError, store.StateError) as error:
            self._faults.failed(str(error), isinstance(error, store.StateError))
            return False
        self._next_id = batch.next_id
        for key in batch.closed:
            del self._row_ids[key]
        self._row_ids.update((key, row[0]) for key, row in batch.new_by_run.items())
        self._inserted.update(map(_TASK_ID_OF_ROW, batch.new_rows))  # counted in C
        self._known_tasks.update(batch.new_tasks)
        self._faults.succeeded(self._dropped)
        return True

    def _apply(self, event: RunEvent, batch: _Batch) -> None:
        """Turn one event into a new row, or the completion of a row written before.

        The writer's per-run work, two calls a run: kept to plain operations.
        """
        run = event.run
        key = (run.task.task_id, run.run_number, run.attempt)
        planned = self._planned_text(run.planned_at)
        if key[0] not in self._known_tasks:
            batch.new_tasks.setdefault(key[0], planned)
        if event.kind is _STARTED:
            started = utc_text(event.started_at or run.planned_at)
            batch.new_by_run[key] = batch.add(key, (planned, started, *_RUNNING))
            return
        result = event.result
        if result is None:
            return
        values = _result_values(result, run.task.env)
        row = batch.new_by_run.pop(key, None)
        if row is not None:
            row[6:] = values
        elif key in self._row_ids and key not in batch.closed:
            batch.finished_rows.append((*values, self._row_ids[key]))
            batch.closed.add(key)
        else:  # a skip, or a run whose start was dropped
            batch.add(key, (planned, utc_text(result.started_at), *values))

    def _planned_text(self, planned_at: datetime) -> str:
        """`utc_text`, remembered for the last planned time: tasks in phase share it, and a
        run's start and end events both carry it."""
        if planned_at != self._last_planned[0]:
            self._last_planned = (planned_at, utc_text(planned_at))
        return self._last_planned[1]

    def _connection(self) -> sqlite3.Connection:
        """The open connection; reopened if the file or its -wal was deleted or replaced
        (SQLite would go on writing to the deleted file, where nobody can read it)."""
        if self._db is not None:
            change = file_change(self.path, self._files)
            if change is None:
                return self._db
            logger.warning("%s", change)
            self._let_go()
        db = store.connect(self.path)
        self._db, self._files = db, open_files(self.path)
        self._next_id = store.next_row_id(db)
        return db

    def _let_go(self) -> None:
        """Close the connection to a file that is no longer at the path. Its -wal, left
        beside a new file there, would be replayed into that file: it is emptied into the
        old file first, and removed if it is still there."""
        assert self._db is not None
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        self._db.close()
        self._db, self._row_ids, self._known_tasks = None, {}, set()
        if self._files.wal is not None and open_files(self.path).wal == self._files.wal:
            with contextlib.suppress(OSError):  # emptied already: removing it is tidiness
                os.unlink(f"{self.path}-wal")

    def _delete_old_rows(self, due_only: bool = False) -> None:
        """Retention: at start-up and once a day; and a task that wrote a tenth of its
        row limit since it was last trimmed (one running every second) is trimmed now."""
        daily = not due_only or self._clock.monotonic() >= self._next_retention
        crowded = [task_id for task_id, count in self._inserted.items()
                   if count > self._max_rows // 10]
        if not daily and not crowded:
            return
        try:
            db = self._connection()
            deleted = store.trim_tasks(db, self._max_rows, None if daily else crowded)
            if daily:
                self._next_retention = self._clock.monotonic() + RETENTION_EVERY_SECONDS
                before = self._clock.wall() - timedelta(days=self._history_days)
                deleted += store.delete_rows_before(db, before)
        except (sqlite3.Error, OSError, store.StateError) as error:
            self._faults.failed(str(error), isinstance(error, store.StateError))
            return
        self._inserted.clear()
        if deleted:
            logger.info("history: deleted %d old run records", deleted)


def _insert_rows(db: sqlite3.Connection, rows: list[list[Any]]) -> None:
    """INSERT the rows, ROWS_PER_INSERT to a statement.

    Not `executemany`: it lets the GIL go for every row, and while the engine and
    the workers are busy, getting it back waits up to the switch interval (5 ms)
    each time, so the writer fell behind at 10,000 runs/s and dropped records.
    """
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start:start + ROWS_PER_INSERT]
        db.execute(_insert_sql(len(chunk)), [value for row in chunk for value in row])


@functools.lru_cache(maxsize=8)
def _insert_sql(row_count: int) -> str:
    return _INSERT.replace("VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           "VALUES " + ", ".join([_ROW_MARKS] * row_count))


def _result_values(result: RunResult, env: Mapping[str, str]) -> tuple[Any, ...]:
    """The columns of a finished attempt, with the task's env values redacted."""
    status = result.status
    duration = 0.0 if status in _NEVER_RAN else result.duration_seconds
    error, stdout_tail, stderr_tail = result.error, result.stdout_tail, result.stderr_tail
    if env and (error or stdout_tail or stderr_tail):
        error, stdout_tail = _redact(error, env), _redact(stdout_tail, env)
        stderr_tail = _redact(stderr_tail, env)
    return (utc_text(result.ended_at), duration, _STATUS_TEXT[status], result.exit_code,
            error, stdout_tail, stderr_tail)


_NEVER_RAN = frozenset({RunStatus.SKIPPED, RunStatus.MISSED})
_STATUS_TEXT = {status: status.value for status in RunStatus}  # an Enum's .value is a call
_STARTED = EventKind.RUN_STARTED
# A started row's columns after its start time: ended, duration, status, exit code, texts.
_RUNNING = (None, None, "running", None, "", "", "")
_TASK_ID_OF_ROW = operator.itemgetter(1)
utc_text = store.utc_text


def _redact(text: str, env: Mapping[str, str]) -> str:
    """Replace env values by "***" (the executor has done it already: this is the belt)."""
    for value in env.values():
        if value and value in text:
            text = text.replace(value, "***")
    return text
