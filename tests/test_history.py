"""The run history: rows for every final state, schema versions, faults, retention, catch-up.

Real SQLite files under tmp_path. The writer is fed run events directly (it
is a listener) or hears a real engine on a `FakeClock`; its thread is real,
so tests wait with `flush()` (a deadline), never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import MONOTONIC_START, START, RecordingExecutor, shell_task, wait_until

from configure_task_scheduler.addons.history import (
    InstanceLock,
    LockError,
    StateDatabase,
    StateError,
    lock_path_for,
    store,
)
from configure_task_scheduler.addons.history.writer import HistoryWriter
from configure_task_scheduler.clock import FakeClock
from configure_task_scheduler.engine import Engine
from configure_task_scheduler.errors import ConfigError
from configure_task_scheduler.registry import Registry
from configure_task_scheduler.scheduler import Scheduler
from configure_task_scheduler.schedules import (
    CronSchedule,
    OneShotSchedule,
)
from configure_task_scheduler.task import (
    EventKind,
    Run,
    RunEvent,
    RunResult,
    RunStatus,
    Task,
)

UTC = timezone.utc
T0 = START  # 2026-01-01 00:00 UTC


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def started(task: Task, number: int, planned: float, attempt: int = 1) -> RunEvent:
    return RunEvent(EventKind.RUN_STARTED, Run(task, number, at(planned), 0.0, attempt),
                    started_at=at(planned + 0.5))


def finished(task: Task, number: int, planned: float, status: RunStatus, attempt: int = 1,
             **fields: Any) -> RunEvent:
    result = RunResult(task.task_id, number, at(planned), at(planned + 0.5), at(planned + 2.5),
                       2.0, status, attempt=attempt, **fields)
    return RunEvent(EventKind.RUN_FINISHED, Run(task, number, at(planned), 0.0, attempt),
                    result=result)


def skipped(task: Task, number: int, planned: float, status: RunStatus, reason: str) -> RunEvent:
    result = RunResult(task.task_id, number, at(planned), at(planned), at(planned), 0.0,
                       status, error=reason)
    return RunEvent(EventKind.RUN_SKIPPED, Run(task, number, at(planned), 0.0),
                    result=result, reason=reason)


def rows(path: Path) -> list[tuple[Any, ...]]:
    """Every run row, oldest first, without the row id."""
    db = sqlite3.connect(path)
    try:
        return db.execute(f"SELECT {store._RUN_COLUMNS} FROM runs ORDER BY id").fetchall()
    finally:
        db.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def writer(tmp_path: Path, clock: FakeClock) -> Iterator[HistoryWriter]:
    writer = HistoryWriter(str(tmp_path / "state.db"), clock)
    writer.open(["backup"])
    writer.start()
    yield writer
    writer.close()


BACKUP = shell_task("backup", 60, env={"TOKEN": "s3cr3t"})


def utc(seconds: float) -> str:
    return at(seconds).isoformat(timespec="microseconds")


def test_every_final_state_is_one_row_and_retries_are_separate_attempts(
        writer: HistoryWriter, tmp_path: Path) -> None:
    events = [
        started(BACKUP, 1, 0), finished(BACKUP, 1, 0, RunStatus.SUCCEEDED, exit_code=0),
        started(BACKUP, 2, 60), finished(BACKUP, 2, 60, RunStatus.FAILED, exit_code=3,
                                         error="exit code 3", stderr_tail="token s3cr3t\n"),
        started(BACKUP, 2, 60, attempt=2),
        finished(BACKUP, 2, 60, RunStatus.TIMED_OUT, attempt=2, error="timed out after 2s"),
        skipped(BACKUP, 3, 120, RunStatus.SKIPPED, "1 run already in flight"),
        skipped(BACKUP, 4, 180, RunStatus.MISSED, "started 9s late"),
        started(BACKUP, 5, 240),
    ]
    for event in events:
        writer(event)
    assert writer.flush()

    assert rows(tmp_path / "state.db") == [
        ("backup", 1, 1, utc(0), utc(0.5), utc(2.5), 2.0, "succeeded", 0, "", "", ""),
        ("backup", 2, 1, utc(60), utc(60.5), utc(62.5), 2.0, "failed", 3, "exit code 3", "",
         "token ***\n"),
        ("backup", 2, 2, utc(60), utc(60.5), utc(62.5), 2.0, "timed_out", None,
         "timed out after 2s", "", ""),
        ("backup", 3, 1, utc(120), utc(120), utc(120), 0.0, "skipped", None,
         "1 run already in flight", "", ""),
        ("backup", 4, 1, utc(180), utc(180), utc(180), 0.0, "missed", None, "started 9s late",
         "", ""),
        ("backup", 5, 1, utc(240), utc(240.5), None, None, "running", None, "", "", ""),
    ]


def test_a_run_left_running_by_a_dead_process_is_interrupted_at_the_next_start(
        tmp_path: Path, clock: FakeClock) -> None:
    first = HistoryWriter(str(tmp_path / "state.db"), clock)
    first.open(["backup"])
    first.start()
    first(started(BACKUP, 1, 0))
    assert first.flush()
    first.close()  # as if killed: the run never finished

    clock.advance(300)
    second = HistoryWriter(str(tmp_path / "state.db"), clock)
    assert second.open(["backup"]) == 1
    second.close()

    assert rows(tmp_path / "state.db") == [
        ("backup", 1, 1, utc(0), utc(0.5), utc(300), None, "interrupted", None,
         "the scheduler stopped while this run was in flight", "", "")]


def test_a_full_queue_drops_records_and_counts_them(tmp_path: Path, clock: FakeClock) -> None:
    writer = HistoryWriter(str(tmp_path / "state.db"), clock, capacity=2)
    writer.open(["backup"])  # not started: nothing drains the queue
    for number in range(1, 6):
        writer(started(BACKUP, number, number * 60.0))
    assert writer.dropped == 3
    writer.start()
    writer.close()
    assert [row[1] for row in rows(tmp_path / "state.db")] == [1, 2]


V1_SCHEMA = ("CREATE TABLE runs (id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, "
             "run_number INTEGER NOT NULL, attempt INTEGER NOT NULL, planned_at TEXT NOT NULL, "
             "started_at TEXT, ended_at TEXT, duration_seconds REAL, status TEXT NOT NULL, "
             "exit_code INTEGER, error TEXT NOT NULL DEFAULT '')")


def test_a_version_1_database_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    db.execute(V1_SCHEMA)
    db.execute("INSERT INTO runs VALUES (1, 'backup', 7, 1, ?, ?, ?, 1.5, 'failed', 2, 'boom')",
               (utc(0), utc(1), utc(2.5)))
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()

    migrated = store.connect(str(path))
    assert migrated.execute("PRAGMA user_version").fetchone() == (2,)
    assert migrated.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert store.recent_runs(migrated, None, 5) == [store.RunRecord(
        "backup", 7, 1, utc(0), utc(1), utc(2.5), 1.5, "failed", 2, "boom", "", "")]
    assert list(store.task_histories(migrated).values()) == [
        store.TaskHistory("backup", utc(0), utc(0), utc(1), "failed", 1.5)]
    migrated.close()


def test_a_database_of_a_newer_version_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE future (x)")
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()
    before = path.read_bytes()

    with pytest.raises(StateError, match=rf"^{path}: the history database has schema version 3, "
                                         r"newer than this program's 2; upgrade "
                                         r"configure_task_scheduler or point state_path "
                                         r"elsewhere$"):
        store.connect(str(path))
    assert path.read_bytes() == before


def test_a_corrupt_file_is_refused_with_what_to_do_and_left_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database at all" * 200)
    before = path.read_bytes()
    with pytest.raises(StateError, match=rf"^{path}: not a usable history database \(file is "
                                         r"not a database\); move it away to start a new "
                                         r"history, or point state_path elsewhere$"):
        store.connect(str(path))
    assert path.read_bytes() == before


def test_retention_deletes_rows_older_than_history_days_and_beyond_max_rows(
        tmp_path: Path, clock: FakeClock) -> None:
    path = str(tmp_path / "state.db")
    first = HistoryWriter(path, clock)
    first.open(["backup"])
    first.start()
    for number, planned in enumerate([0, 86_400, 2 * 86_400, 3 * 86_400, 4 * 86_400], 1):
        first(started(BACKUP, number, planned))
        first(finished(BACKUP, number, planned, RunStatus.SUCCEEDED))
    first.close()

    clock.advance(5 * 86_400)  # now: day 5; keep 3.5 days and at most 2 rows
    second = HistoryWriter(path, clock, history_days=3.5, max_rows_per_task=2)
    second.open(["backup"])
    second.close()
    assert [row[1] for row in rows(tmp_path / "state.db")] == [4, 5]


def test_env_values_are_redacted_in_stored_rows(writer: HistoryWriter, tmp_path: Path) -> None:
    writer(finished(BACKUP, 1, 0, RunStatus.FAILED, error="RuntimeError: bad s3cr3t",
                    stdout_tail="s3cr3t", stderr_tail="x s3cr3t y"))
    assert writer.flush()
    assert rows(tmp_path / "state.db")[0][9:] == ("RuntimeError: bad ***", "***", "x *** y")
    assert b"s3cr3t" not in (tmp_path / "state.db").read_bytes()


def test_a_second_lock_on_the_same_database_is_refused_with_the_pid(tmp_path: Path) -> None:
    path = lock_path_for(str(tmp_path / "state.db"), None)
    first = InstanceLock(path, "config/tasks.json")
    first.acquire()
    try:
        with pytest.raises(LockError, match=rf"^another scheduler \(PID {os.getpid()}"
                                            r"\) is already running with config/tasks.json; "
                                            r"stop it first, or use another state_path$"):
            InstanceLock(path, "config/tasks.json").acquire()
    finally:
        first.release()
    second = InstanceLock(path, "config/tasks.json")
    second.acquire()
    second.release()


# -- catch-up, on a fake clock ---------------------------------------------------------

NIGHTLY = Task("nightly", shell_task("x", 1).task_type, "true",
               CronSchedule("0 2 * * *", UTC), catch_up=True)
HOURLY = shell_task("hourly", 3600, catch_up=True)
ONCE = Task("once", NIGHTLY.task_type, "true", OneShotSchedule("2026-01-01T05:00:00+00:00"),
            catch_up=True)
PLAIN = Task("plain", NIGHTLY.task_type, "true", CronSchedule("0 2 * * *", UTC))
PLAIN_ONCE = Task("plain_once", NIGHTLY.task_type, "true",
                  OneShotSchedule("2026-01-01T05:00:00+00:00"))
TASKS = [NIGHTLY, HOURLY, ONCE, PLAIN, PLAIN_ONCE]


def serve(path: Path, clock: FakeClock, seconds: float,
          tasks: list[Task] = TASKS) -> list[tuple[str, float]]:
    """One scheduler process's life on the fake clock: open, run `seconds`, close.

    Returns:
        The runs started, as (task id, seconds after this start).
    """
    executor = RecordingExecutor(clock)
    offset = clock.monotonic() - MONOTONIC_START
    engine = Engine(Registry(), executor, clock)
    for task in tasks:
        engine.add(task)
    state = StateDatabase(str(path), clock)
    state.open(engine)
    try:
        engine.run(seconds)
    finally:
        state.close()
    return [(task_id, seconds - offset) for task_id, seconds in executor.submitted]


def test_catch_up_runs_each_task_once_after_a_downtime_and_not_again_after_a_restart(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(T0)  # 2026-01-01 00:00 UTC
    path = tmp_path / "state.db"
    assert serve(path, clock, 3 * 3600 + 1) == [
        ("hourly", 3600.0), ("nightly", 7200.0), ("plain", 7200.0), ("hourly", 7200.0),
        ("hourly", 10800.0)]

    clock.advance(3 * 86_400)  # down three days: 3 nightly runs, ~72 hourly, the 05:00 one-shots
    caplog.set_level(logging.WARNING, "configure_task_scheduler.history")
    assert serve(path, clock, 60) == [("nightly", 0.0), ("hourly", 0.0), ("once", 0.0)]
    assert [record.getMessage() for record in caplog.records] == [
        "task nightly: catching up 3 runs missed while the scheduler was not running "
        "(last planned 2026-01-01 02:00:00+00:00)",
        "task hourly: catching up 72 runs missed while the scheduler was not running "
        "(last planned 2026-01-01 03:00:00+00:00)",
        "task once: catching up 1 run missed while the scheduler was not running (it never ran)",
        "task plain_once: its run at 2026-01-01 05:00:00+00:00 was missed while the scheduler "
        "was not running (set catch_up to run it at start-up)",
    ]

    assert serve(path, clock, 60) == []  # a restart right after: nothing
    down = "2026-01-04T03:00:01.000000+00:00"  # when the second scheduler started
    assert [row for row in rows(path) if row[3] >= "2026-01-01T04"] == [
        ("plain_once", 1, 1, "2026-01-01T05:00:00.000000+00:00", down, down, 0.0, "missed",
         None, "planned while the scheduler was not running (no catch_up)", "", ""),
        ("nightly", 1, 1, down, down, down, 0.0, "succeeded", None, "", "", ""),
        ("hourly", 1, 1, down, down, down, 0.0, "succeeded", None, "", "", ""),
        ("once", 1, 1, down, down, down, 0.0, "succeeded", None, "", "", ""),
    ]


def test_without_catch_up_nothing_runs_after_a_downtime(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    assert serve(tmp_path / "state.db", clock, 3 * 3600 + 1, [PLAIN]) == [("plain", 7200.0)]
    clock.advance(3 * 86_400)
    assert serve(tmp_path / "state.db", clock, 60, [PLAIN]) == []


# -- the library API and faults, in real time ---------------------------------------------

def collect_finished(scheduler: Scheduler) -> list[RunResult]:
    """Subscribe and return the list that the results of finished runs are appended to."""
    results: list[RunResult] = []
    scheduler.subscribe(lambda event: results.append(event.result)
                        if event.kind is EventKind.RUN_FINISHED and event.result else None)
    return results


def test_scheduler_history_returns_frozen_records_newest_first(tmp_path: Path) -> None:
    scheduler = Scheduler(state_path=str(tmp_path / "state.db"))
    scheduler.every(3600, lambda: None, task_id="tick", run_on_start=True)
    results = collect_finished(scheduler)
    with scheduler:
        wait_until(lambda: len(results) == 1)
        (record,) = scheduler.history()
    assert (record.task_id, record.run_number, record.attempt, record.status) == (
        "tick", 1, 1, "succeeded")
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.status = "failed"  # type: ignore[misc]


def test_catch_up_without_a_state_path_is_refused_by_the_library() -> None:
    with pytest.raises(ConfigError, match=r'^task "backup": catch_up: needs the run history: '
                                          r"set scheduler.state_path \(or pass --state PATH\)$"):
        Scheduler().every(60, "true", task_id="backup", catch_up=True)


def test_runs_go_on_while_another_process_locks_the_database_and_are_written_after(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "configure_task_scheduler.history")
    path = tmp_path / "state.db"
    scheduler = Scheduler(state_path=str(path))
    scheduler.every(0.05, lambda: None, task_id="tick")
    results = collect_finished(scheduler)
    with scheduler:
        wait_until(lambda: len(results) >= 2)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # like another program writing for seconds
        during = len(results)
        wait_until(lambda: any("cannot write" in r.getMessage() for r in caplog.records))
        wait_until(lambda: len(results) >= during + 20)  # the loop never waited for SQLite
        other.execute("COMMIT")
        other.close()
        wait_until(lambda: any("again" in r.getMessage() for r in caplog.records))
        scheduler.stop()
    assert [record.getMessage() for record in caplog.records] == [
        f"history: cannot write to {path} (database is locked): stop the other program "
        f"writing to it; {ADVICE}",
        f"history: writing to {path} again (0 records dropped so far)"]
    numbers = [row[1] for row in rows(path)]
    assert numbers == list(range(1, len(results) + 1))


def test_a_task_added_while_running_is_known_to_the_history_from_its_first_run(
        writer: HistoryWriter, tmp_path: Path) -> None:
    later = shell_task("later", 60)
    writer(started(later, 1, 30))
    assert writer.flush()
    db = store.connect(str(tmp_path / "state.db"), read_only=True)
    try:
        assert store.task_histories(db) == {
            "backup": store.TaskHistory("backup", utc(0), None, None, None, None),
            "later": store.TaskHistory("later", utc(30), utc(30), utc(30.5), "running", None)}
    finally:
        db.close()


# -- faults while running: each logged once with what to do, runs go on, writing resumes ----------

ADVICE = "scheduling goes on, and run records wait in memory (up to 100000) until then"


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def logged(caplog: pytest.LogCaptureFixture, text: str) -> Callable[[], bool]:
    return lambda: any(text in message for message in messages(caplog))


@contextlib.contextmanager
def ticking(path: Path) -> Iterator[tuple[Scheduler, list[RunResult]]]:
    """A scheduler recording a task that runs every 0.02 s into `path`."""
    scheduler = Scheduler(state_path=str(path))
    scheduler.every(0.02, lambda: None, task_id="tick")
    results = collect_finished(scheduler)
    with scheduler:
        wait_until(lambda: len(results) >= 2 and path.exists() and bool(rows(path)))
        yield scheduler, results


def runs_go_on(results: list[RunResult], more: int = 10) -> None:
    count = len(results)
    wait_until(lambda: len(results) >= count + more)


def chattr(flag: str, *paths: Path) -> None:
    subprocess.run(["chattr", flag, *map(str, paths)], check=True, capture_output=True)


def can_chattr(tmp_path: Path) -> bool:
    """True where the immutable flag works (ext4, xfs, btrfs as root); tmpfs, NFS: no."""
    probe = tmp_path / "probe"
    probe.touch()
    try:
        chattr("+i", probe)
    except (OSError, subprocess.CalledProcessError):
        return False
    chattr("-i", probe)
    return True


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB file system (tmpfs) to fill up; skipped where mounting is not allowed."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                             capture_output=True) if shutil.which("mount") else None
    if mounted is None or mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root (CAP_SYS_ADMIN) and mount(8)")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill(directory: Path) -> Path:
    """Write a file into `directory` until its file system is full; return the file."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(descriptor, b"\0" * 4096)
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(descriptor)
    return filler


