"""Exercise 5: coalescing made configurable per task (`"coalesce": false` runs every missed run)."""

from __future__ import annotations

import json
from pathlib import Path

import exercise_support as support
from exercise_support import ScriptedExecutor, run_engine, shell_task

from configure_task_scheduler.clock import FakeClock
from configure_task_scheduler.task import EventKind, RunEvent

support.attempt(5, support.has_task_field("coalesce"), "Task has no coalesce field")


def planned_and_started(coalesce: bool) -> list[tuple[float, float]]:
    """(planned, started) seconds of each run when the first run holds the loop for 25 s."""
    clock = FakeClock(support.START, support.MONOTONIC_START)
    executor = ScriptedExecutor(clock, seconds=lambda run: 25.0 if run.run_number == 1 else 0.0)
    events: list[RunEvent] = []
    run_engine([shell_task("steady", 10, coalesce=coalesce)], 60, executor,
               listeners=[events.append])
    return [((event.run.planned_at - support.START).total_seconds(),
             (event.started_at - support.START).total_seconds())
            for event in events if event.kind is EventKind.RUN_STARTED and event.started_at]


def test_with_coalesce_false_every_missed_run_runs_late_back_to_back() -> None:
    assert planned_and_started(coalesce=False) == [
        (10.0, 10.0), (20.0, 35.0), (30.0, 35.0), (40.0, 40.0), (50.0, 50.0), (60.0, 60.0)]


def test_with_coalesce_true_the_missed_runs_are_one_as_before() -> None:
    assert planned_and_started(coalesce=True) == [
        (10.0, 10.0), (20.0, 35.0), (40.0, 40.0), (50.0, 50.0), (60.0, 60.0)]


def test_the_config_reads_coalesce_as_a_strict_boolean(tmp_path: Path) -> None:
    from configure_task_scheduler.config import load_config

    path = tmp_path / "tasks.json"
    entry = {"task_type": "shell", "entry_point": "true", "interval_seconds": 5}
    path.write_text(json.dumps({"tasks": [{"task_id": "a", **entry, "coalesce": False},
                                          {"task_id": "b", **entry, "coalesce": "no"},
                                          {"task_id": "c", **entry}]}))

    loaded = load_config(path)

    assert [(task.task_id, task.coalesce) for task in loaded.tasks] == [  # type: ignore[attr-defined]
        ("a", False), ("c", True)]
    assert [str(problem) for problem in loaded.problems] == [
        f'{path}: task #2 "b": coalesce: expected true or false, found "no" (a string)']

