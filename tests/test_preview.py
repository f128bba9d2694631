"""Seeing the schedule: --next and --simulate, in-process and through the real CLI."""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
from test_cli import LOG_LINE, REPO_ROOT, environment, run_cli

from configure_task_scheduler.addons import preview
from configure_task_scheduler.config import load_config
from configure_task_scheduler.schedules import IntervalSchedule, OneShotSchedule
from configure_task_scheduler.schedules.cron import CronSchedule
from configure_task_scheduler.task import Task, TaskType

START = datetime(2026, 3, 27, 12, 0, 30, tzinfo=timezone.utc)


def task(task_id: str, schedule: Any, **fields: Any) -> Task:
    return Task(task_id, TaskType.SHELL, "true", schedule, task_name=task_id, **fields)


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("15m", 900), ("6h", 21600), ("2d", 172800), ("30", 30), ("1.5h", 5400),
])
def test_durations_take_a_unit_suffix_or_plain_seconds(text: str, seconds: float) -> None:
    assert preview.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "5w", "-3s", "ten"])
def test_bad_duration_message_shows_the_accepted_forms(text: str) -> None:
    message = f'expected a duration like "90s", "15m", "6h", "2d" or seconds, found "{text}"'
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        preview.parse_duration(text)


def test_next_prints_each_schedule_in_words_and_its_next_runs() -> None:
    tasks = [task("tick", IntervalSchedule(90, timezone="UTC"), run_on_start=True),
             task("berlin", CronSchedule("30 2 * * *", "Europe/Berlin")),
             task("off", IntervalSchedule(1), enabled=False),
             task("past", OneShotSchedule("2026-01-01T00:00:00+00:00", "UTC"))]
    out = io.StringIO()

    preview.print_next(tasks, START, 3, out)

    # 02:30 does not exist in Berlin on 2026-03-29: that run comes at 03:00.
    assert out.getvalue().splitlines() == [
        "tick: every 90 seconds",
        "  2026-03-27 12:00:30+00:00",
        "  2026-03-27 12:02:00+00:00",
        "  2026-03-27 12:03:30+00:00",
        "berlin: at 02:30",
        "  2026-03-28 02:30:00+01:00",
        "  2026-03-29 03:00:00+02:00",
        "  2026-03-30 02:30:00+02:00",
        "past: once at 2026-01-01 00:00:00+00:00",
        "  (no runs ahead)",
    ]


def test_simulation_prints_the_timeline_in_order_and_counts_runs() -> None:
    tasks = [task("fast", IntervalSchedule(40, timezone="UTC")),
             task("quarter", CronSchedule("*/15 * * * *", "UTC"), run_on_start=True)]
    out = io.StringIO()

    counts = preview.simulate(tasks, START, 120, out)
    preview.print_counts(tasks, counts, out)

    assert out.getvalue().splitlines() == [
        "2026-03-27 12:00:30+00:00  quarter  run 1",
        "2026-03-27 12:01:10+00:00  fast     run 1",
        "2026-03-27 12:01:50+00:00  fast     run 2",
        "2026-03-27 12:02:30+00:00  fast     run 3",
        "fast     3 runs",
        "quarter  1 runs",
    ]


