"""The data that flows through the pipeline: tasks, runs and their results.

The loader builds `Task` records, the registry stores them, the engine turns a
due task into a `Run`, and the executor turns a `Run` into a `RunResult`. All
records are frozen: a task that changes is replaced, never mutated, so a
snapshot handed to another thread can never change under it. No I/O here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
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
    """How a run ended.

    A run moves scheduled -> queued (handed over, waiting for a free worker)
    -> running -> succeeded | failed | timed_out, or ends without running:
    `skipped` (too many runs of the task in flight) or `missed` (it would have
    started later than misfire_grace_seconds).
    `interrupted` is only ever written by the run history: a run that was in
    flight when an earlier scheduler process died (kill -9, power loss).
    `cancelled`: a shell run terminated on request (`PoolExecutor.cancel`);
    it is not retried.
    """

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    MISSED = "missed"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"


EMPTY_KWARGS: Mapping[str, Any] = MappingProxyType({})
EMPTY_ENV: Mapping[str, str] = MappingProxyType({})
# Cron's small base environment: what a task with `inherit_environment: false`
# gets from the scheduler's. These variables are never a task's secret, even
# when a task takes one through "${NAME}" ("${PATH}:/opt/bin"): every task needs them.
BASE_ENVIRONMENT_NAMES = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TZ")
DEFAULT_SHELL = "/bin/sh"
# The levels a task's stderr lines may be logged at (`Task.stderr_level`).
STDERR_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


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
        max_instances: how many runs may be in flight at once; more are skipped.
        retries: how many times a failed or timed-out run is attempted again,
            after retry_delay_seconds, multiplied by retry_backoff after each
            attempt, capped at retry_max_delay_seconds.
        misfire_grace_seconds: a run starting later than this is `missed`
            instead of run; None runs late runs anyway.
        env: extra environment variables, resolved (left out of the repr).
        secret_names: the scheduler's environment variables this task takes
            through "${NAME}" in `env`: its secrets, which the other tasks do
            not inherit (see `inherit_environment`).
        secret_values: the values hidden as "***" wherever output is shown:
            env values taken from the scheduler's environment, the variables
            they took, and values of keys named like a secret (TOKEN, KEY, ...).
        inherit_environment: what a shell task inherits from the scheduler's
            environment: None (the default) all of it except the other tasks'
            secret names; True all of it; False only `BASE_ENVIRONMENT_NAMES`.
        shell: the shell that runs a command string (`shell -c command`).
        catch_up: run once at start-up if the run history shows planned runs
            were missed while the scheduler was not running.
        cwd: working directory of a shell task.
        stderr_level: the level at which the lines a task writes to stderr are
            logged, one of `STDERR_LEVELS` (stdout lines are always INFO).
        on_failure: the id of a task to start when a run of this one ends
            failed, timed out or interrupted after its last attempt (None: none).
        on_success: the id of a task to start when a run of this one succeeds.
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
    max_instances: int = 1
    retries: int = 0
    retry_delay_seconds: float = 1.0
    retry_backoff: float = 2.0
    retry_max_delay_seconds: float = 300.0
    misfire_grace_seconds: float | None = None
    catch_up: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: EMPTY_ENV, repr=False)
    secret_names: frozenset[str] = frozenset()
    secret_values: frozenset[str] = field(default=frozenset(), repr=False)
    inherit_environment: bool | None = None
    shell: str = DEFAULT_SHELL
    cwd: str | None = None
    stderr_level: str = "WARNING"
    on_failure: str | None = None
    on_success: str | None = None
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=lambda: EMPTY_KWARGS)
    target: Callable[..., Any] | None = field(default=None, compare=False)

    @property
    def runs_at_start(self) -> bool:
        """True if the task runs as soon as the scheduler starts (`run_on_start`, `@reboot`)."""
        return self.run_on_start or bool(getattr(self.schedule, "is_reboot", False))


@dataclass(frozen=True, slots=True)
class Secrets:
    """Every secret of every task the scheduler knows, handed to each run.

    Attributes:
        names: the scheduler's variables some task takes through "${NAME}".
        values: every task's `secret_values` (left out of the repr).
    """

    names: frozenset[str] = frozenset()
    values: frozenset[str] = field(default=frozenset(), repr=False)

    @classmethod
    def of(cls, tasks: Iterable[Task]) -> Secrets:
        """The union of the secrets of `tasks`."""
        names: set[str] = set()
        values: set[str] = set()
        for task in tasks:
            names |= task.secret_names
            values |= task.secret_values
        return cls(frozenset(names), frozenset(values))


NO_SECRETS = Secrets()


@dataclass(frozen=True, slots=True)
class RunTrigger:
    """The finished run that started a notification task (`on_failure`, `on_success`).

    A shell notifier gets it as CTS_* environment variables (`environment`),
    a Python one as `context.trigger`.

    Attributes:
        task_id, run_number: the run that ended.
        status: its final status.
        exit_code: a shell command's exit status, None when there is none.
        error: its one-line error summary, secrets hidden ("" on success).
        started_at: when its last attempt started (wall clock).
    """

    task_id: str
    run_number: int
    status: RunStatus
    exit_code: int | None
    error: str
    started_at: datetime

    @classmethod
    def of(cls, result: RunResult) -> RunTrigger:
        """The trigger of a run's final result."""
        return cls(result.task_id, result.run_number, result.status, result.exit_code,
                   result.error, result.started_at)

    def environment(self) -> dict[str, str]:
        """The variables a shell notifier gets (CTS_EXIT_CODE is "" without an exit code)."""
        return {"CTS_TASK_ID": self.task_id, "CTS_RUN": str(self.run_number),
                "CTS_STATUS": self.status.value,
                "CTS_EXIT_CODE": "" if self.exit_code is None else str(self.exit_code),
                "CTS_ERROR": self.error, "CTS_STARTED_AT": self.started_at.isoformat()}


