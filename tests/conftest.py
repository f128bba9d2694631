"""Shared fakes for the seams: a fake clock, a recording executor, config files.

Only the seams are faked (the clock, the executor); everything else in a test
is the real code. Every test also checks that it left no threads behind.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from configure_task_scheduler.clock import FakeClock
from configure_task_scheduler.executor import RunReporter
from configure_task_scheduler.schedules import IntervalSchedule
from configure_task_scheduler.task import Run, RunResult, RunStatus, Task, TaskType

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
MONOTONIC_START = 1000.0


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock at 2026-01-01 00:00 UTC, monotonic 1000.0, that moves only when slept on."""
    return FakeClock(START, MONOTONIC_START)


@dataclass
class RecordingExecutor:
    """An executor that runs nothing: it records each run and finishes it at once.

    With `hold=True` runs stay in flight until `finish_held()`, to test overlaps.
    """

    clock: FakeClock
    hold: bool = False
    submitted: list[tuple[str, float]] = field(default_factory=list)
    held: list[tuple[Run, RunReporter]] = field(default_factory=list)
    status: RunStatus = RunStatus.SUCCEEDED

    def submit(self, run: Run, reporter: RunReporter) -> None:
        self.submitted.append((run.task.task_id, self.clock.monotonic() - MONOTONIC_START))
        if not reporter.run_started(run, self.clock.wall(), self.clock.monotonic()):
            reporter.run_released(run)
            return
        if self.hold:
            self.held.append((run, reporter))
        else:
            self._finish(run, reporter)

    def finish_held(self) -> None:
        held, self.held = self.held, []
        for run, reporter in held:
            self._finish(run, reporter)

    def shutdown(self, timeout_seconds: float) -> list[Run]:
        return [run for run, _ in self.held]

    def times_of(self, task_id: str) -> list[float]:
        """Seconds after the start at which `task_id` was handed over, in order."""
        return [at for submitted_id, at in self.submitted if submitted_id == task_id]

    def _finish(self, run: Run, reporter: RunReporter) -> None:
        now = self.clock.wall()
        result = RunResult(run.task.task_id, run.run_number, run.planned_at, now, now,
                           0.0, self.status, attempt=run.attempt)
        reporter.run_released(run)
        reporter.run_finished(run, result)


@pytest.fixture
def recording_executor(fake_clock: FakeClock) -> RecordingExecutor:
    return RecordingExecutor(fake_clock)


def shell_task(task_id: str, interval_seconds: float, **fields: Any) -> Task:
    """A shell task with an interval schedule, for engine tests."""
    return Task(task_id=task_id, task_type=TaskType.SHELL, entry_point="true",
                schedule=IntervalSchedule(interval_seconds), task_name=task_id, **fields)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config (a dict or list as JSON, or raw text) and return its path."""

    def write(content: Any, name: str = "tasks.json") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
        return path

    return write


def wait_until(condition: Callable[[], bool], timeout_seconds: float = 10.0) -> None:
    """Wait for `condition()` to hold, failing the test after `timeout_seconds`."""
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_seconds}s")
        time.sleep(0.005)


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Fail a test that leaves threads running (the library promise)."""
    before = set(threading.enumerate())
    yield
    try:
        wait_until(lambda: not (set(threading.enumerate()) - before), timeout_seconds=5.0)
    except AssertionError:
        leftover = sorted(t.name for t in set(threading.enumerate()) - before)
        raise AssertionError(f"threads left running: {leftover}") from None
