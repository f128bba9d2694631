"""The data that flows through the pipeline: tasks, runs and their results.

The loader builds `Task` records, the registry stores them, the engine turns a
due task into a `Run`, and the executor turns a `Run` into a `RunResult`. All
records are frozen: a task that changes is replaced, never mutated, so a
snapshot handed to another thread can never change under it. No I/O here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from .schedules import Schedule


class TaskType(str, enum.Enum):
    """How a task's entry point is run."""

    PYTHON = "python"
    SHELL = "shell"


class RunStatus(str, enum.Enum):
    """How a run ended. `skipped` runs never started (a previous run was still going)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"


EMPTY_KWARGS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Task:
    """One validated task, as the loader or the API built it.

    Attributes:
        task_id: unique id: 1-64 letters, digits, "_", "-" or ".".
        task_type: python or shell.
        entry_point: "module:function" for python; a shell string, or a tuple of
            arguments executed without a shell.
        schedule: when it runs.
        task_name: a human name (defaults to the id).
        description: free text.
        enabled: disabled tasks stay in the registry but are never scheduled.
        run_on_start: also run once as soon as the scheduler starts.
        timeout_seconds: a run taking longer is reported as timed out.
        jitter_seconds: each run starts a random 0..jitter seconds after its
            planned time (never reaching the next planned run).
        args, kwargs: arguments for a python callable.
        target: the imported python callable (None for shell tasks).
    """

    task_id: str
    task_type: TaskType
    entry_point: str | tuple[str, ...]
    schedule: Schedule
    task_name: str = ""
    description: str = ""
    enabled: bool = True
    run_on_start: bool = False
    timeout_seconds: float | None = None
    jitter_seconds: float = 0.0
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=lambda: EMPTY_KWARGS)
    target: Callable[..., Any] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Run:
    """One planned execution of a task, handed from the engine to the executor.

    Attributes:
        task: the task definition at the moment the run became due.
        run_number: 1 for the task's first run, counting every due run (skipped too).
        planned_at: the wall-clock time the run was planned for.
        planned_monotonic: the same instant on the engine's monotonic clock.
    """

    task: Task
    run_number: int
    planned_at: datetime
    planned_monotonic: float


@dataclass(frozen=True, slots=True)
class RunResult:
    """What happened to one run.

    Attributes:
        task_id, run_number, planned_at: copied from the `Run`.
        started_at, ended_at: wall-clock times (equal for a run that never started).
        duration_seconds: measured on the monotonic clock.
        status: how it ended.
        exit_code: a shell command's exit status (negative: killed by that signal).
        error: a one-line summary of the exception or the reason, "" on success.
    """

    task_id: str
    run_number: int
    planned_at: datetime
    started_at: datetime
    ended_at: datetime
    duration_seconds: float
    status: RunStatus
    exit_code: int | None = None
    error: str = ""


class EventKind(str, enum.Enum):
    """What happened to a run."""

    RUN_STARTED = "run_started"
    RUN_FINISHED = "run_finished"
    RUN_SKIPPED = "run_skipped"


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One thing that happened to a run, as listeners receive it.

    Attributes:
        kind: started, finished or skipped.
        run: the run it concerns.
        result: the result, for run_finished only.
        reason: why the run was skipped, for run_skipped only.
    """

    kind: EventKind
    run: Run
    result: RunResult | None = None
    reason: str = ""


Listener = Callable[[RunEvent], None]


class TaskState(str, enum.Enum):
    """Where a task is in its life, as a snapshot reports it."""

    DISABLED = "disabled"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class TaskSnapshot:
    """A consistent, read-only view of one task at one moment.

    Attributes:
        task: the task's current definition.
        state: disabled, scheduled (waiting for its next run), running, or
            finished (no runs ahead, like a one-shot that has run).
        next_run_at: when the next run is planned (wall clock), or None.
        running: how many of its runs are in flight.
        last_result: the result of its latest finished run, or None.
        counts: how many runs ended in each final status (skipped included).
    """

    task: Task
    state: TaskState
    next_run_at: datetime | None
    running: int
    last_result: RunResult | None
    counts: Mapping[RunStatus, int]
