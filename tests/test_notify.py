"""Failure notifications (`addons/notify.py`): on_failure / on_success start another task.

The engine logic runs on a `FakeClock` with a recording executor (exact
times, exact triggers); what a notifier really receives (its CTS_* variables,
a Python callable's `context.trigger`) is checked with real subprocesses and
a real pool through the `Scheduler` facade.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import DEADLINE_SECONDS, RecordingExecutor, shell_task, wait_until

from configure_task_scheduler import (
    EventKind,
    RunEvent,
    RunResult,
    RunStatus,
    Scheduler,
)
from configure_task_scheduler.addons.notify import Notifications
from configure_task_scheduler.clock import FakeClock
from configure_task_scheduler.engine import Engine
from configure_task_scheduler.registry import Registry
from configure_task_scheduler.task import RunContext, RunTrigger, Task

DAY = 86400.0


class Started:
    """Records the (task id, seconds after the start, trigger) of every run that starts."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.runs: list[tuple[str, float, RunTrigger | None]] = []
        self.finished: list[RunResult] = []

    def __call__(self, event: RunEvent) -> None:
        if event.kind is EventKind.RUN_STARTED:
            self.runs.append((event.run.task.task_id, self.clock.monotonic() - 1000.0,
                              event.run.trigger))
        elif event.kind is EventKind.RUN_FINISHED and event.result is not None:
            self.finished.append(event.result)


def simulate(clock: FakeClock, executor: RecordingExecutor, tasks: list[Task],
             seconds: float) -> Started:
    """Run an engine with the add-on over `tasks` for `seconds` of fake time."""
    engine = Engine(Registry(), executor, clock)
    started = Started(clock)
    engine.subscribe(started)
    Notifications(engine).watch(tasks)
    for task in tasks:
        engine.add(task)
    engine.run(duration_seconds=seconds)
    return started


def test_on_failure_starts_once_after_the_last_retry_not_after_earlier_attempts(
        fake_clock: FakeClock, recording_executor: RecordingExecutor) -> None:
    recording_executor.status = RunStatus.FAILED
    backup = shell_task("backup", 60, retries=2, retry_delay_seconds=1, on_failure="alert")

    started = simulate(fake_clock, recording_executor, [shell_task("alert", DAY), backup], 65)

    final = started.finished[2]
    assert started.runs == [
        ("backup", 60.0, None), ("backup", 61.0, None), ("backup", 63.0, None),
        ("alert", 63.0, RunTrigger("backup", 1, RunStatus.FAILED, None, "",
                                   final.started_at))]
    assert (final.task_id, final.attempt) == ("backup", 3)


@pytest.mark.parametrize("status, fires", [
    (RunStatus.FAILED, "on_failure"), (RunStatus.TIMED_OUT, "on_failure"),
    (RunStatus.INTERRUPTED, "on_failure"), (RunStatus.SUCCEEDED, "on_success"),
    (RunStatus.CANCELLED, None)],
    ids=["failed", "timed_out", "interrupted", "succeeded", "cancelled"])
def test_the_final_status_chooses_which_notifier_starts(
        fake_clock: FakeClock, recording_executor: RecordingExecutor, status: RunStatus,
        fires: str | None) -> None:
    recording_executor.status = status
    tasks = [shell_task("on_failure", DAY), shell_task("on_success", DAY),
             shell_task("backup", 60, on_failure="on_failure", on_success="on_success")]

    started = simulate(fake_clock, recording_executor, tasks, 60)

    expected = [] if fires is None else [fires]
    assert [task_id for task_id, _, _ in started.runs[1:]] == expected


def test_a_notifier_that_itself_fails_runs_once_and_its_own_notifier_once(
        fake_clock: FakeClock, recording_executor: RecordingExecutor) -> None:
    recording_executor.status = RunStatus.FAILED
    tasks = [shell_task("page", DAY), shell_task("alert", DAY, on_failure="page"),
             shell_task("backup", 60, on_failure="alert")]

    started = simulate(fake_clock, recording_executor, tasks, 125)

    assert [(task_id, at) for task_id, at, _ in started.runs] == [
        ("backup", 60.0), ("alert", 60.0), ("page", 60.0),
        ("backup", 120.0), ("alert", 120.0), ("page", 120.0)]
    assert [(trigger.task_id, trigger.run_number) for _, _, trigger in started.runs
            if trigger is not None] == [("backup", 1), ("alert", 1), ("backup", 2), ("alert", 2)]


def finish_held(executor: RecordingExecutor, task_id: str, status: RunStatus) -> None:
    """End the held runs of `task_id` with `status`; the others stay held."""
    for run, reporter in [job for job in executor.held if job[0].task.task_id == task_id]:
        executor.held.remove((run, reporter))
        now = executor.clock.wall()
        reporter.run_released(run)
        reporter.run_finished(run, RunResult.of(run, status, now, now, 0.0))


