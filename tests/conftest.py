"""Shared fakes for the seams: a fake clock, a recording executor, config files.

Only the seams are faked (the clock, the executor); everything else in a test
is the real code. Every test also checks that it left no threads behind.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from configure_task_scheduler.clock import FakeClock, RealClock
from configure_task_scheduler.execution import PoolExecutor, RunReporter
from configure_task_scheduler.schedules import IntervalSchedule
from configure_task_scheduler.task import Run, RunResult, RunStatus, Task, TaskType

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
DEADLINE_SECONDS = 10.0  # how long a real-time test waits for what it expects
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
        result = RunResult.of(run, self.status, now, now, 0.0)
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


@pytest.fixture
def utc_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pin the local zone to UTC: messages that show local times become exact."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


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


class RecordingReporter:
    """A thread-safe `RunReporter` that records each call and sets an Event for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []
        self.results: dict[str, RunResult] = {}
        self.started = threading.Event()
        self.finished = threading.Event()
        self.released = threading.Event()

    def run_started(self, run: Run, started_at: object, started_monotonic: float) -> bool:
        with self._lock:
            self.calls.append(("started", run.task.task_id))
        self.started.set()
        return True

    def run_finished(self, run: Run, result: RunResult) -> None:
        with self._lock:  # the result first: result_of() reads it once the call is listed
            self.results[run.task.task_id] = result
            self.calls.append(("finished", run.task.task_id))
        self.finished.set()

    def run_released(self, run: Run) -> None:
        with self._lock:
            self.calls.append(("released", run.task.task_id))
        self.released.set()

    def result_of(self, task_id: str) -> RunResult:
        """Wait until `task_id` is finished and released; return its result."""
        wait_until(lambda: {("finished", task_id), ("released", task_id)} <= set(self.calls),
                   DEADLINE_SECONDS)
        return self.results[task_id]


@pytest.fixture
def executor() -> Iterator[PoolExecutor]:
    pool = PoolExecutor(max_workers=2, clock=RealClock())
    yield pool
    pool.shutdown(timeout_seconds=DEADLINE_SECONDS)


@pytest.fixture
def reporter() -> RecordingReporter:
    return RecordingReporter()


@pytest.fixture
def start_cli() -> Iterator[Callable[..., Any]]:
    """Start `main.py` processes in the background; each is stopped after the test."""
    from test_cli import BackgroundScheduler

    started: list[BackgroundScheduler] = []

    def start(config: Path, *options: str) -> BackgroundScheduler:
        started.append(BackgroundScheduler(config, *options))
        return started[-1]

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def kill_groups_at_exit() -> Iterator[list[int]]:
    """Process groups to SIGKILL after the test (task commands a killed CLI left running)."""
    groups: list[int] = []
    yield groups
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
