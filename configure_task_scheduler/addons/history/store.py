"""The history database: its schema, its migrations and the queries that read it.

One SQLite file (`scheduler.state_path`) in WAL mode, so readers (`--history`,
`--status`) never wait for the writer. `PRAGMA user_version` is the schema
version: an older file is migrated in one transaction, a newer one is refused
untouched. Owns the SQL and the `RunRecord` rows; never decides what to write
(that is the writer's job) and never reads a clock (times come in as arguments).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .faults import advice

SCHEMA_VERSION = 2
# Seconds a connection waits for another one's lock before it reports "locked".
BUSY_TIMEOUT_SECONDS = 1.0
INTERRUPTED_ERROR = "the scheduler stopped while this run was in flight"

_RUN_COLUMNS = ("task_id, run_number, attempt, planned_at, started_at, ended_at, "
                "duration_seconds, status, exit_code, error, stdout_tail, stderr_tail")


class StateError(Exception):
    """The state database cannot be used; the message is one line of help."""


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run attempt as the history holds it (times are UTC ISO 8601 strings)."""

    task_id: str
    run_number: int
    attempt: int
    planned_at: str
    started_at: str | None
    ended_at: str | None
    duration_seconds: float | None
    status: str
    exit_code: int | None
    error: str
    stdout_tail: str
    stderr_tail: str


@dataclass(frozen=True, slots=True)
class TaskHistory:
    """What the history knows about one task (what catch-up and `--status` read)."""

    task_id: str
    first_seen_at: str
    last_planned_at: str | None
    last_started_at: str | None
    last_status: str | None
    last_duration_seconds: float | None


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def utc_text(when: datetime) -> str:
    """Return an aware datetime as the history stores it: UTC ISO 8601 with offset.

    The same text as `when.astimezone(timezone.utc).isoformat(timespec="microseconds")`
    at a third of the cost (the writer formats two times a run): a subtraction
    gives the UTC second and the microseconds, and each second's text is kept.
    """
    since_epoch = when - _EPOCH
    second = _second_text(since_epoch.days * 86_400 + since_epoch.seconds)
    return f"{second}.{since_epoch.microseconds:06d}+00:00"


@functools.lru_cache(maxsize=4096)
def _second_text(epoch_seconds: int) -> str:
    """"2026-01-01T00:00:00" for a whole second since the epoch (runs share seconds)."""
    return (_EPOCH + timedelta(seconds=epoch_seconds)).isoformat()[:19]


def _v1(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, "
               "run_number INTEGER NOT NULL, attempt INTEGER NOT NULL, planned_at TEXT NOT NULL, "
               "started_at TEXT, ended_at TEXT, duration_seconds REAL, status TEXT NOT NULL, "
               "exit_code INTEGER, error TEXT NOT NULL DEFAULT '')")


def _v2(db: sqlite3.Connection) -> None:
    """Output tails, per-task state and the index that `--history TASK` reads."""
    db.execute("ALTER TABLE runs ADD COLUMN stdout_tail TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE runs ADD COLUMN stderr_tail TEXT NOT NULL DEFAULT ''")
    db.execute("CREATE INDEX runs_by_task ON runs (task_id, id)")
    db.execute("CREATE TABLE tasks (task_id TEXT PRIMARY KEY, first_seen_at TEXT NOT NULL)")
    db.execute("INSERT INTO tasks SELECT task_id, MIN(planned_at) FROM runs GROUP BY task_id")


# MIGRATIONS[n] turns a version-n database into version n+1 (0: an empty file).
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2)


def connect(path: str, *, read_only: bool = False) -> sqlite3.Connection:
    """Open the database (read-only: never creates or changes it); migrate a writable one.

    Raises:
        StateError: it is not a database, is damaged, is newer than this
            program, or cannot be opened.
    """
    try:
        if read_only:
            db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True,
                                 timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                                 check_same_thread=False)
        _prepare(db, path, read_only)
    except sqlite3.OperationalError as error:  # locked, full, unwritable: the file may be sound
        raise StateError(f"{path}: cannot open the history database ({error}): "
                         f"{advice(str(error), path)}") from None
    except sqlite3.DatabaseError as error:
        raise StateError(f"{path}: not a usable history database ({error}); move it away "
                         "to start a new history, or point state_path elsewhere") from None
    except OSError as error:
        raise StateError(f"{path}: cannot open the history database: {error.strerror}") from None
    return db