def test_a_notifier_still_running_is_skipped_by_its_own_overlap_policy(
        fake_clock: FakeClock, recording_executor: RecordingExecutor,
        caplog: pytest.LogCaptureFixture, utc_local_time: None) -> None:
    caplog.set_level(logging.INFO)
    recording_executor.hold = True
    tasks = [shell_task("alert", DAY), shell_task("backup", 60, on_failure="alert")]
    engine = Engine(Registry(), recording_executor, fake_clock)
    Notifications(engine).watch(tasks)
    for task in tasks:
        engine.add(task)
    engine.run(duration_seconds=60)  # backup run 1 starts at 60 and is held
    finish_held(recording_executor, "backup", RunStatus.FAILED)
    engine.run(duration_seconds=60)  # alert run 1 starts at 60 and is held; backup run 2 at 120
    caplog.clear()
    finish_held(recording_executor, "backup", RunStatus.FAILED)
    engine.run(duration_seconds=0)

    assert recording_executor.times_of("alert") == [60.0]
    assert [record.getMessage() for record in caplog.records if "alert" in record.getMessage()] \
        == ["task backup run 2 failed: starting its on_failure task alert",
            "task alert run 2 skipped: previous run still running since 00:01:00"]


def test_a_removed_or_paused_notifier_is_not_started_and_the_log_says_why(
        fake_clock: FakeClock, recording_executor: RecordingExecutor,
        caplog: pytest.LogCaptureFixture) -> None:
    recording_executor.status = RunStatus.FAILED
    alert = shell_task("alert", DAY)
    engine = Engine(Registry(), recording_executor, fake_clock)
    tasks = [alert, shell_task("backup", 60, on_failure="alert")]
    Notifications(engine).watch(tasks)
    for task in tasks:
        engine.add(task)
    engine.add(Task(**{**_fields(alert), "enabled": False}))  # paused
    engine.run(duration_seconds=60)
    engine.remove("alert")
    engine.run(duration_seconds=60)

    assert recording_executor.times_of("alert") == []
    assert [record.getMessage() for record in caplog.records
            if record.name == "configure_task_scheduler.notify"] == [
        "task backup run 1 failed: its on_failure task alert is not started: it is disabled "
        "(paused)",
        "task backup run 2 failed: its on_failure task alert is not started: no task has that "
        "id (removed since it was named)"]


def test_without_notifications_the_add_on_does_not_listen(
        fake_clock: FakeClock, recording_executor: RecordingExecutor) -> None:
    subscribed: list[object] = []

    class Watched(Engine):
        def subscribe(self, listener: Any) -> None:
            subscribed.append(listener)
            super().subscribe(listener)

    engine = Watched(Registry(), recording_executor, fake_clock)
    notifications = Notifications(engine)
    notifications.watch([shell_task("backup", 60)])
    assert subscribed == []
    notifications.watch([shell_task("alert", DAY), shell_task("b", 60, on_success="alert")])
    notifications.watch([shell_task("c", 60, on_failure="alert")])
    assert subscribed == [notifications.on_run_event]


def _fields(task: Task) -> dict[str, Any]:
    return {name: getattr(task, name) for name in Task.__dataclass_fields__}


# -- real runs: what a notifier receives ---------------------------------------------------

CTS_NAMES = ("CTS_TASK_ID", "CTS_RUN", "CTS_STATUS", "CTS_EXIT_CODE", "CTS_ERROR",
             "CTS_STARTED_AT")


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CTS_* variable of the test's own environment reaches a notifier."""
    for name in list(os.environ):
        if name.startswith("CTS_"):
            monkeypatch.delenv(name)


class Finished:
    """Collects final results by task id and signals when a task's run has finished."""

    def __init__(self) -> None:
        self.results: dict[str, list[RunResult]] = {}
        self._lock = threading.Lock()

    def __call__(self, event: RunEvent) -> None:
        if event.kind is EventKind.RUN_FINISHED and event.result is not None:
            with self._lock:
                self.results.setdefault(event.result.task_id, []).append(event.result)

    def wait_for(self, task_id: str, count: int = 1) -> list[RunResult]:
        wait_until(lambda: len(self.results.get(task_id, [])) >= count, DEADLINE_SECONDS)
        return self.results[task_id]


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    scheduler = Scheduler(max_workers=2)
    yield scheduler
    scheduler.stop()


def read_environment(path: Path) -> dict[str, str]:
    """The CTS_* variables a notifier wrote as NAME=VALUE lines (one block per run)."""
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


DUMP_CTS = 'for n in ' + " ".join(CTS_NAMES) + '; do printenv "$n" | sed "s/^/$n=/"; done ' \
           '>> {out}; env | grep -c "^CTS_" >> {count}'