def test_a_full_disk_is_reported_once_and_writing_resumes_once_space_is_freed(
        small_disk: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "configure_task_scheduler.history")
    path = small_disk / "state.db"
    with ticking(path) as (scheduler, results):
        filler = fill(small_disk)
        wait_until(logged(caplog, "cannot write"))
        runs_go_on(results)  # several retries failed meanwhile: still one message
        filler.unlink()
        wait_until(logged(caplog, "again"))
        scheduler.stop()
    assert messages(caplog) == [
        f"history: cannot write to {path} (database or disk is full): free disk space; "
        f"{ADVICE}",
        f"history: writing to {path} again (0 records dropped so far)"]
    assert [row[1] for row in rows(path)] == list(range(1, len(results) + 1))


def test_a_history_file_made_immutable_is_reported_once_and_writing_resumes_once_writable(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    if not can_chattr(tmp_path):
        pytest.skip("chattr +i is not supported on the file system of tmp_path")
    caplog.set_level(logging.WARNING, "configure_task_scheduler.history")
    path = tmp_path / "state.db"
    files = (path, Path(f"{path}-wal"))  # not -shm: SQLite maps it, a write would be SIGBUS
    with ticking(path) as (scheduler, results):
        chattr("+i", *files)
        try:
            wait_until(logged(caplog, "cannot write"))
            runs_go_on(results)
        finally:
            chattr("-i", *files)
        wait_until(logged(caplog, "again"))
        scheduler.stop()
    assert messages(caplog) == [
        f"history: cannot write to {path} (disk I/O error): check that it and {path}-wal are "
        f"writable (chmod, chattr -i, a read-write mount) and the disk is sound; {ADVICE}",
        f"history: writing to {path} again (0 records dropped so far)"]
    assert [row[1] for row in rows(path)] == list(range(1, len(results) + 1))


@pytest.mark.parametrize("deleted", [("",), ("", "-wal", "-shm")], ids=["file", "with-wal-and-shm"])
def test_a_deleted_history_file_is_started_afresh_and_runs_go_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, deleted: tuple[str, ...]) -> None:
    caplog.set_level(logging.WARNING, "configure_task_scheduler.history")
    path = tmp_path / "state.db"
    with ticking(path) as (scheduler, results):
        for suffix in deleted:
            os.unlink(f"{path}{suffix}")
        deleted_after = len(results)
        wait_until(lambda: len(results) >= deleted_after + 3 and path.exists())
        scheduler.stop()
    assert messages(caplog) == [
        f"history: {path} was deleted while the scheduler ran; starting a new history file "
        "there (the runs recorded before are gone: move or delete it only while the "
        "scheduler is stopped)"]
    numbers = [row[1] for row in rows(path)]
    assert numbers == list(range(numbers[0], len(results) + 1)) and numbers[0] > 1
    assert scheduler.history(limit=1)[0].run_number == len(results)


