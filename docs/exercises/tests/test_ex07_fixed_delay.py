"""Exercise 7: fixed-delay rescheduling (`"fixed_delay": true`): the next run is planned from the
end of the previous one, not from its planned time (the engine's fixed rate)."""

from __future__ import annotations

import exercise_support as support
from exercise_support import ScriptedExecutor, run_engine, shell_task

from configure_task_scheduler.clock import FakeClock

support.attempt(7, support.has_task_field("fixed_delay"), "Task has no fixed_delay field")


def runs_of(task_id: str, fixed_delay: bool) -> list[float]:
    clock = FakeClock(support.START, support.MONOTONIC_START)
    executor = ScriptedExecutor(clock, seconds=lambda run: 3.0)  # every run takes 3 s
    run_engine([shell_task(task_id, 10, fixed_delay=fixed_delay)], 50, executor)
    return executor.times_of(task_id)


def test_fixed_delay_waits_the_interval_after_each_run_ends() -> None:
    assert runs_of("delay", fixed_delay=True) == [10.0, 23.0, 36.0, 49.0]


def test_fixed_rate_stays_the_default_and_keeps_its_grid() -> None:
    assert runs_of("rate", fixed_delay=False) == [10.0, 20.0, 30.0, 40.0, 50.0]