@dataclass(frozen=True, slots=True)
class Run:
    """One planned execution of a task, handed from the engine to the executor.

    Attributes:
        task: the task definition at the moment the run became due.
        run_number: 1 for the task's first run, counting every due run (skipped too).
        planned_at: the wall-clock time the run was planned for.
        planned_monotonic: when the engine's queue fires it (monotonic): the
            planned time for a first attempt, the end of the wait for a retry.
        attempt: 1 for the first attempt, 2 for the first retry, ...
        secrets: the secrets of all the scheduler's tasks when the run was
            made: withheld from its environment, hidden in its output.
        record: the engine's record of the task the run was planned for: the
            run reports there, even once its task is removed or added again.
        trigger: for a run started as another task's notification, the run
            that ended; None for every other run.
    """

    task: Task
    run_number: int
    planned_at: datetime
    planned_monotonic: float
    attempt: int = 1
    secrets: Secrets = field(default=NO_SECRETS, compare=False)
    record: object | None = field(default=None, compare=False, repr=False)
    trigger: RunTrigger | None = None


@dataclass(frozen=True, slots=True)
class RunContext:
    """What a Python callable with a `context` parameter receives (read-only).

    Attributes:
        task_id, run_number, attempt, planned_at: which run this is.
        env: the task's resolved `env` mapping (it may hold secrets: it is
            left out of the repr).
        trigger: the run whose end started this one (`on_failure`,
            `on_success`); None for a run of the task's own schedule.
    """

    task_id: str
    run_number: int
    attempt: int
    planned_at: datetime
    env: Mapping[str, str] = field(repr=False)
    trigger: RunTrigger | None = None


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
        attempt: which attempt of the run this is (1 unless retried).
        stdout_tail, stderr_tail: the last `OUTPUT_TAIL_BYTES` of a shell
            task's output (of a Python task's, when output is captured), with
            every secret value replaced by "***".
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
    attempt: int = 1
    stdout_tail: str = ""
    stderr_tail: str = ""

    @classmethod
    def of(cls, run: Run, status: RunStatus, started_at: datetime, ended_at: datetime,
           duration_seconds: float, exit_code: int | None = None, error: str = "",
           stdout_tail: str = "", stderr_tail: str = "") -> RunResult:
        """Build the result of `run`: the one constructor every stage uses.

        Args:
            run: the run it concerns (task id, run number, planned time, attempt).
            status: how it ended.
            started_at, ended_at: wall-clock times (equal for a run that never started).
            duration_seconds: measured on the monotonic clock.
            exit_code, error, stdout_tail, stderr_tail: as the attributes.
        """
        return cls(run.task.task_id, run.run_number, run.planned_at, started_at, ended_at,
                   duration_seconds, status, exit_code, error, run.attempt, stdout_tail,
                   stderr_tail)


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
        started_at: when the run's code started (wall clock), for run_started only.
        retry_in_seconds: for run_finished, the wait before the run's next
            attempt; None when this result is the run's final one.
    """

    kind: EventKind
    run: Run
    result: RunResult | None = None
    reason: str = ""
    started_at: datetime | None = None
    retry_in_seconds: float | None = None


Listener = Callable[[RunEvent], None]


class TaskState(str, enum.Enum):
    """Where a task is in its life, as a snapshot reports it."""

    DISABLED = "disabled"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class TaskSnapshot:
    """A consistent, read-only view of one task at one moment.

    Attributes:
        task: the task's current definition.
        state: disabled, scheduled (waiting for its next run), queued (a run
            waits for a free worker, none is running), running, or finished
            (no runs ahead, like a one-shot that has run).
        next_run_at: when the next run is planned (wall clock), or None.
        running: how many of its runs are running (their code has started).
        last_result: the result of its latest finished run, or None.
        counts: how many runs ended in each final status (skipped included).
        queued: how many of its runs wait for a free worker.
    """

    task: Task
    state: TaskState
    next_run_at: datetime | None
    running: int
    last_result: RunResult | None
    counts: Mapping[RunStatus, int]
    queued: int = 0

    @property
    def task_id(self) -> str:
        """The task's id."""
        return self.task.task_id


def log_fields(run: Run, event: str, status: RunStatus | None = None,
               duration_seconds: float | None = None) -> dict[str, Any]:
    """Return the structured fields of a run's log line (`extra=` for `logging`).

    The JSON log format prints them as keys; the text format ignores them.
    """
    return {"task_id": run.task.task_id, "run": run.run_number, "attempt": run.attempt,
            "event": event, "status": status.value if status is not None else None,
            "duration": duration_seconds}
