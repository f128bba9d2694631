"""Exercise 2: a listener that writes one CSV row per attempt or skipped run (`addons/csv_log.py`)."""

from __future__ import annotations

import csv
from pathlib import Path

import exercise_support as support
from exercise_support import ScriptedExecutor, run_engine, shell_task

from configure_task_scheduler.clock import FakeClock
from configure_task_scheduler.task import RunStatus

support.attempt(2, support.find("configure_task_scheduler.addons.csv_log", "CsvRunLog")
                is not None, "configure_task_scheduler.addons.csv_log.CsvRunLog does not exist")

HEADER = ["task_id", "run_number", "attempt", "status", "planned_at", "started_at", "ended_at",
          "duration_seconds", "error"]


def test_each_attempt_is_one_row_with_utc_millisecond_times(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    log = support.load("configure_task_scheduler.addons.csv_log", "CsvRunLog")(path)
    clock = FakeClock(support.START, support.MONOTONIC_START)
    executor = ScriptedExecutor(
        clock, seconds=lambda run: 0.5 if run.task.task_id == "ok" else 0.0,
        status=lambda run: RunStatus.SUCCEEDED if run.task.task_id == "ok" else RunStatus.FAILED)

    run_engine([shell_task("ok", 10), shell_task("bad", 15, retries=1, retry_delay_seconds=2)],
               20, executor, listeners=[log])
    log.close()

    with path.open(newline="") as file:
        rows = list(csv.reader(file))
    day = "2026-01-05T00:00:"
    assert rows == [
        HEADER,
        ["ok", "1", "1", "succeeded", f"{day}10.000+00:00", f"{day}10.000+00:00",
         f"{day}10.500+00:00", "0.500", ""],
        ["bad", "1", "1", "failed", f"{day}15.000+00:00", f"{day}15.000+00:00",
         f"{day}15.000+00:00", "0.000", ""],
        ["bad", "1", "2", "failed", f"{day}15.000+00:00", f"{day}17.000+00:00",
         f"{day}17.000+00:00", "0.000", ""],
        ["ok", "2", "1", "succeeded", f"{day}20.000+00:00", f"{day}20.000+00:00",
         f"{day}20.500+00:00", "0.500", ""],
    ]


def test_a_skipped_run_is_a_row_with_its_reason_quoted(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    log = support.load("configure_task_scheduler.addons.csv_log", "CsvRunLog")(path)
    clock = FakeClock(support.START, support.MONOTONIC_START)
    # The first run holds the loop for 25 s: run 2 (due at 20) starts 15 s late, past its grace.
    executor = ScriptedExecutor(clock, seconds=lambda run: 25.0 if run.run_number == 1 else 0.0)

    run_engine([shell_task("steady", 10, misfire_grace_seconds=5)], 36, executor,
               listeners=[log])
    log.close()

    with path.open(newline="") as file:
        rows = list(csv.reader(file))
    assert rows[2] == ["steady", "2", "1", "missed", "2026-01-05T00:00:20.000+00:00",
                       "2026-01-05T00:00:35.000+00:00", "2026-01-05T00:00:35.000+00:00",
                       "0.000", "15.000s late, more than misfire_grace_seconds=5"]
    assert [row[:4] for row in rows[1:]] == [["steady", "1", "1", "succeeded"],
                                             ["steady", "2", "1", "missed"]]