def _prepare(db: sqlite3.Connection, path: str, read_only: bool) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        db.close()
        raise StateError(f"{path}: the history database has schema version {version}, newer "
                         f"than this program's {SCHEMA_VERSION}; upgrade configure_task_"
                         "scheduler or point state_path elsewhere")
    if read_only:
        if version < SCHEMA_VERSION:
            db.close()
            raise StateError(f"{path}: the history database has schema version {version}; "
                             "start the scheduler once to upgrade it")
        return
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a crash loses no committed row
    if version < SCHEMA_VERSION:
        migrate(db, version)
    db.execute("PRAGMA quick_check").fetchone()


def migrate(db: sqlite3.Connection, version: int) -> None:
    """Bring a version-`version` database up to `SCHEMA_VERSION` in one transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for step in MIGRATIONS[version:]:
            step(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def close_interrupted(db: sqlite3.Connection, now: datetime) -> int:
    """Close the rows an earlier, dead process left `running`; return how many."""
    with transaction(db):
        cursor = db.execute("UPDATE runs SET status = 'interrupted', ended_at = ?, error = ? "
                            "WHERE status = 'running'", (utc_text(now), INTERRUPTED_ERROR))
    return cursor.rowcount


def see_tasks(db: sqlite3.Connection, task_ids: list[str], now: datetime) -> None:
    """Record the tasks a scheduler starts with (the first time it sees each)."""
    with transaction(db):
        db.executemany("INSERT OR IGNORE INTO tasks (task_id, first_seen_at) VALUES (?, ?)",
                       [(task_id, utc_text(now)) for task_id in task_ids])


def delete_rows_before(db: sqlite3.Connection, before: datetime) -> int:
    """Delete the finished rows planned before `before`; return how many (retention)."""
    with transaction(db):
        return db.execute("DELETE FROM runs WHERE planned_at < ? AND status != 'running'",
                          (utc_text(before),)).rowcount


def trim_tasks(db: sqlite3.Connection, max_rows_per_task: int,
               task_ids: list[str] | None = None) -> int:
    """Delete each task's oldest rows beyond `max_rows_per_task` (None: every task)."""
    with transaction(db):
        if task_ids is None:
            task_ids = [row[0] for row in db.execute("SELECT task_id FROM tasks")]
        return sum(db.execute(
            "DELETE FROM runs WHERE task_id = ? AND id <= (SELECT id FROM runs WHERE "
            "task_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (task_id, task_id, max_rows_per_task)).rowcount for task_id in task_ids)


def recent_runs(db: sqlite3.Connection, task_id: str | None, limit: int) -> list[RunRecord]:
    """Return the latest `limit` run attempts, newest first (of one task, or all)."""
    where, arguments = ("WHERE task_id = ? ", (task_id, limit)) if task_id else ("", (limit,))
    rows = db.execute(f"SELECT {_RUN_COLUMNS} FROM runs {where}ORDER BY id DESC LIMIT ?",
                      arguments).fetchall()
    return [RunRecord(*row) for row in rows]


def task_histories(db: sqlite3.Connection) -> dict[str, TaskHistory]:
    """Return what the history knows about each task, by id.

    Read from each task's newest rows (the `(task_id, id)` index), so the writer
    keeps no per-task summary up to date on every run.
    """
    rows = db.execute(
        "SELECT task_id, first_seen_at, (SELECT planned_at FROM runs WHERE runs.task_id = "
        "tasks.task_id ORDER BY id DESC LIMIT 1) FROM tasks ORDER BY task_id").fetchall()
    histories = {}
    for task_id, first_seen, last_planned in rows:
        last_run = db.execute(
            "SELECT started_at, status, duration_seconds FROM runs WHERE task_id = ? AND "
            "status NOT IN ('skipped', 'missed') ORDER BY id DESC LIMIT 1", (task_id,)).fetchone()
        histories[task_id] = TaskHistory(task_id, first_seen, last_planned,
                                         *(last_run or (None, None, None)))
    return histories


def next_row_id(db: sqlite3.Connection) -> int:
    """The id the next run row gets (the writer numbers its rows itself)."""
    return int(db.execute("SELECT coalesce(max(id), 0) + 1 FROM runs").fetchone()[0])


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when the block raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def record_missed(db: sqlite3.Connection, task_id: str, planned_at: datetime, now: datetime,
                  reason: str) -> None:
    """Write a `missed` row for a run planned while no scheduler was running."""
    planned, noticed = utc_text(planned_at), utc_text(now)
    with transaction(db):
        db.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?, 1, 1, ?, ?, ?, 0.0, 'missed', "
                   "NULL, ?, '', '')", (task_id, planned, noticed, noticed, reason))
