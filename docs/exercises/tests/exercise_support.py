"""What the exercise tests share: the skip guard, a fake-clock engine run, a scripted executor.

An exercise's tests skip (with the reason "exercise N not attempted: ...")
until the feature they test exists. `CTS_EXERCISES=all` runs them anyway:
`tests/test_exercises.py` uses it to prove that every exercise test fails
against the unmodified code. Solutions are not in the repository.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pytest

from configure_task_scheduler.clock import FakeClock
from configure_task_scheduler.engine import Engine
from configure_task_scheduler.registry import Registry
from configure_task_scheduler.schedules import IntervalSchedule
from configure_task_scheduler.task import (
    Run,
    RunEvent,
    RunResult,
    RunStatus,
    Task,
    TaskType,
)

START = datetime(2026, 1, 5, tzinfo=timezone.utc)  # a Monday, 00:00 UTC
MONOTONIC_START = 1000.0
FORCED = os.environ.get("CTS_EXERCISES") == "all"


def attempt(number: int, attempted: bool, missing: str) -> None:
    """Skip the calling test module unless exercise `number` is attempted (or forced)."""
    if not attempted and not FORCED:
        pytest.skip(f"exercise {number} not attempted: {missing}", allow_module_level=True)


def find(module: str, name: str) -> Any:
    """Return `module.name`, or None if either is missing."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def load(module: str, name: str) -> Any:
    """Return `module.name`; inside a test, fail if it is missing (the forced run)."""
    found = find(module, name)
    if found is None:
        pytest.fail(f"{module}.{name} does not exist")
    return found


def has_task_field(name: str) -> bool:
    """Does `Task` have this field?"""
    return name in {each.name for each in dataclasses.fields(Task)}


def shell_task(task_id: str, interval_seconds: float, **fields: Any) -> Task:
    """A shell task on an interval (fields the exercise adds are passed through)."""
    return Task(task_id, TaskType.SHELL, "true", IntervalSchedule(interval_seconds),
                task_name=task_id, **fields)


@dataclass
class ScriptedExecutor:
    """Runs nothing: each run starts when handed over and ends after `seconds(run)` of fake
    time, with `status(run)`; meanwhile the fake clock moves (a run takes time)."""

    clock: FakeClock
    seconds: Callable[[Run], float] = lambda run: 0.0
    status: Callable[[Run], RunStatus] = lambda run: RunStatus.SUCCEEDED
    started: list[tuple[str, int, int, float]] = field(default_factory=list)

    def submit(self, run: Run, reporter: Any) -> None:
        """Start the run, advance the clock by its duration, report its end."""
        if not reporter.run_started(run, self.clock.wall(), self.clock.monotonic()):
            reporter.run_released(run)
            return
        self.started.append((run.task.task_id, run.run_number, run.attempt,
                             self.clock.monotonic() - MONOTONIC_START))
        started_at = self.clock.wall()
        self.clock.advance(self.seconds(run))
        result = RunResult.of(run, self.status(run), started_at, self.clock.wall(),
                              self.seconds(run))
        reporter.run_released(run)
        reporter.run_finished(run, result)

    def shutdown(self, timeout_seconds: float) -> list[Run]:
        """Nothing is ever left running."""
        return []

    def times_of(self, task_id: str) -> list[float]:
        """Seconds after the start at which `task_id`'s runs started."""
        return [at for started_id, _, _, at in self.started if started_id == task_id]


def run_engine(tasks: Iterable[Task], seconds: float, executor: ScriptedExecutor | None = None,
               clock: FakeClock | None = None,
               listeners: Iterable[Callable[[RunEvent], None]] = ()) -> ScriptedExecutor:
    """Run an engine over `tasks` for `seconds` of fake time from START; return its executor."""
    clock = clock or (executor.clock if executor else FakeClock(START, MONOTONIC_START))
    executor = executor or ScriptedExecutor(clock)
    engine = Engine(Registry(list(tasks)), executor, clock)
    for listener in listeners:
        engine.subscribe(listener)
    engine.run(duration_seconds=seconds)
    return executor
