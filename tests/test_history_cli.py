"""The history from the command line: --history, --status, the lock, SIGKILL, bad settings.

Real `python3 main.py` processes on real SQLite files under tmp_path; the
start_cli ones are followed through their log with deadlines (see
test_cli.BackgroundScheduler). Output is checked whole, text and JSON.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import START
from test_cli import BackgroundScheduler, run_cli, shell_task_entry
from test_executor import read_pid
from test_history import BACKUP, finished, skipped, started

from configure_task_scheduler.addons.history.writer import HistoryWriter
from configure_task_scheduler.clock import FakeClock
from configure_task_scheduler.task import RunStatus


def write(path: Path, tasks: list[dict[str, Any]], **scheduler: Any) -> Path:
    path.write_text(json.dumps({"scheduler": scheduler, "tasks": tasks}))
    return path


def filled_database(path: Path) -> Path:
    """A history of task backup: a success, a failure retried, a skip, a run in flight."""
    writer = HistoryWriter(str(path), FakeClock(START))
    writer.open(["backup"])
    writer.start()
    for event in [started(BACKUP, 1, 0), finished(BACKUP, 1, 0, RunStatus.SUCCEEDED, exit_code=0),
                  started(BACKUP, 2, 60),
                  finished(BACKUP, 2, 60, RunStatus.FAILED, exit_code=3, error="exit code 3"),
                  started(BACKUP, 2, 60, attempt=2),
                  finished(BACKUP, 2, 60, RunStatus.SUCCEEDED, attempt=2, exit_code=0),
                  skipped(BACKUP, 3, 120, RunStatus.SKIPPED, "1 run already in flight")]:
        writer(event)
    writer.close()
    return path


# -- --history ------------------------------------------------------------------------

def test_history_prints_the_latest_runs_newest_first_without_a_config_file(
        tmp_path: Path) -> None:
    database = filled_database(tmp_path / "state.db")
    result = run_cli("--config", tmp_path / "none.json", "--state", database, "--history",
                     "--limit", "3")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "TIME                       TASK    RUN  ATTEMPT  STATUS     DURATION  EXIT  ERROR",
        "2026-01-01 00:02:00+00:00  backup  3    1        skipped    0.00s     -     "
        "1 run already in flight",
        "2026-01-01 00:01:00+00:00  backup  2    2        succeeded  2.00s     0     -",
        "2026-01-01 00:01:00+00:00  backup  2    1        failed     2.00s     3     exit code 3",
    ]


def test_history_as_json_is_one_object_per_line(tmp_path: Path) -> None:
    database = filled_database(tmp_path / "state.db")
    result = run_cli("--config", tmp_path / "none.json", "--state", database, "--history",
                     "backup", "--limit", "1", "--format", "json")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == json.dumps({
        "task_id": "backup", "run_number": 3, "attempt": 1,
        "planned_at": "2026-01-01T00:02:00.000000+00:00",
        "started_at": "2026-01-01T00:02:00.000000+00:00",
        "ended_at": "2026-01-01T00:02:00.000000+00:00", "duration_seconds": 0.0,
        "status": "skipped", "exit_code": None, "error": "1 run already in flight",
        "stdout_tail": "", "stderr_tail": ""}) + "\n"


@pytest.mark.parametrize("made", [False, True], ids=["no-database", "empty-database"])
@pytest.mark.parametrize("output", ["text", "json"])
def test_history_of_no_runs_says_so(tmp_path: Path, made: bool, output: str) -> None:
    database = tmp_path / "state.db"
    if made:
        writer = HistoryWriter(str(database), FakeClock(START))
        writer.open([])
        writer.close()
    result = run_cli("--config", tmp_path / "none.json", "--state", database, "--history",
                     "--format", output)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == ("" if output == "json" else f"no runs recorded yet in {database}\n")
    assert database.exists() is made  # reading never creates it


def test_history_without_a_state_database_is_a_one_line_error(tmp_path: Path) -> None:
    config = write(tmp_path / "tasks.json", [shell_task_entry("a", "true", 60)])
    result = run_cli("--config", config, "--history")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"{config}: no run history: set scheduler.state_path in the "
                             "config, or pass --state PATH\n")


# -- --status -------------------------------------------------------------------------

STATUS_TASKS = [
    shell_task_entry("backup", "true", 60, enabled=False),
    {"task_id": "report", "task_type": "shell", "entry_point": "true",
     "at": "2099-01-01T00:00:00+00:00"},
]


def test_status_shows_each_task_last_and_next_run_and_no_scheduler(tmp_path: Path) -> None:
    filled_database(tmp_path / "state.db")
    config = write(tmp_path / "tasks.json", STATUS_TASKS, state_path="state.db")
    result = run_cli("--config", config, "--status")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        f"scheduler: not running; history: {tmp_path / 'state.db'}",
        "TASK    SCHEDULE                           ENABLED  LAST RUN                   "
        "STATUS     DURATION  NEXT RUN",
        "backup  every minute                       no       2026-01-01 00:01:00+00:00  "
        "succeeded  2.00s     -",
        "report  once at 2099-01-01 00:00:00+00:00  yes      -                          "
        "-          -         2099-01-01 00:00:00+00:00",
    ]


def test_status_as_json_with_no_database(tmp_path: Path) -> None:
    config = write(tmp_path / "tasks.json", STATUS_TASKS[1:], state_path="state.db")
    result = run_cli("--config", config, "--status", "--format", "json")
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == {
        "scheduler": {"running": False, "pid": None, "state_path": str(tmp_path / "state.db")},
        "tasks": [{"task_id": "report", "schedule": "once at 2099-01-01 00:00:00+00:00",
                   "enabled": True, "last_run_at": None, "last_status": None,
                   "last_duration_seconds": None,
                   "next_run_at": "2099-01-01T00:00:00.000000+00:00"}]}
    assert not (tmp_path / "state.db").exists()


# -- one instance at a time ------------------------------------------------------------------

@pytest.mark.parametrize("state", [True, False], ids=["lock-beside-database",
                                                      "lock-beside-config"])
def test_a_second_scheduler_is_refused_with_the_pid_and_starts_once_the_first_is_killed(
        tmp_path: Path, start_cli: Callable[..., BackgroundScheduler], state: bool) -> None:
    settings = {"state_path": "state.db"} if state else {}
    config = write(tmp_path / "tasks.json", [shell_task_entry("a", "true", 3600)], **settings)
    first = start_cli(config)
    first.wait_for_log(r"scheduler started with 1 task \(1 enabled\)")

    second = run_cli("--config", config, "--duration", "5")
    assert (second.returncode, second.stdout) == (2, "")
    assert second.stderr == (f"another scheduler (PID {first.process.pid}) is already running "
                             f"with {config}; stop it first, or use another state_path\n")
    if state:
        status = run_cli("--config", config, "--status", "--format", "json")
        assert json.loads(status.stdout)["scheduler"] == {
            "running": True, "pid": first.process.pid,
            "state_path": str(tmp_path / "state.db")}

    first.send(signal.SIGKILL)
    assert first.exit_status() == -signal.SIGKILL
    third = start_cli(config)
    third.wait_for_log(r"scheduler started with 1 task \(1 enabled\)")


def test_sigkill_mid_run_leaves_a_sound_database_and_the_run_shows_interrupted(
        tmp_path: Path, start_cli: Callable[..., BackgroundScheduler],
        kill_groups_at_exit: list[int]) -> None:
    pidfile = tmp_path / "busy.pid"
    config = write(tmp_path / "tasks.json", [
        shell_task_entry("busy", f"echo $$ > {pidfile}; exec sleep 60", 3600, run_on_start=True),
        shell_task_entry("quick", "true", 0.1)], state_path="state.db", shutdown_timeout_seconds=0)
    scheduler = start_cli(config)
    kill_groups_at_exit.append(read_pid(pidfile))
    scheduler.wait_for_log(r"task quick run 3 finished: succeeded in \d+\.\d+s")
    scheduler.wait_for_log(r"task quick run 14 finished: succeeded in \d+\.\d+s")  # 1.1 s later
    scheduler.send(signal.SIGKILL)
    assert scheduler.exit_status() == -signal.SIGKILL

    db = sqlite3.connect(tmp_path / "state.db")
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    quick = db.execute("SELECT run_number, status FROM runs WHERE task_id = 'quick' "
                       "AND run_number <= 3 ORDER BY run_number").fetchall()
    busy = db.execute("SELECT run_number, status FROM runs WHERE task_id = 'busy'").fetchall()
    in_flight = db.execute("SELECT id FROM runs WHERE status = 'running'").fetchall()
    db.close()
    assert (quick, busy) == ([(1, "succeeded"), (2, "succeeded"), (3, "succeeded")],
                             [(1, "running")])

    pidfile.unlink()
    restarted = start_cli(config)  # busy, and perhaps a run of quick, were in flight
    restarted.wait_for_log(rf"history: {len(in_flight)} runs? left in flight by an earlier "
                           r"scheduler marked interrupted")
    kill_groups_at_exit.append(read_pid(pidfile))  # its command runs: SIGTERM cuts it short
    restarted.send(signal.SIGTERM)
    assert restarted.exit_status() == 0
    history = run_cli("--config", config, "--history", "busy", "--format", "json")
    rows = [json.loads(line) for line in history.stdout.splitlines()]
    # Newest first: the restarted scheduler's run (cut short by its shutdown), then the
    # run the SIGKILL left in flight.
    assert [(row["run_number"], row["status"], row["error"]) for row in rows] == [
        (1, "failed", "killed by SIGTERM"),
        (1, "interrupted", "the scheduler stopped while this run was in flight")]


# -- bad settings -----------------------------------------------------------------------

def test_catch_up_without_a_state_path_is_a_config_error_naming_the_setting(
        tmp_path: Path) -> None:
    config = write(tmp_path / "tasks.json",
                   [shell_task_entry("backup", "true", 60, catch_up=True)])
    result = run_cli("--config", config, "--duration", "1")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f'{config}: task "backup": catch_up: needs the run history: set '
                             "scheduler.state_path (or pass --state PATH)\n")


def test_a_corrupt_state_file_stops_the_start_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_bytes(b"garbage" * 1000)
    config = write(tmp_path / "tasks.json", [shell_task_entry("a", "true", 60)],
                   state_path="state.db")
    result = run_cli("--config", config, "--duration", "1")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"{tmp_path / 'state.db'}: not a usable history database (file "
                             "is not a database); move it away to start a new history, or "
                             "point state_path elsewhere\n")
    assert (tmp_path / "state.db").read_bytes() == b"garbage" * 1000


@pytest.mark.parametrize(("settings", "message"), [
    ({"state_path": 3}, 'state_path: expected a non-empty string, found 3'),
    ({"state_path": "."}, "state_path: expected a file path, found a directory: {dir}"),
    ({"history_days": 0}, "history_days: expected a number > 0 and <= 36500, found 0"),
    ({"history_max_rows": "10"}, "history_max_rows: expected an integer from 1 to 100000000, "
                                 'found "10" (a string)'),
    ({"state_pth": "x.db"}, '"state_pth": unknown key, did you mean "state_path"?'),
], ids=["path-number", "path-directory", "days-zero", "rows-string", "typo"])
def test_a_bad_history_setting_is_one_line_and_exit_2(tmp_path: Path, settings: dict[str, Any],
                                                      message: str) -> None:
    config = write(tmp_path / "tasks.json", [shell_task_entry("a", "true", 60)], **settings)
    result = run_cli("--config", config, "--check")
    # --check's report, problems included, is its output.
    assert (result.returncode, result.stderr) == (2, "")
    assert result.stdout == f"{config}: scheduler: {message.format(dir=tmp_path)}\n"


def test_history_rows_are_utc_whatever_the_zone() -> None:
    assert (START + timedelta(hours=1)).utcoffset() == timedelta(0)
