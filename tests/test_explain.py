"""--simulate --explain: each queue decision as one sentence, on the fake clock (exact lines)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from conftest import RecordingExecutor, shell_task
from test_cli import run_cli

from configure_task_scheduler.addons import preview
from configure_task_scheduler.addons.explain import Explainer, duration
from configure_task_scheduler.clock import FakeClock
from configure_task_scheduler.engine import Engine
from configure_task_scheduler.registry import Registry
from configure_task_scheduler.schedules import IntervalSchedule, OneShotSchedule
from configure_task_scheduler.schedules.cron import CronSchedule
from configure_task_scheduler.task import Run, RunStatus, Task, TaskType

pytestmark = pytest.mark.usefixtures("utc_local_time")


def explained(clock: FakeClock, executor: RecordingExecutor, *tasks: Task,
              seconds: float) -> list[str]:
    """Run the engine for `seconds` of fake time; return the explainer's lines."""
    lines: list[str] = []
    engine = Engine(Registry(tasks), executor, clock)
    explainer = Explainer(tasks, lines.append)
    engine.explain_to(explainer.decision)
    engine.subscribe(explainer.run_event)
    engine.run(duration_seconds=seconds)
    return lines


def cron_task(task_id: str, expression: str, **fields: object) -> Task:
    return Task(task_id, TaskType.SHELL, "true", CronSchedule(expression, "UTC"),
                task_name=task_id, **fields)  # type: ignore[arg-type]


@dataclass
class StallsOnce(RecordingExecutor):
    """The first hand-off takes 25 s of fake time: the loop falls behind."""

    def submit(self, run: Run, reporter: object) -> None:
        super().submit(run, reporter)  # type: ignore[arg-type]
        if len(self.submitted) == 1:
            self.clock.advance(25)


def test_runs_due_while_behind_are_explained_as_coalesced(fake_clock: FakeClock) -> None:
    lines = explained(fake_clock, StallsOnce(fake_clock), shell_task("steady", 10), seconds=40)

    # Due at 20 and 30 while the hand-off stalled until 35: one run at 35 stands for both.
    assert lines == [
        "2026-01-01 00:00:00+00:00  steady: next run planned for 2026-01-01 00:00:10+00:00 "
        "(in 10s)",
        "2026-01-01 00:00:10+00:00  steady: next run planned for 2026-01-01 00:00:20+00:00 "
        "(in 10s)",
        "2026-01-01 00:00:10+00:00  steady: run 1 is due and starts",
        "2026-01-01 00:00:35+00:00  steady: 1 missed run coalesced into this one; "
        "next run planned for 2026-01-01 00:00:40+00:00 (in 5s)",
        "2026-01-01 00:00:35+00:00  steady: run 2 is due and starts",
        "2026-01-01 00:00:40+00:00  steady: next run planned for 2026-01-01 00:00:50+00:00 "
        "(in 10s)",
        "2026-01-01 00:00:40+00:00  steady: run 3 is due and starts",
    ]


def test_a_late_run_is_explained_as_missed_past_its_grace(fake_clock: FakeClock) -> None:
    lines = explained(fake_clock, StallsOnce(fake_clock),
                      shell_task("steady", 10, misfire_grace_seconds=5), seconds=36)

    assert lines[3:5] == [
        "2026-01-01 00:00:35+00:00  steady: 1 missed run coalesced into this one; "
        "next run planned for 2026-01-01 00:00:40+00:00 (in 5s)",
        "2026-01-01 00:00:35+00:00  steady: run 2 missed: 15.000s late, more than "
        "misfire_grace_seconds=5",
    ]


def test_a_run_due_while_the_previous_runs_is_explained_as_skipped(
        fake_clock: FakeClock) -> None:
    executor = RecordingExecutor(fake_clock, hold=True)

    lines = explained(fake_clock, executor, shell_task("slow", 10), seconds=20)

    assert lines[3:] == [
        "2026-01-01 00:00:20+00:00  slow: next run planned for 2026-01-01 00:00:30+00:00 "
        "(in 10s)",
        "2026-01-01 00:00:20+00:00  slow: run 2 skipped: previous run still running since "
        "00:00:10",
    ]


def test_retries_are_explained_with_their_backoff_and_the_one_not_made(
        fake_clock: FakeClock) -> None:
    executor = RecordingExecutor(fake_clock, status=RunStatus.FAILED)
    task = shell_task("flaky", 10, retries=5, retry_delay_seconds=4, retry_backoff=2)

    lines = explained(fake_clock, executor, task, seconds=19)

    # Attempt 2 at 14; attempt 3 would wait 8 s, until 22: after the run planned at 20.
    assert lines[2:] == [
        "2026-01-01 00:00:10+00:00  flaky: run 1 is due and starts",
        "2026-01-01 00:00:10+00:00  flaky: run 1 failed; attempt 2 planned for "
        "2026-01-01 00:00:14+00:00 (in 4s), with backoff",
        "2026-01-01 00:00:14+00:00  flaky: run 1 attempt 2 is due and starts",
        "2026-01-01 00:00:14+00:00  flaky: run 1 attempt 2 failed; not retried: its next run "
        "is due before attempt 3 would be",
    ]


def test_a_failure_without_retries_is_explained_as_not_retried(fake_clock: FakeClock) -> None:
    executor = RecordingExecutor(fake_clock, status=RunStatus.TIMED_OUT)

    lines = explained(fake_clock, executor, shell_task("once", 10), seconds=10)

    assert lines[-1] == "2026-01-01 00:00:10+00:00  once: run 1 timed out, not retried"


