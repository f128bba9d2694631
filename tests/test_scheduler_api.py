"""The library API, `Scheduler`: tasks from arguments, control, and the library promises.

Arguments are checked by the loader's own validation, so most tests here are
exact and need no clock at all. The real-time tests use 0.05 s intervals and
wait on events with deadlines; the signal-handler test runs in a subprocess so
this process's handlers stay untouched.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from conftest import DEADLINE_SECONDS, wait_until

from configure_task_scheduler import (
    ConfigError,
    EventKind,
    ReloadSummary,
    RunEvent,
    RunStatus,
    Scheduler,
    SchedulerSettings,
    Task,
    TaskSnapshot,
    TaskState,
    TaskType,
)
from configure_task_scheduler.config.entry_points import callable_name
from configure_task_scheduler.config.loader import build_config
from configure_task_scheduler.execution import PoolExecutor
from configure_task_scheduler.schedules import IntervalSchedule

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNS_ONCE = r"^a Scheduler runs once: after stop\(\), make a new one$"
MISSING_ID = 'task: task_id: missing: expected a string of 1-64 letters, digits, "_", "-" or "."'


def job() -> None:
    """A module-level task: its entry point is importable, so the loader can build it too."""


def other_job() -> None:
    """A second importable task."""


class Calls:
    """Counts calls of a task from pool threads; tests wait on the count with a deadline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.threads: list[str] = []

    def __call__(self) -> None:
        with self._lock:
            self.threads.append(threading.current_thread().name)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.threads)

    def wait_for(self, count: int) -> None:
        wait_until(lambda: self.count >= count)


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    """A scheduler that is stopped after the test whether or not the test started it."""
    made = Scheduler(max_workers=4, shutdown_timeout_seconds=5)
    yield made
    made.stop()


