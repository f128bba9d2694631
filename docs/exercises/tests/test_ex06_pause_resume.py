"""Exercise 6: pause and resume a task (`Engine.pause`, `Engine.resume`) without moving its grid."""

from __future__ import annotations

import exercise_support as support
from exercise_support import ScriptedExecutor, shell_task

from configure_task_scheduler.clock import FakeClock
from configure_task_scheduler.engine import Engine
from configure_task_scheduler.registry import Registry
from configure_task_scheduler.task import EventKind, RunEvent, RunStatus, TaskState

support.attempt(6, hasattr(Engine, "pause"), "Engine has no pause method")


def test_runs_due_while_paused_are_skipped_and_the_grid_is_kept() -> None:
    clock = FakeClock(support.START, support.MONOTONIC_START)
    executor = ScriptedExecutor(clock)
    engine = Engine(Registry([shell_task("work", 10), shell_task("timer", 25)]), executor, clock)
    states: list[TaskState] = []
    skipped: list[tuple[int, RunStatus | None, str]] = []

    def on_event(event: RunEvent) -> None:
        if event.kind is EventKind.RUN_SKIPPED:
            skipped.append((event.run.run_number, event.result and event.result.status,
                            event.reason))
        if event.kind is EventKind.RUN_STARTED and event.run.task.task_id == "timer":
            # At 25 s the timer pauses "work"; at 50 s (before work's run 5) it resumes it.
            paused = event.run.run_number == 1
            assert (engine.pause("work") if paused else engine.resume("work")) is True  # type: ignore[attr-defined]
            states.append(engine.snapshot()[0].state)

    engine.subscribe(on_event)
    engine.run(duration_seconds=60)

    assert executor.times_of("work") == [10.0, 20.0, 50.0, 60.0]
    assert skipped == [(3, RunStatus.SKIPPED, "the task is paused"),
                       (4, RunStatus.SKIPPED, "the task is paused")]
    assert states == [TaskState("paused"), TaskState.SCHEDULED]


def test_pausing_an_unknown_task_says_false() -> None:
    clock = FakeClock(support.START, support.MONOTONIC_START)
    engine = Engine(Registry([shell_task("work", 10)]), ScriptedExecutor(clock), clock)

    assert (engine.pause("nope"), engine.resume("nope")) == (False, False)  # type: ignore[attr-defined]