def test_shell_notifier_gets_exactly_the_documented_variables_after_the_last_retry(
        scheduler: Scheduler, tmp_path: Path, clean_environment: None) -> None:
    out, count = tmp_path / "env.txt", tmp_path / "count.txt"
    finished = Finished()
    scheduler.subscribe(finished)
    scheduler.every(DAY, DUMP_CTS.format(out=out, count=count), task_id="alert")
    scheduler.every(DAY, "echo attempt >> {}; exit 3".format(tmp_path / "attempts"),
                    task_id="backup", run_on_start=True, retries=1, retry_delay_seconds=0,
                    on_failure="alert")
    scheduler.start()

    alert = finished.wait_for("alert")
    backup = finished.results["backup"]

    assert [(result.attempt, result.status) for result in backup] == [
        (1, RunStatus.FAILED), (2, RunStatus.FAILED)]
    assert read_environment(out) == {
        "CTS_TASK_ID": "backup", "CTS_RUN": "1", "CTS_STATUS": "failed", "CTS_EXIT_CODE": "3",
        "CTS_ERROR": "exit code 3", "CTS_STARTED_AT": backup[1].started_at.isoformat()}
    assert count.read_text() == "6\n"  # no other CTS_ variable, one notifier run
    assert [result.status for result in alert] == [RunStatus.SUCCEEDED]


def test_shell_on_success_gets_status_exit_code_0_and_an_empty_error(
        scheduler: Scheduler, tmp_path: Path, clean_environment: None) -> None:
    out, count = tmp_path / "env.txt", tmp_path / "count.txt"
    finished = Finished()
    scheduler.subscribe(finished)
    scheduler.every(DAY, DUMP_CTS.format(out=out, count=count), task_id="done")
    scheduler.every(DAY, "true", task_id="backup", run_on_start=True, on_success="done")
    scheduler.start()

    finished.wait_for("done")
    backup = finished.results["backup"][0]

    assert read_environment(out) == {
        "CTS_TASK_ID": "backup", "CTS_RUN": "1", "CTS_STATUS": "succeeded",
        "CTS_EXIT_CODE": "0", "CTS_ERROR": "", "CTS_STARTED_AT": backup.started_at.isoformat()}
    assert count.read_text() == "6\n"


received: list[RunContext] = []


def record_context(context: RunContext) -> None:
    received.append(context)


def fail_with_a_secret(context: RunContext) -> None:
    raise ValueError(f"token {context.env['API_TOKEN']} rejected")


def test_python_notifier_gets_the_trigger_with_the_error_redacted(
        scheduler: Scheduler) -> None:
    received.clear()
    finished = Finished()
    scheduler.subscribe(finished)
    scheduler.every(DAY, record_context, task_id="alert")
    scheduler.every(DAY, fail_with_a_secret, task_id="backup", run_on_start=True,
                    env={"API_TOKEN": "tok-8f3a9c-secret"}, on_failure="alert")
    scheduler.start()

    finished.wait_for("alert")
    backup = finished.results["backup"][0]

    assert [context.trigger for context in received] == [RunTrigger(
        "backup", 1, RunStatus.FAILED, None, "ValueError: token *** rejected",
        backup.started_at)]
    assert (received[0].task_id, received[0].run_number) == ("alert", 1)


def test_an_ordinary_run_has_no_trigger(scheduler: Scheduler) -> None:
    received.clear()
    finished = Finished()
    scheduler.subscribe(finished)
    scheduler.every(DAY, record_context, task_id="alert", run_on_start=True)
    scheduler.start()

    finished.wait_for("alert")

    assert [context.trigger for context in received] == [None]


def test_the_command_line_starts_the_notifier_with_its_variables(
        write_config: Any, start_cli: Any, clean_environment: None) -> None:
    config = write_config({"tasks": [
        {"task_id": "alert", "task_type": "shell", "interval_seconds": DAY,
         "entry_point": 'echo "$CTS_TASK_ID run $CTS_RUN $CTS_STATUS ($CTS_EXIT_CODE): '
                        '$CTS_ERROR"'},
        {"task_id": "backup", "task_type": "shell", "interval_seconds": DAY,
         "run_on_start": True, "entry_point": "exit 4", "on_failure": "alert"}]})
    process = start_cli(config)

    process.wait_for_log(r"task alert run 1 finished: succeeded in \d+\.\d\ds")

    assert [message for message in process.messages if "alert" in message] == [
        "task backup run 1 failed: starting its on_failure task alert",
        "task alert run 1 started",
        "task alert | backup run 1 failed (4): exit code 4",
        message_matching(process.messages, r"task alert run 1 finished: succeeded in .*")]


def message_matching(messages: list[str], pattern: str) -> str:
    """The one message matching `pattern` whole (its duration varies)."""
    found = [message for message in messages if re.fullmatch(pattern, message)]
    assert len(found) == 1, messages
    return found[0]