def problems_of(error: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


def loaded_task(entry: dict[str, Any]) -> Task:
    """The task the config loader builds from one entry (which must be valid)."""
    config = build_config({"tasks": [entry]}, "tasks.json")
    assert config.problems == []
    return config.tasks[0]


# -- adding tasks: the same Task as a config entry ------------------------------------


ENTRY_POINT = callable_name(job)  # "test_scheduler_api:job"


def job_with_arguments(number: int, letter: str, *, b: int) -> None:
    """A task whose arguments come from `args` and `kwargs`."""


ARGUMENTS_ENTRY_POINT = callable_name(job_with_arguments)


@pytest.mark.parametrize("add, entry", [
    (lambda s: s.every(10, job),
     {"task_id": "job", "task_type": "python", "entry_point": ENTRY_POINT,
      "interval_seconds": 10}),
    (lambda s: s.every(2.5, job_with_arguments, task_id="fast", timeout_seconds=5,
                       max_instances=2,
                       retries=3, retry_delay_seconds=0.5, run_on_start=True,
                       jitter_seconds=1, misfire_grace_seconds=30, args=[1, "a"],
                       kwargs={"b": 2}, task_name="Fast job", description="d",
                       enabled=False),
     {"task_id": "fast", "task_type": "python", "entry_point": ARGUMENTS_ENTRY_POINT,
      "interval_seconds": 2.5, "timeout_seconds": 5, "max_instances": 2, "retries": 3,
      "retry_delay_seconds": 0.5, "run_on_start": True, "jitter_seconds": 1,
      "misfire_grace_seconds": 30, "args": [1, "a"], "kwargs": {"b": 2},
      "task_name": "Fast job", "description": "d", "enabled": False}),
    (lambda s: s.every(300, job, align=True, timezone="Europe/Berlin"),
     {"task_id": "job", "task_type": "python", "entry_point": ENTRY_POINT,
      "interval_seconds": 300, "align": True, "timezone": "Europe/Berlin"}),
    (lambda s: s.cron("0 2 * * *", "tar czf /tmp/backup.tgz /data", task_id="backup"),
     {"task_id": "backup", "task_type": "shell", "entry_point": "tar czf /tmp/backup.tgz /data",
      "cron": "0 2 * * *"}),
    (lambda s: s.cron("@daily", job, timezone="Asia/Tokyo"),
     {"task_id": "job", "task_type": "python", "entry_point": ENTRY_POINT, "cron": "@daily",
      "timezone": "Asia/Tokyo"}),
    (lambda s: s.every(60, ["echo", "hi"], task_id="hi", env={"GREETING": "hello"}, cwd="/"),
     {"task_id": "hi", "task_type": "shell", "entry_point": ["echo", "hi"],
      "interval_seconds": 60, "env": {"GREETING": "hello"}, "cwd": "/"}),
    (lambda s: s.every(60, ("echo", "hi"), task_id="hi"),
     {"task_id": "hi", "task_type": "shell", "entry_point": ["echo", "hi"],
      "interval_seconds": 60}),
    (lambda s: s.at("2030-01-01T00:00:00", ["echo", "new year"], task_id="ny"),
     {"task_id": "ny", "task_type": "shell", "entry_point": ["echo", "new year"],
      "at": "2030-01-01T00:00:00"}),
    (lambda s: s.at(datetime(2030, 1, 1, tzinfo=timezone.utc), job),
     {"task_id": "job", "task_type": "python", "entry_point": ENTRY_POINT,
      "at": "2030-01-01T00:00:00+00:00"}),
    (lambda s: s.at("2030-06-01T12:00:00", "echo hi", task_id="noon", timezone="UTC"),
     {"task_id": "noon", "task_type": "shell", "entry_point": "echo hi",
      "at": "2030-06-01T12:00:00", "timezone": "UTC"}),
], ids=["every-callable", "every-all-options", "every-aligned", "cron-shell-string",
        "cron-callable", "every-shell-list", "every-shell-tuple", "at-shell-list",
        "at-datetime-callable", "at-shell-string"])
def test_api_builds_the_same_task_as_the_equivalent_config_entry(
        scheduler: Scheduler, add: Callable[[Scheduler], Task], entry: dict[str, Any]) -> None:
    task = add(scheduler)

    expected = loaded_task(entry)
    assert task == expected  # every field but `target`, which compare=False leaves out
    assert task.target is expected.target
    assert [snapshot.task for snapshot in scheduler.tasks()] == [task]


def test_every_with_a_callable_is_a_python_task_named_after_the_function(
        scheduler: Scheduler) -> None:
    task = scheduler.every(10, job)

    assert (task.task_id, task.task_name, task.task_type, task.entry_point, task.target) == \
        ("job", "job", TaskType.PYTHON, "test_scheduler_api:job", job)
    assert task.schedule == IntervalSchedule(10)


def test_a_string_is_a_shell_command_and_a_list_runs_without_a_shell(
        scheduler: Scheduler) -> None:
    string = scheduler.every(10, "echo hi | tr a-z A-Z", task_id="string")
    listed = scheduler.every(10, ["echo", "hi"], task_id="listed")

    assert (string.task_type, string.entry_point, string.target) == \
        (TaskType.SHELL, "echo hi | tr a-z A-Z", None)
    assert (listed.task_type, listed.entry_point, listed.target) == \
        (TaskType.SHELL, ("echo", "hi"), None)


def test_decorator_returns_the_function_unchanged(scheduler: Scheduler) -> None:
    def report() -> str:
        return "sent"

    decorated = scheduler.every(60, run_on_start=True)(report)

    assert decorated is report
    [snapshot] = scheduler.tasks()
    assert snapshot.task_id == "test_decorator_returns_the_function_unchanged.locals.report"
    assert (snapshot.task.target, snapshot.task.run_on_start) == (report, True)


def test_decorators_of_cron_and_at(scheduler: Scheduler) -> None:
    @scheduler.cron("*/5 * * * *", task_id="five")
    def every_five() -> None: ...

    @scheduler.at("2030-01-01T00:00:00")
    def once() -> None: ...

    assert [(s.task_id, s.task.target) for s in scheduler.tasks()] == [
        ("five", every_five), ("test_decorators_of_cron_and_at.locals.once", once)]


class Jobs:
    def refresh(self) -> None: ...


def test_a_bound_method_is_named_after_its_class(scheduler: Scheduler) -> None:
    jobs = Jobs()

    task = scheduler.every(10, jobs.refresh)

    assert (task.task_id, task.entry_point) == ("Jobs.refresh",
                                                "test_scheduler_api:Jobs.refresh")
    assert task.target == jobs.refresh


def test_a_lambda_gets_a_valid_id(scheduler: Scheduler) -> None:
    assert scheduler.every(10, lambda: None).task_id == "test_a_lambda_gets_a_valid_id.locals.lambda"


# -- bad arguments: ConfigError with the loader's messages ----------------------------


@pytest.mark.parametrize("add, problems", [
    (lambda s: s.every(10, "echo typo", task_id="typo", retires=3),
     ['task "typo": "retires": unknown key, did you mean "retries"?']),
    (lambda s: s.every(10, job, timeout=5),
     ['task "job": "timeout": unknown key, did you mean "timeout_seconds"?']),
    (lambda s: s.every(0, job),
     ['task "job": interval_seconds: expected a number > 0 and <= 315360000 (10 years), found 0']),
    (lambda s: s.every("10", job),
     ['task "job": interval_seconds: expected a number > 0 and <= 315360000 (10 years), found "10" '
      '(a string)']),
    (lambda s: s.every(True, job),
     ['task "job": interval_seconds: expected a number > 0 and <= 315360000 (10 years), found true '
      '(a boolean)']),
    (lambda s: s.cron("0 25 * * *", job),
     ['task "job": cron "0 25 * * *": hour: 25 is out of range 0-23']),
    (lambda s: s.cron("* * *", job),
     ['task "job": cron "* * *": expected 5 fields (minute hour day-of-month month '
      'day-of-week), found 3']),
    (lambda s: s.at("tomorrow", job),
     ['task "job": at: expected an ISO 8601 date-time like "2026-12-24T18:00:00", '
      'found "tomorrow"']),
    (lambda s: s.every(10, job, max_instances=0, retries="3"),
     ['task "job": max_instances: expected an integer from 1 to 10000, found 0',
      'task "job": retries: expected an integer from 0 to 10000, found "3" (a string)']),
    (lambda s: s.every("10", job, retires=1),
     ['task "job": "retires": unknown key, did you mean "retries"?',
      'task "job": interval_seconds: expected a number > 0 and <= 315360000 (10 years), found "10" '
      '(a string)']),
    (lambda s: s.every(10, job, task_id="no spaces"),
     ['task "no spaces": task_id: expected a string of 1-64 letters, digits, "_", "-" or ".", '
      'found "no spaces" (a string)']),
    (lambda s: s.every(10, "echo hi"), [MISSING_ID]),
    (lambda s: s.every(10, [], task_id="empty"),
     ['task "empty": entry_point: expected a command string or a non-empty list of strings, '
      'found [] (a list)']),
    (lambda s: s.every(10, "echo", task_id="e", args=[1]),
     ['task "e": args: only python tasks take args; this is a shell task']),
    (lambda s: s.every(10, job, timezone="Mars/Base"),
     ['task "job": timezone: unknown time zone "Mars/Base"']),
], ids=["unknown-option", "unknown-option-prefix", "zero-interval", "string-interval",
        "boolean-interval", "cron-out-of-range", "cron-field-count", "bad-at",
        "two-bad-options", "every-problem-collected", "bad-task-id", "shell-needs-task-id",
        "empty-command", "args-on-shell", "unknown-timezone"])
def test_bad_arguments_raise_config_error_with_every_problem(
        scheduler: Scheduler, add: Callable[[Scheduler], Any], problems: list[str]) -> None:
    with pytest.raises(ConfigError) as error:
        add(scheduler)

    assert problems_of(error) == problems
    assert str(error.value) == "\n".join(problems)
    assert scheduler.tasks() == []


def test_a_bad_argument_gets_the_message_a_bad_config_entry_gets(
        scheduler: Scheduler) -> None:
    entry = {"task_id": "typo", "task_type": "shell", "entry_point": "echo typo",
             "interval_seconds": "10", "retires": 3}
    from_file = build_config({"tasks": [entry]}, "tasks.json").problems

    with pytest.raises(ConfigError) as error:
        scheduler.every("10", "echo typo", task_id="typo", retires=3)  # type: ignore[arg-type]

    assert [str(problem) for problem in from_file] == [
        'tasks.json: task #1 "typo": "retires": unknown key, did you mean "retries"?',
        'tasks.json: task #1 "typo": interval_seconds: expected a number > 0 and <= 315360000 (10 '
        'years), '
        'found "10" (a string)']
    assert [(p.field, p.message) for p in error.value.problems] == \
        [(p.field, p.message) for p in from_file]
    assert [(p.file, p.where) for p in error.value.problems] == [("", 'task "typo"')] * 2


def test_a_duplicate_id_is_rejected_and_the_first_task_kept(scheduler: Scheduler) -> None:
    first = scheduler.every(10, job)

    with pytest.raises(ConfigError) as error:
        scheduler.every(20, other_job, task_id="job")

    assert problems_of(error) == [
        'task "job": task_id: already used by another task; pass another task_id or '
        'remove() the old one first']
    assert [snapshot.task for snapshot in scheduler.tasks()] == [first]


def test_bad_decorator_options_raise_at_once(scheduler: Scheduler) -> None:
    with pytest.raises(ConfigError) as error:
        @scheduler.every(60, retries=-1)
        def report() -> None: ...

    assert problems_of(error) == [
        'task "test_bad_decorator_options_raise_at_once.locals.report": '
        "retries: expected an integer from 0 to 10000, found -1"]
    assert scheduler.tasks() == []


def test_a_long_qualified_name_is_cut_to_a_valid_64_character_id(
        scheduler: Scheduler) -> None:
    def a_function_with_a_rather_long_name_that_goes_on_and_on() -> None: ...

    task = scheduler.every(10, a_function_with_a_rather_long_name_that_goes_on_and_on)

    assert task.task_id == ("test_a_long_qualified_name_is_cut_to_a_valid_64_character_id."
                            "locals.a_function_with_a_rather_long_name_that_goes_on_and_on")[:64]


@pytest.mark.parametrize("arguments, problem", [
    ({"max_workers": 0}, "scheduler: max_workers: expected an integer from 1 to 1000, found 0"),
    ({"max_workers": "4"}, 'scheduler: max_workers: expected an integer from 1 to 1000, found "4" '
                           "(a string)"),
    ({"shutdown_timeout_seconds": -1},
     "scheduler: shutdown_timeout_seconds: expected a number from 0 to 315360000 (10 years), found "
     "-1"),
    ({"timezone": "Mars/Base"}, 'scheduler: timezone: unknown time zone "Mars/Base"'),
], ids=["zero-workers", "string-workers", "negative-shutdown-timeout", "unknown-timezone"])
def test_bad_scheduler_arguments_get_the_scheduler_section_messages(
        arguments: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        Scheduler(**arguments)

    assert problems_of(error) == [problem]


def test_a_timezone_argument_is_the_default_zone_of_its_tasks() -> None:
    scheduler = Scheduler(timezone="Asia/Tokyo")

    task = scheduler.cron("0 9 * * *", job)

    assert task == loaded_task({"task_id": "job", "task_type": "python",
                                "entry_point": ENTRY_POINT, "cron": "0 9 * * *",
                                "timezone": "Asia/Tokyo"})
    scheduler.stop()


# -- add, remove, pause, resume, run_now, tasks (no clock needed) ---------------------


def test_add_takes_a_task_built_by_the_loader(scheduler: Scheduler) -> None:
    task = loaded_task({"task_id": "hello", "task_type": "shell", "entry_point": "true",
                        "interval_seconds": 60})

    assert scheduler.add(task) is task
    with pytest.raises(ConfigError) as error:
        scheduler.add(task)

    assert problems_of(error) == ['task "hello": task_id: already used by another task; '
                                  "pass another task_id or remove() the old one first"]
    assert [snapshot.task for snapshot in scheduler.tasks()] == [task]


def test_remove_returns_the_task_and_frees_its_id(scheduler: Scheduler) -> None:
    first = scheduler.every(10, job)
    scheduler.every(10, other_job)

    assert scheduler.remove("job") is first
    assert [snapshot.task_id for snapshot in scheduler.tasks()] == ["other_job"]
    assert scheduler.every(20, job).schedule == IntervalSchedule(20)


@pytest.mark.parametrize("call", ["remove", "pause", "resume", "run_now"])
def test_an_unknown_task_id_raises_key_error(scheduler: Scheduler, call: str) -> None:
    scheduler.every(10, job)

    with pytest.raises(KeyError) as error:
        getattr(scheduler, call)("nope")

    assert error.value.args == ("no task 'nope'",)


def test_pause_disables_and_resume_schedules_again_before_start(
        scheduler: Scheduler) -> None:
    scheduler.every(10, job)

    scheduler.pause("job")
    paused = scheduler.tasks()
    scheduler.resume("job")

    assert (paused[0].state, paused[0].task.enabled) == (TaskState.DISABLED, False)
    assert (scheduler.tasks()[0].state, scheduler.tasks()[0].task.enabled) == \
        (TaskState.SCHEDULED, True)


def test_tasks_before_start_are_scheduled_with_no_runs_yet(scheduler: Scheduler) -> None:
    python_task = scheduler.every(10, job)
    shell_task = scheduler.cron("0 2 * * *", "true", task_id="nightly", enabled=False)

    assert scheduler.tasks() == [
        TaskSnapshot(python_task, TaskState.SCHEDULED, None, 0, None, MappingProxyType({})),
        TaskSnapshot(shell_task, TaskState.DISABLED, None, 0, None, MappingProxyType({})),
    ]


def test_reload_needs_a_scheduler_made_from_a_config(scheduler: Scheduler) -> None:
    with pytest.raises(RuntimeError,
                       match=r"^reload\(\) needs a scheduler made by "
                             r"Scheduler\.from_config\(\)$"):
        scheduler.reload()


# -- running, in real time ------------------------------------------------------------


def test_start_returns_at_once_and_runs_tasks_on_pool_threads(scheduler: Scheduler) -> None:
    calls = Calls()
    scheduler.every(0.05, calls, task_id="tick")
    before = set(threading.enumerate())

    scheduler.start()
    engine_threads = [t.name for t in set(threading.enumerate()) - before]
    calls.wait_for(3)
    scheduler.stop()

    assert engine_threads == ["cts-engine"]
    assert set(calls.threads) <= {f"cts-worker-{n}" for n in range(4)}
    assert set(threading.enumerate()) == before  # stop() waited for every thread


def test_stop_waits_for_a_run_in_flight_to_finish(scheduler: Scheduler) -> None:
    started, finished = threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        time.sleep(0.2)  # the task's own work, not a wait of the test
        finished.set()

    scheduler.every(0.05, slow, task_id="slow")
    scheduler.start()
    assert started.wait(10)
    scheduler.stop()

    assert finished.is_set()
    [snapshot] = scheduler.tasks()
    assert snapshot.counts[RunStatus.SUCCEEDED] >= 1
    assert snapshot.running == 0


def test_tasks_report_next_run_and_results_as_immutable_snapshots(
        scheduler: Scheduler) -> None:
    calls = Calls()
    scheduler.every(0.05, calls, task_id="tick")
    scheduler.start()
    calls.wait_for(1)
    wait_until(lambda: scheduler.tasks()[0].last_result is not None)

    [first] = scheduler.tasks()
    counts_then, result_then = dict(first.counts), first.last_result
    calls.wait_for(first.last_result.run_number + 2)  # type: ignore[union-attr]
    wait_until(lambda: scheduler.tasks()[0].last_result != result_then)
    scheduler.stop()

    assert result_then is not None and result_then.status is RunStatus.SUCCEEDED
    assert first.next_run_at is not None and first.state in (
        TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING)
    # The next slot on the 0.05 s grid: one interval on, or two if a run is in flight.
    ahead = round((first.next_run_at - result_then.planned_at).total_seconds(), 3)
    assert ahead in (0.05, 0.1)
    assert (dict(first.counts), first.last_result) == (counts_then, result_then)
    with pytest.raises(TypeError):
        first.counts[RunStatus.FAILED] = 1  # type: ignore[index]
    assert scheduler.tasks()[0].counts[RunStatus.SUCCEEDED] > counts_then[RunStatus.SUCCEEDED]


def test_pause_stops_runs_and_resume_starts_them_again(scheduler: Scheduler) -> None:
    paused_calls, ticks = Calls(), Calls()
    scheduler.every(0.05, paused_calls, task_id="paused")
    scheduler.every(0.05, ticks, task_id="tick")  # the test's measure of time passing
    scheduler.start()
    paused_calls.wait_for(2)

    scheduler.pause("paused")
    ticks.wait_for(ticks.count + 2)  # a run handed off just before the pause has started
    while_paused = paused_calls.count
    ticks.wait_for(ticks.count + 6)  # six more intervals
    after_six_intervals = paused_calls.count
    state, next_run_at = scheduler.tasks()[0].state, scheduler.tasks()[0].next_run_at
    scheduler.resume("paused")
    paused_calls.wait_for(while_paused + 1)

    assert after_six_intervals == while_paused
    assert (state, next_run_at) == (TaskState.DISABLED, None)
    assert scheduler.tasks()[0].task.enabled is True


def test_a_removed_task_runs_no_more(scheduler: Scheduler) -> None:
    removed_calls, ticks = Calls(), Calls()
    scheduler.every(0.05, removed_calls, task_id="removed")
    scheduler.every(0.05, ticks, task_id="tick")
    scheduler.start()
    removed_calls.wait_for(1)

    scheduler.remove("removed")
    ticks.wait_for(ticks.count + 2)
    after_removal = removed_calls.count
    ticks.wait_for(ticks.count + 6)

    assert removed_calls.count == after_removal
    assert [snapshot.task_id for snapshot in scheduler.tasks()] == ["tick"]


def test_a_task_added_while_running_is_planned_at_once(scheduler: Scheduler) -> None:
    calls = Calls()
    scheduler.start()

    scheduler.every(0.05, calls, task_id="late")

    calls.wait_for(2)


def test_run_now_runs_a_task_at_once_outside_its_schedule(scheduler: Scheduler) -> None:
    ran = threading.Event()
    scheduler.every(3600, ran.set, task_id="hourly")
    scheduler.start()

    scheduler.run_now("hourly")

    assert ran.wait(10)
    wait_until(lambda: scheduler.tasks()[0].last_result is not None)
    [snapshot] = scheduler.tasks()
    assert snapshot.last_result is not None
    assert (snapshot.last_result.run_number, snapshot.last_result.status) == \
        (1, RunStatus.SUCCEEDED)
    assert dict(snapshot.counts) == {RunStatus.SUCCEEDED: 1}
    assert snapshot.state is TaskState.SCHEDULED


def test_run_now_runs_a_shell_command(scheduler: Scheduler, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    scheduler.every(3600, ["touch", str(marker)], task_id="touch")
    scheduler.start()

    scheduler.run_now("touch")

    wait_until(lambda: scheduler.tasks()[0].last_result is not None)
    result = scheduler.tasks()[0].last_result
    assert result is not None and (result.status, result.exit_code) == \
        (RunStatus.SUCCEEDED, 0)
    assert marker.exists()


def test_subscribers_hear_each_run_start_and_finish(scheduler: Scheduler) -> None:
    events: list[RunEvent] = []
    finished = threading.Event()

    def listen(event: RunEvent) -> None:
        events.append(event)
        if event.kind is EventKind.RUN_FINISHED:
            finished.set()

    scheduler.subscribe(listen)
    scheduler.every(3600, job, run_on_start=True)
    scheduler.start()
    assert finished.wait(10)
    scheduler.stop()

    assert [(e.kind, e.run.task.task_id, e.run.run_number) for e in events] == [
        (EventKind.RUN_STARTED, "job", 1), (EventKind.RUN_FINISHED, "job", 1)]
    assert events[1].result is not None and events[1].result.status is RunStatus.SUCCEEDED


def test_a_failing_callable_is_a_failed_run_and_the_scheduler_goes_on(
        scheduler: Scheduler) -> None:
    def broken() -> None:
        raise ValueError("no cache today")

    ticks = Calls()
    scheduler.every(0.05, broken, task_id="broken")
    scheduler.every(0.05, ticks, task_id="tick")
    scheduler.start()
    wait_until(lambda: scheduler.tasks()[0].counts.get(RunStatus.FAILED, 0) >= 2)
    ticks.wait_for(2)
    scheduler.stop()

    result = scheduler.tasks()[0].last_result
    assert result is not None
    assert (result.status, result.error) == (RunStatus.FAILED, "ValueError: no cache today")


def test_run_forever_runs_in_the_calling_thread_for_a_duration() -> None:
    scheduler = Scheduler()
    calls = Calls()
    scheduler.every(0.05, calls, task_id="tick")
    before = set(threading.enumerate())

    started = time.monotonic()
    scheduler.run_forever(duration_seconds=0.3)
    elapsed = time.monotonic() - started

    assert elapsed >= 0.3
    assert calls.count >= 2
    assert set(threading.enumerate()) == before
    assert set(calls.threads) <= {f"cts-worker-{n}" for n in range(4)}


def test_run_forever_on_another_thread_returns_when_stop_is_called() -> None:
    scheduler = Scheduler()
    started, finished = threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        time.sleep(0.2)  # in flight when stop() is called
        finished.set()

    scheduler.every(0.05, slow, task_id="slow")
    runner = threading.Thread(target=scheduler.run_forever, name="test-runner")
    runner.start()
    assert started.wait(10)

    scheduler.stop()
    stopped_before_runner_returned = runner.is_alive()
    runner.join(10)

    assert not runner.is_alive()
    assert not stopped_before_runner_returned  # stop() waited for the whole shutdown
    assert finished.is_set()


@pytest.mark.parametrize("how", ["start", "run_forever"])
def test_stop_called_from_inside_a_task_returns_at_once_and_the_shutdown_completes(
        how: str) -> None:
    # A shutdown timeout far longer than the test's deadline: before, stop()
    # inside the task waited for the task itself until the timeout ran out.
    scheduler = Scheduler(shutdown_timeout_seconds=3600)
    stop_returned = threading.Event()

    def stopper() -> None:
        scheduler.stop()
        stop_returned.set()

    scheduler.every(3600, stopper, task_id="stopper", run_on_start=True)
    runner = threading.Thread(target=scheduler.run_forever, name="test-runner")
    if how == "start":
        scheduler.start()
    else:
        runner.start()

    assert stop_returned.wait(DEADLINE_SECONDS)
    if how == "start":
        scheduler.stop()  # joins the engine thread, whose shutdown ends with the task
    else:
        runner.join(DEADLINE_SECONDS)
        assert not runner.is_alive()
    assert scheduler.tasks()[0].counts == {RunStatus.SUCCEEDED: 1}


def test_context_manager_starts_and_stops() -> None:
    calls = Calls()
    before = set(threading.enumerate())

    with Scheduler() as scheduler:
        scheduler.every(0.05, calls, task_id="tick")
        running = [t.name for t in set(threading.enumerate()) - before]
        calls.wait_for(2)

    assert "cts-engine" in running
    assert set(threading.enumerate()) == before
    with pytest.raises(RuntimeError, match=RUNS_ONCE):
        scheduler.start()


def test_context_manager_stops_when_the_block_raises() -> None:
    before = set(threading.enumerate())

    with pytest.raises(ZeroDivisionError):
        with Scheduler() as scheduler:
            scheduler.every(0.05, job)
            1 / 0

    assert set(threading.enumerate()) == before


def test_a_scheduler_starts_only_once(scheduler: Scheduler) -> None:
    scheduler.start()

    with pytest.raises(RuntimeError, match=RUNS_ONCE):
        scheduler.start()
    with pytest.raises(RuntimeError, match=RUNS_ONCE):
        scheduler.run_forever(duration_seconds=0)


@pytest.mark.parametrize("restart", ["start", "run_forever", "enter"])
def test_a_stopped_scheduler_cannot_run_again(restart: str) -> None:
    scheduler = Scheduler()
    scheduler.start()
    scheduler.stop()

    with pytest.raises(RuntimeError, match=RUNS_ONCE):
        if restart == "start":
            scheduler.start()
        elif restart == "run_forever":
            scheduler.run_forever(duration_seconds=0)
        else:
            with scheduler:
                pass


def test_stop_is_idempotent_and_safe_before_start() -> None:
    Scheduler().stop()
    scheduler = Scheduler()
    scheduler.start()
    scheduler.stop()
    scheduler.stop()


# -- from_config and reload -----------------------------------------------------------


def shell_entry(task_id: str, **fields: Any) -> dict[str, Any]:
    return {"task_id": task_id, "task_type": "shell", "entry_point": "true",
            "interval_seconds": 3600, **fields}


QUIET = {"reload_interval_seconds": 0}  # no polling: the tests reload by hand


def test_from_config_holds_the_tasks_the_loader_builds(
        write_config: Callable[..., Path]) -> None:
    path = write_config({"scheduler": {**QUIET, "timezone": "Asia/Tokyo"},
                         "tasks": [shell_entry("a"),
                                   {"task_id": "b", "task_type": "shell",
                                    "entry_point": ["echo", "b"], "cron": "0 9 * * *"}]})

    scheduler = Scheduler.from_config(str(path))

    expected = build_config(json.loads(path.read_text()), str(path)).tasks
    assert [snapshot.task for snapshot in scheduler.tasks()] == expected
    assert expected[1].schedule == loaded_task({"task_id": "b", "task_type": "shell",
                                                "entry_point": "x", "cron": "0 9 * * *",
                                                "timezone": "Asia/Tokyo"}).schedule
    scheduler.stop()


def test_from_config_raises_with_every_problem_when_strict(
        write_config: Callable[..., Path]) -> None:
    path = write_config({"scheduler": QUIET, "tasks": [
        shell_entry("a"), shell_entry("bad", interval_seconds="10"), shell_entry("a")]})

    with pytest.raises(ConfigError) as error:
        Scheduler.from_config(str(path))

    assert problems_of(error) == [
        f'{path}: task #2 "bad": interval_seconds: expected a number > 0 and <= 315360000 (10 '
        f'years), found "10" (a string)',
        f'{path}: task #3 "a": task_id: duplicate of task #1; this task is skipped']


def test_from_config_skips_invalid_tasks_unless_strict(
        write_config: Callable[..., Path], caplog: pytest.LogCaptureFixture) -> None:
    path = write_config({"scheduler": QUIET, "tasks": [
        shell_entry("a"), shell_entry("bad", interval_seconds="10")]})

    scheduler = Scheduler.from_config(str(path), strict=False)

    assert [snapshot.task_id for snapshot in scheduler.tasks()] == ["a"]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", f'{path}: task #2 "bad": interval_seconds: expected a number > 0 and <= '
                  f'315360000 (10 years), '
                  'found "10" (a string) (task skipped)')]
    scheduler.stop()


@pytest.mark.parametrize("strict", [True, False])
def test_from_config_raises_for_a_file_it_cannot_use(
        write_config: Callable[..., Path], strict: bool) -> None:
    path = write_config('{"tasks": [}')

    with pytest.raises(ConfigError) as error:
        Scheduler.from_config(str(path), strict=strict)

    assert problems_of(error) == [f"{path}: line 1, column 12: invalid JSON: Expecting value"]


def test_reload_applies_the_changed_file_and_returns_the_summary(
        write_config: Callable[..., Path]) -> None:
    path = write_config({"scheduler": QUIET, "tasks": [
        shell_entry("kept"), shell_entry("changed"), shell_entry("removed")]})
    scheduler = Scheduler.from_config(str(path))
    write_config({"scheduler": QUIET, "tasks": [
        shell_entry("kept"), shell_entry("changed", interval_seconds=60), shell_entry("added")]})

    summary = scheduler.reload()

    assert summary == ReloadSummary(added=["added"], removed=["removed"], changed=["changed"],
                                    unchanged=1)
    assert str(summary) == "reloaded config: 1 added (added), 1 removed (removed), 1 changed (changed), 1 unchanged"
    assert [(s.task_id, s.task.schedule) for s in scheduler.tasks()] == [
        ("kept", IntervalSchedule(3600)), ("changed", IntervalSchedule(60)),
        ("added", IntervalSchedule(3600))]
    scheduler.stop()


def test_reload_of_an_unusable_file_returns_none_and_keeps_the_tasks(
        write_config: Callable[..., Path]) -> None:
    path = write_config({"scheduler": QUIET, "tasks": [shell_entry("a")]})
    scheduler = Scheduler.from_config(str(path))
    path.write_text('{"tasks": [')

    assert scheduler.reload() is None
    assert [snapshot.task_id for snapshot in scheduler.tasks()] == ["a"]
    scheduler.stop()


def test_a_running_scheduler_from_config_picks_up_a_changed_file(
        write_config: Callable[..., Path]) -> None:
    polled = {"reload_interval_seconds": 0.05}
    path = write_config({"scheduler": polled, "tasks": [shell_entry("a")]})
    scheduler = Scheduler.from_config(str(path))
    before = set(threading.enumerate()) - {threading.current_thread()}
    scheduler.start()

    write_config({"scheduler": polled, "tasks": [shell_entry("a"), shell_entry("b")]})
    wait_until(lambda: [s.task_id for s in scheduler.tasks()] == ["a", "b"])
    scheduler.stop()

    assert set(threading.enumerate()) - {threading.current_thread()} == before


# -- the library promises -------------------------------------------------------------


SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def process_state() -> dict[str, Any]:
    """What a library must leave as it found it: signals, logging, cwd, umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    package_loggers = {name: (list(logger.handlers), logger.level, logger.propagate)
                       for name, logger in logging.root.manager.loggerDict.items()
                       if name.startswith("configure_task_scheduler")
                       and isinstance(logger, logging.Logger)}
    return {"signals": {signum: signal.getsignal(signum) for signum in SIGNALS},
            "root_handlers": list(logging.getLogger().handlers),
            "root_level": logging.getLogger().level,
            "package_loggers": package_loggers, "cwd": os.getcwd(), "umask": umask}


def busy_scheduler(tmp_path: Path) -> tuple[Scheduler, Calls]:
    """A scheduler with a python task, a failing one and a shell task with its own cwd."""
    def broken() -> None:
        raise RuntimeError("broken on purpose")

    scheduler, calls = Scheduler(), Calls()
    scheduler.every(0.05, calls, task_id="tick")
    scheduler.every(0.05, broken, task_id="broken")
    scheduler.every(0.05, ["sh", "-c", "pwd; echo oops >&2; exit 3"], task_id="shell",
                    cwd=str(tmp_path))
    return scheduler, calls


def test_start_and_stop_leave_the_process_as_they_found_it(tmp_path: Path) -> None:
    before = process_state()
    scheduler, calls = busy_scheduler(tmp_path)

    scheduler.start()
    calls.wait_for(2)
    wait_until(lambda: scheduler.tasks()[2].counts.get(RunStatus.FAILED, 0) >= 1)
    during = process_state()
    scheduler.stop()

    assert during == before
    assert process_state() == before
    assert scheduler.tasks()[2].last_result.stdout_tail == f"{tmp_path}\n"  # type: ignore


def test_run_forever_installs_no_signal_handlers_by_default(tmp_path: Path) -> None:
    before = process_state()
    scheduler, calls = busy_scheduler(tmp_path)

    scheduler.run_forever(duration_seconds=0.2)

    assert process_state() == before
    assert calls.count >= 1


def test_from_config_leaves_the_process_as_it_found_it(
        write_config: Callable[..., Path]) -> None:
    before = process_state()
    path = write_config({"scheduler": {"reload_interval_seconds": 0.05},
                         "tasks": [shell_entry("a", interval_seconds=0.05)]})

    with Scheduler.from_config(str(path)) as scheduler:
        wait_until(lambda: scheduler.tasks()[0].last_result is not None)
        assert process_state() == before

    assert process_state() == before


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                          capture_output=True, text=True, timeout=60)


IMPORT_CHECK = """
import logging, signal, threading
signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
before = [signal.getsignal(s) for s in signals]
import configure_task_scheduler
import configure_task_scheduler.cli
print([type(h).__name__ for h in logging.getLogger().handlers], logging.getLogger().level)
print([type(h).__name__ for h in logging.getLogger("configure_task_scheduler").handlers])
print(sorted(name for name, logger in logging.root.manager.loggerDict.items()
             if isinstance(logger, logging.Logger) and (logger.handlers or logger.level)))
print([t.name for t in threading.enumerate()], [signal.getsignal(s) for s in signals] == before)
"""


def test_importing_the_package_adds_only_its_null_handler() -> None:
    completed = run_python(IMPORT_CHECK)

    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout.splitlines() == [
        "[] 30", "['NullHandler']", "['configure_task_scheduler']", "['MainThread'] True"]


QUIET_LIBRARY = """
from configure_task_scheduler import Scheduler

def broken():
    raise RuntimeError("broken on purpose")

scheduler = Scheduler()
scheduler.every(3600, broken, task_id="broken", run_on_start=True)
scheduler.every(3600, "echo to stdout; echo to stderr >&2; exit 3", task_id="shell",
                run_on_start=True)
scheduler.every(3600, "sleep 5", task_id="late", timeout_seconds=0.1, run_on_start=True)
scheduler.run_forever(duration_seconds=0.5)
print({s.task_id: dict((k.value, n) for k, n in s.counts.items()) for s in scheduler.tasks()})
"""


def test_failures_print_nothing_when_the_application_configured_no_logging() -> None:
    completed = run_python(QUIET_LIBRARY)

    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout == \
        "{'broken': {'failed': 1}, 'shell': {'failed': 1}, 'late': {'timed_out': 1}}\n"


SIGNAL_HANDLERS = """
import json, os, signal, sys
from configure_task_scheduler import Scheduler

path, stop_signal = sys.argv[1], getattr(signal, sys.argv[2])
signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
before = [signal.getsignal(s) for s in signals]
during = []

def write_config(*task_ids):
    step = {"task_id": "step", "task_type": "python", "entry_point": "__main__:step",
            "interval_seconds": 0.05}
    tasks = [step] + [{"task_id": task_id, "task_type": "shell", "entry_point": "true",
                       "interval_seconds": 3600} for task_id in task_ids]
    with open(path, "w") as file:
        json.dump({"scheduler": {"reload_interval_seconds": 0}, "tasks": tasks}, file)

def step():
    # Runs on a pool thread, one call at a time: reload by SIGHUP, then stop by signal.
    if not during:
        during.extend(getattr(signal.getsignal(s), "__name__", "?") for s in signals)
        write_config("hello", "added")
        os.kill(os.getpid(), signal.SIGHUP)
    elif "added" in [snapshot.task_id for snapshot in scheduler.tasks()]:
        os.kill(os.getpid(), stop_signal)

write_config("hello")
scheduler = Scheduler.from_config(path)
scheduler.run_forever(install_signal_handlers=True)
print("during:", *during)
print("tasks:", *[snapshot.task_id for snapshot in scheduler.tasks()])
print("restored:", [signal.getsignal(s) for s in signals] == before)
"""


@pytest.mark.parametrize("stop_signal", ["SIGTERM", "SIGINT"])
def test_run_forever_with_signal_handlers_stops_on_signal_and_reloads_on_sighup(
        write_config: Callable[..., Path], stop_signal: str) -> None:
    path = write_config({"tasks": []})

    completed = run_python(SIGNAL_HANDLERS, str(path), stop_signal)

    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout.splitlines() == [
        "during: on_stop on_stop on_reload", "tasks: step hello added", "restored: True"]


def test_args_given_as_a_tuple_are_accepted_and_checked_against_the_signature() -> None:
    scheduler = Scheduler()

    task = scheduler.every(60, job_with_arguments, args=(1, "a"), kwargs={"b": 2})

    assert (task.args, dict(task.kwargs)) == ((1, "a"), {"b": 2})
    with pytest.raises(ConfigError, match=(
            r'^task "other": args: expected at most 2 positional arguments for '
            r"test_scheduler_api:job_with_arguments\(number: 'int', letter: 'str', \*, "
            r"b: 'int'\) -> 'None', found 3$")):
        scheduler.every(60, job_with_arguments, task_id="other", args=(1, "a", 3),
                        kwargs={"b": 2})


def test_a_function_is_checked_against_its_signature_as_it_is_when_each_task_is_added() -> None:
    scheduler = Scheduler()

    def job(number):  # type: ignore[no-untyped-def]
        """Needs an argument until it gets a default."""

    with pytest.raises(ConfigError, match=(
            r'^task "first": args: no value for the parameter "number" of '
            r"test_scheduler_api:test_a_function_is_checked_against_its_signature_as_it_is_"
            r"when_each_task_is_added\.<locals>\.job\(number\)$")):
        scheduler.every(60, job, task_id="first")
    job.__defaults__ = (1,)
    task = scheduler.every(60, job, task_id="second")
    job.__defaults__ = None
    with pytest.raises(ConfigError, match=r'^task "third": args: no value for the parameter '):
        scheduler.every(60, job, task_id="third")

    assert [snapshot.task_id for snapshot in scheduler.tasks()] == [task.task_id]


def test_constructor_defaults_are_the_scheduler_section_defaults() -> None:
    settings = SchedulerSettings()
    parameters = inspect.signature(Scheduler).parameters
    executor_parameters = inspect.signature(PoolExecutor).parameters

    assert (parameters["max_workers"].default, parameters["shutdown_timeout_seconds"].default,
            executor_parameters["max_workers"].default) == (
        settings.max_workers, settings.shutdown_timeout_seconds, settings.max_workers)


FORGOTTEN_STOP = """
import os, sys, threading
from configure_task_scheduler import Scheduler

ending, flag = sys.argv[1], sys.argv[2]
scheduler = Scheduler(shutdown_timeout_seconds=30)
started = threading.Event()

def report(event):
    if event.run.task.task_id == "slow":
        print(event.kind.value, event.run.task.task_id, flush=True)
        started.set()

scheduler.subscribe(report)
# In flight when the script ends: it finishes only once the flag file exists.
scheduler.every(3600, ["sh", "-c", f"while [ ! -e {flag} ]; do sleep 0.01; done"],
                task_id="slow", run_on_start=True)
scheduler.start()
started.wait(10)
print("main ends:", ending, flush=True)
open(flag, "w").close()
if ending == "raise":
    raise RuntimeError("the script crashed")
if ending == "exit 3":
    sys.exit(3)
"""


@pytest.mark.parametrize(("ending", "status"), [("return", 0), ("raise", 1), ("exit 3", 3)],
                         ids=["ends", "crashes", "exits-3"])
def test_a_script_that_starts_a_scheduler_and_never_stops_it_still_exits(
        ending: str, status: int, tmp_path: Path) -> None:
    # Before, the non-daemon worker threads kept the interpreter alive: this timed out.
    completed = subprocess.run([sys.executable, "-c", FORGOTTEN_STOP, ending,
                                str(tmp_path / "flag")], cwd=REPO_ROOT,
                               env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                               capture_output=True, text=True, timeout=DEADLINE_SECONDS)

    assert completed.returncode == status
    # The run in flight at exit finished: the scheduler stopped gracefully.
    assert completed.stdout.splitlines() == [
        "run_started slow", f"main ends: {ending}", "run_finished slow"]
    crash = ["RuntimeError: the script crashed"] if ending == "raise" else []
    assert completed.stderr.splitlines()[-1:] == crash