def test_a_deleted_history_file_that_cannot_be_made_again_waits_until_it_can(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    if not can_chattr(tmp_path):
        pytest.skip("chattr +i is not supported on the file system of tmp_path")
    caplog.set_level(logging.WARNING, "configure_task_scheduler.history")
    directory = tmp_path / "data"
    path = directory / "state.db"
    with ticking(path) as (scheduler, results):
        path.unlink()
        chattr("+i", directory)  # no new file can be made in it
        try:
            wait_until(logged(caplog, "cannot open"))
            runs_go_on(results)
        finally:
            chattr("-i", directory)
        wait_until(logged(caplog, "again"))
        scheduler.stop()
    assert messages(caplog) == [
        f"history: {path} was deleted while the scheduler ran; starting a new history file "
        "there (the runs recorded before are gone: move or delete it only while the "
        "scheduler is stopped)",
        f"history: {path}: cannot open the history database (unable to open database file): "
        f"check that {directory} exists and is writable; {ADVICE}",
        f"history: writing to {path} again (0 records dropped so far)"]


def test_a_replaced_history_file_is_used_from_then_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "configure_task_scheduler.history")
    path = tmp_path / "state.db"
    other = tmp_path / "other.db"
    store.connect(str(other)).close()
    with ticking(path) as (scheduler, results):
        os.replace(other, path)
        replaced_after = len(results)
        wait_until(lambda: len(results) >= replaced_after + 3)
        scheduler.stop()
    assert messages(caplog) == [
        f"history: {path} was replaced while the scheduler ran; recording goes on in the new "
        "file"]
    numbers = [row[1] for row in rows(path)]
    assert numbers == list(range(numbers[0], len(results) + 1)) and numbers[0] > 1


def test_a_deleted_wal_file_is_noticed_and_no_record_is_lost(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "configure_task_scheduler.history")
    path = tmp_path / "state.db"
    with ticking(path) as (scheduler, results):
        os.unlink(f"{path}-wal")
        deleted_after = len(results)
        wait_until(lambda: len(results) >= deleted_after + 3 and Path(f"{path}-wal").exists())
        scheduler.stop()
    assert messages(caplog) == [
        f"history: {path}-wal was deleted while the scheduler ran; reopening {path} (the "
        "records in it were kept: delete it only while the scheduler is stopped)"]
    assert [row[1] for row in rows(path)] == list(range(1, len(results) + 1))


@pytest.mark.parametrize("when", [
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2026, 7, 1, 3, 4, 5, 999_999, tzinfo=timezone(timedelta(hours=2))),
    datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
], ids=["utc", "plus-2h", "before-1970", "last-second"])
def test_utc_text_is_the_iso_text_of_the_utc_time(when: datetime) -> None:
    assert store.utc_text(when) == when.astimezone(UTC).isoformat(timespec="microseconds")