class ClosedAfter(io.StringIO):
    """A stream whose reader goes away after `lines` lines, like a pipe into `head`."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.lines, self.refused = lines, 0

    def write(self, text: str) -> int:
        if self.getvalue().count("\n") >= self.lines:
            self.refused += 1
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


def test_simulation_stops_at_the_first_line_it_cannot_write(
        caplog: pytest.LogCaptureFixture) -> None:
    out = ClosedAfter(lines=2)

    with pytest.raises(BrokenPipeError, match=r"^\[Errno 32\] Broken pipe$"):
        preview.simulate([task("fast", IntervalSchedule(1, timezone="UTC"))], START, 86400, out)

    assert out.getvalue().splitlines() == ["2026-03-27 12:00:31+00:00  fast  run 1",
                                           "2026-03-27 12:00:32+00:00  fast  run 2"]
    assert out.refused == 1
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize(("start", "weekday_report", "month_end"), [
    ("2026-12-07T09:29:30", 1, 0), ("2026-12-31T22:59:30", 0, 1),
    ("2026-12-05T09:29:30", 0, 0), ("2027-02-28T22:59:30", 0, 1),
], ids=["monday-09:29:30", "last-day-of-a-month-22:59:30", "saturday-09:29:30",
        "end-of-february-22:59:30"])
def test_an_hour_of_the_sample_config_from_a_given_start_brings_the_calendar_runs_due_in_it(
        utc_local_time: None, start: str, weekday_report: int, month_end: int) -> None:
    # The sample's cron tasks have no timezone: the local one, UTC here.
    tasks = load_config(REPO_ROOT / "config" / "tasks.json").tasks
    out = io.StringIO()

    counts = preview.simulate(tasks, datetime.fromisoformat(start).replace(tzinfo=timezone.utc),
                              3600, out)

    # hello: at start, then every minute; disk_usage: at start, then 12 times on the 5 minutes.
    assert {task.task_id: counts[task.task_id] for task in tasks if task.enabled} == {
        "hello": 61, "disk_usage": 13, "weekday_report": weekday_report, "month_end": month_end}


def test_cli_next_and_simulate_work_on_the_sample_config() -> None:
    # From the real now: only what holds at any time of day is checked here
    # (the counts per start time are pinned above).
    shown = run_cli("--next", "2")
    simulated = run_cli("--simulate", "1h")

    assert (shown.returncode, shown.stderr) == (0, "")
    assert shown.stdout.splitlines()[0] == "hello: every minute"
    assert (simulated.returncode, simulated.stderr) == (0, "")
    summary = simulated.stdout.splitlines()[-5:]
    counts = [re.fullmatch(rf"{task_id} +(\d+) runs", line)
              for task_id, line in zip(["hello", "disk_usage", "weekday_report", "month_end"],
                                       summary[1:])]
    assert all(counts), summary
    total = sum(int(count[1]) for count in counts if count)
    assert re.fullmatch(rf"-- {total} runs in 1 hour from .*:", summary[0]), summary
    assert summary[1] == "hello           61 runs"


def test_simulate_at_debug_says_would_run_stamped_with_the_simulated_time(
        write_config: Callable[..., Path]) -> None:
    config = write_config({"tasks": [{"task_id": "tick", "task_type": "shell",
                                      "entry_point": "true", "interval_seconds": 30,
                                      "run_on_start": True, "timezone": "UTC"}]})

    completed = subprocess.run(
        [sys.executable, "main.py", "--simulate", "2m", "--log-level", "DEBUG",
         "--config", str(config)], cwd=REPO_ROOT, env={**environment(), "TZ": "UTC"},
        capture_output=True, text=True, timeout=60)

    assert completed.returncode == 0
    timeline = [line.split("  ") for line in completed.stdout.splitlines()[:5]]
    log = [LOG_LINE.fullmatch(line) for line in completed.stderr.splitlines()]
    assert all(log)
    would_run = [(match[0][:19], match[2]) for match in log if match and "would run" in match[2]]
    assert would_run == [(when.removesuffix("+00:00"), f"task tick {run} would run")
                         for when, _, run in timeline]
    assert [m[2] for m in log if m and re.search(r"started|finished", m[2])] == [
        "scheduler started with 1 task (1 enabled)"]
    assert log[-1] is not None and log[-1][0][:19] == would_run[-1][0]


def test_check_reports_a_one_shot_in_the_past_without_failing(
        write_config: Callable[..., Path]) -> None:
    path = write_config([{"task_id": "xmas", "task_type": "shell", "entry_point": "true",
                          "at": "2020-12-24T18:00:00", "timezone": "Europe/Berlin"}])

    completed = run_cli("--check", "--config", path)

    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout.splitlines() == [
        f"{path}: 1 valid task (1 enabled), 0 problems",
        "  xmas  shell  once at 2020-12-24 18:00:00+01:00  enabled",
        f'{path}: task "xmas": once at 2020-12-24 18:00:00+01:00 is in the past; it will not run',
    ]