def test_a_clock_jump_is_explained_then_each_calendar_task_re_planned(
        fake_clock: FakeClock) -> None:
    executor = RecordingExecutor(fake_clock)
    engine_tasks = (cron_task("minutely", "* * * * *"), shell_task("steady", 3600))
    jumped: list[bool] = []

    def jump_once(event: object) -> None:
        if not jumped:
            jumped.append(True)
            fake_clock.jump_wall(3600)

    lines: list[str] = []
    engine = Engine(Registry(engine_tasks), executor, fake_clock)
    explainer = Explainer(engine_tasks, lines.append)
    engine.explain_to(explainer.decision)
    engine.subscribe(explainer.run_event)
    engine.subscribe(jump_once)
    engine.run(duration_seconds=120)

    # The interval task lives on the monotonic clock: it is not re-planned.
    assert lines == [
        "2026-01-01 00:00:00+00:00  minutely: next run planned for 2026-01-01 00:01:00+00:00 "
        "(in 1m)",
        "2026-01-01 00:00:00+00:00  steady: next run planned for 2026-01-01 01:00:00+00:00 "
        "(in 1h)",
        "2026-01-01 00:01:00+00:00  minutely: next run planned for 2026-01-01 00:02:00+00:00 "
        "(in 1m)",
        "2026-01-01 00:01:00+00:00  minutely: run 1 is due and starts",
        "2026-01-01 01:02:00+00:00  the wall clock jumped forward by 1h (a clock change or a "
        "suspend): calendar tasks are re-planned",
        "2026-01-01 01:02:00+00:00  minutely: next run planned for 2026-01-01 00:02:00+00:00 "
        "(now)",
        "2026-01-01 01:02:00+00:00  minutely: missed runs coalesced into this one; next run "
        "planned for 2026-01-01 01:03:00+00:00 (in 1m)",
        "2026-01-01 01:02:00+00:00  minutely: run 2 is due and starts",
    ]


def test_simulation_explains_each_decision_in_the_tasks_zone() -> None:
    start = datetime(2026, 3, 27, 12, 0, 30, tzinfo=timezone.utc)
    tasks = [Task("tick", TaskType.SHELL, "true", IntervalSchedule(50, timezone="UTC"),
                  task_name="tick", run_on_start=True),
             Task("berlin", TaskType.SHELL, "true", CronSchedule("2 13 * * *", "Europe/Berlin"),
                  task_name="berlin"),
             Task("once", TaskType.SHELL, "true",
                  OneShotSchedule("2026-03-27T12:01:00+00:00", "UTC"), task_name="once")]
    out = io.StringIO()

    counts = preview.simulate(tasks, start, 70, out, explain=True)

    assert out.getvalue().splitlines() == [
        "2026-03-27 12:00:30+00:00  tick: next run planned for 2026-03-27 12:00:30+00:00 (now)",
        "2026-03-27 13:00:30+01:00  berlin: next run planned for 2026-03-27 13:02:00+01:00 "
        "(in 1m30s)",
        "2026-03-27 12:00:30+00:00  once: next run planned for 2026-03-27 12:01:00+00:00 "
        "(in 30s)",
        "2026-03-27 12:00:30+00:00  tick: next run planned for 2026-03-27 12:01:20+00:00 "
        "(in 50s)",
        "2026-03-27 12:00:30+00:00  tick: run 1 is due and starts",
        "2026-03-27 12:01:00+00:00  once: no runs ahead: its schedule has ended",
        "2026-03-27 12:01:00+00:00  once: run 1 is due and starts",
        "2026-03-27 12:01:20+00:00  tick: next run planned for 2026-03-27 12:02:10+00:00 "
        "(in 50s)",
        "2026-03-27 12:01:20+00:00  tick: run 2 is due and starts",
    ]
    assert dict(counts) == {"tick": 2, "once": 1}


@pytest.mark.parametrize(("seconds", "text"), [
    (0.25, "0.25s"), (1, "1s"), (60, "1m"), (90, "1m30s"), (3600, "1h"), (86400, "1d"),
    (90061, "1d1h1m1s"), (299.6284, "4m59.628s"), (0, "0s"),
], ids=str)
def test_durations_are_written_compactly(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_explain_without_simulate_is_a_one_line_usage_error() -> None:
    result = run_cli("--explain")

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        "python3 main.py: error: --explain works only with --simulate DURATION "
        "(e.g. --simulate 1h --explain)"]


def test_cli_simulate_explain_prints_sentences_then_the_counts() -> None:
    result = run_cli("--simulate", "2m", "--explain")

    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    # The sample config from the real "now": the times vary, the sentences do not.
    expected = [r"hello: next run planned for T \(now\)",
                r"disk_usage: next run planned for T \(now\)",
                r"weekday_report: next run planned for T \(in [\dhdms.]+\)",
                r"month_end: next run planned for T \(in [\dhdms.]+\)",
                r"hello: next run planned for T \(in 1m\)",
                r"hello: run 1 is due and starts",
                r"disk_usage: next run planned for T \(in [\dms.]+\)",
                r"disk_usage: run 1 is due and starts"]
    time = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d"
    for line, pattern in zip(lines, expected):
        assert re.fullmatch(f"{time}  {pattern.replace('T', time)}", line), line
    assert len(lines) > len(expected)
    # disk_usage runs at start, and again if a 5-minute mark falls in the 2 minutes.
    assert re.fullmatch(r"disk_usage      [12] runs", lines[-3])
    assert [lines[-4], *lines[-2:]] == [
        "hello           3 runs", "weekday_report  0 runs", "month_end       0 runs"]
