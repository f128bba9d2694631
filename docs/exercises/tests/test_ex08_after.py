"""Exercise 8: a task that runs after another task's successful run (`"after": "extract"`)."""

from __future__ import annotations

import json
from pathlib import Path

import exercise_support as support
from exercise_support import ScriptedExecutor, run_engine, shell_task

from configure_task_scheduler.clock import FakeClock
from configure_task_scheduler.task import EventKind, RunEvent, RunStatus

support.attempt(8, support.has_task_field("after"), "Task has no after field")


def test_the_follower_runs_once_after_each_successful_run_of_its_leader() -> None:
    clock = FakeClock(support.START, support.MONOTONIC_START)
    # The leader's run 2 fails: no follower run for it. The follower's own
    # schedule (every 1000 s) brings no run in this minute.
    executor = ScriptedExecutor(clock, seconds=lambda run: 1.0, status=lambda run:
                                RunStatus.FAILED if run.task.task_id == "extract"
                                and run.run_number == 2 else RunStatus.SUCCEEDED)
    events: list[RunEvent] = []

    run_engine([shell_task("extract", 10), shell_task("load", 1000, after="extract")], 35,
               executor, listeners=[events.append])

    assert executor.times_of("extract") == [10.0, 20.0, 30.0]
    assert executor.times_of("load") == [11.0, 31.0]
    assert [(event.run.run_number, (event.run.planned_at - support.START).total_seconds())
            for event in events if event.kind is EventKind.RUN_STARTED
            and event.run.task.task_id == "load"] == [(1, 11.0), (2, 31.0)]


def test_the_config_rejects_an_after_that_names_no_task_of_the_file(tmp_path: Path) -> None:
    from configure_task_scheduler.config import load_config

    path = tmp_path / "tasks.json"
    entry = {"task_type": "shell", "entry_point": "true", "interval_seconds": 60}
    path.write_text(json.dumps({"tasks": [{"task_id": "extract", **entry},
                                          {"task_id": "load", **entry, "after": "extrct"}]}))

    loaded = load_config(path)

    assert [task.task_id for task in loaded.tasks] == ["extract"]
    assert [str(problem) for problem in loaded.problems] == [
        f'{path}: task #2 "load": after: expected the id of another task in this file, '
        'found "extrct" (did you mean "extract"?)']
