"""What the executor tells the engine about a run, and the result record it builds.

`RunReporter` is the seam: the engine satisfies it structurally, so this
stage never imports the engine. `finish` states the one order in which a
run's end is reported; `make_result` builds the result of a run ending now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from ..clock import Clock
from ..task import Run, RunResult, RunStatus


class RunReporter(Protocol):
    """Who the executor tells about a run; the engine implements this.

    The order of the reports: `run_started` first (unless the run never
    starts: then only `run_released`). When a run's result and the end of its
    thread are known together, `run_released` comes before `run_finished`, so
    that a retry planned by `run_finished` never finds its own attempt still
    in flight. Only a timed-out Python call reverses them: its result is
    reported at the timeout, and its release when the call really returns.
    """

    def run_started(self, run: Run, started_at: datetime, started_monotonic: float) -> bool:
        """The run's code is about to start; False means it must not (it is too late)."""

    def run_finished(self, run: Run, result: RunResult) -> None:
        """The run's result is known (for a timed-out callable: before it returns)."""

    def run_released(self, run: Run) -> None:
        """The run's thread is free: the run no longer counts as running."""


def finish(run: Run, reporter: RunReporter, result: RunResult) -> None:
    """End a run whose thread is free and whose result is known (the order: see RunReporter)."""
    reporter.run_released(run)
    reporter.run_finished(run, result)


def make_result(run: Run, clock: Clock, started_at: datetime, started: float,
                status: RunStatus, exit_code: int | None = None, error: str = "",
                stdout_tail: str = "", stderr_tail: str = "") -> RunResult:
    """Build the result record of a run that started at `started_at` and ends now."""
    return RunResult.of(run, status, started_at, clock.wall(), clock.monotonic() - started,
                        exit_code, error, stdout_tail, stderr_tail)
