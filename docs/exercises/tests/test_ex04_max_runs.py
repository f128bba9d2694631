"""Exercise 4: a `max_runs` limit: after that many runs, a task has no runs ahead."""

from __future__ import annotations

import json
from pathlib import Path

import exercise_support as support
from exercise_support import run_engine, shell_task

from configure_task_scheduler.clock import FakeClock
from configure_task_scheduler.engine import Engine
from configure_task_scheduler.registry import Registry
from configure_task_scheduler.task import TaskState

support.attempt(4, support.has_task_field("max_runs"), "Task has no max_runs field")


def test_a_task_stops_after_max_runs_and_is_finished() -> None:
    clock = FakeClock(support.START, support.MONOTONIC_START)
    executor = support.ScriptedExecutor(clock)
    engine = Engine(Registry([shell_task("thrice", 10, max_runs=3), shell_task("free", 25)]),
                    executor, clock)

    engine.run(duration_seconds=100)

    assert executor.times_of("thrice") == [10.0, 20.0, 30.0]
    assert executor.times_of("free") == [25.0, 50.0, 75.0, 100.0]
    assert [(s.task.task_id, s.state, s.next_run_at) for s in engine.snapshot()][0] == (
        "thrice", TaskState.FINISHED, None)


def test_max_runs_counts_due_runs_not_retries() -> None:
    from configure_task_scheduler.task import RunStatus

    clock = FakeClock(support.START, support.MONOTONIC_START)
    executor = support.ScriptedExecutor(
        clock, status=lambda run: RunStatus.FAILED if run.attempt == 1 else RunStatus.SUCCEEDED)

    run_engine([shell_task("flaky", 10, max_runs=2, retries=1)], 60, executor)

    assert [(number, attempt) for _, number, attempt, _ in executor.started] == [
        (1, 1), (1, 2), (2, 1), (2, 2)]


def test_the_config_rejects_a_max_runs_that_is_not_a_positive_integer(tmp_path: Path) -> None:
    from configure_task_scheduler.config import load_config

    path = tmp_path / "tasks.json"
    path.write_text(json.dumps({"tasks": [{"task_id": "t", "task_type": "shell",
                                           "entry_point": "true", "interval_seconds": 5,
                                           "max_runs": 0}]}))

    loaded = load_config(path)

    assert [str(problem) for problem in loaded.problems] == [
        f'{path}: task #1 "t": max_runs: expected an integer >= 1, found 0']
