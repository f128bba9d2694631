"""Seeing the schedule without running anything: `--next N` and `--simulate DURATION`.

`--next` asks each task's schedule for its next runs. `--simulate` runs the
real engine on a `FakeClock` starting now, with an executor that executes
nothing, and prints the timeline of runs it would start: the same planning
code as a real run, so what you see is what the scheduler will do. Output
goes to the stream it is given; the caller decides where. Each simulated run
is also logged ("task ID run N would run", INFO), since none really starts.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import datetime
from typing import TextIO

from ..clock import FakeClock
from ..engine import Engine
from ..execution import RunReporter
from ..registry import Registry
from ..schedules import upcoming_runs
from ..task import EventKind, Run, RunEvent, RunResult, RunStatus, Task, log_fields
from .explain import Explainer

logger = logging.getLogger("configure_task_scheduler.preview")

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Parse "90s", "15m", "6h", "2d" or plain seconds ("30") into seconds.

    Raises:
        ValueError: with a message that shows the accepted forms.
    """
    match = _DURATION.fullmatch(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f'expected a duration like "90s", "15m", "6h", "2d" or seconds, '
                         f'found "{text}"')
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def next_runs(task: Task, now: datetime, count: int) -> list[datetime]:
    """Return a task's next `count` runs if the scheduler started at `now`."""
    zone = task.schedule.timezone
    runs = [now.astimezone(zone)] if task.runs_at_start else []
    return runs + upcoming_runs(task.schedule, now, count - len(runs))


def print_next(tasks: list[Task], now: datetime, count: int, out: TextIO) -> None:
    """Print each enabled task's schedule in words and its next `count` run times."""
    for task in tasks:
        if not task.enabled:
            continue
        print(f"{task.task_id}: {task.schedule.describe()}", file=out)
        runs = next_runs(task, now, count)
        for when in runs:
            print(f"  {when.isoformat(sep=' ', timespec='seconds')}", file=out)
        if not runs:
            print("  (no runs ahead)", file=out)


def simulate(tasks: list[Task], start: datetime, duration_seconds: float,
             out: TextIO, clock: FakeClock | None = None, explain: bool = False) -> Counter[str]:
    """Run the engine on simulated time from `start`, printing each run it would start.

    Args:
        tasks, start, duration_seconds: what to simulate, from when, for how long.
        out: where the timeline goes.
        clock: a `FakeClock` reading `start`, for a caller that wants the
            simulated time too (the CLI stamps its log lines with it).
        explain: print every queue decision as a sentence (see `explain`)
            instead of the bare timeline.

    Returns:
        The number of runs per task id.

    Raises:
        OSError: `out` could not be written (e.g. a pipe whose reader is gone);
            the simulation stopped at the first failed line.
    """
    clock = clock or FakeClock(start, monotonic_start=0.0)
    engine = Engine(Registry(tasks), _DryRunExecutor(), clock)
    counts: Counter[str] = Counter()
    width = max((len(task.task_id) for task in tasks), default=0)
    failures: list[OSError] = []

    def write(line: str) -> None:
        if failures:
            return
        try:
            print(line, file=out)
        except OSError as error:  # the engine would log it and go on, once per run
            failures.append(error)
            engine.stop()

    def count_run(event: RunEvent) -> None:
        if event.kind is not EventKind.RUN_STARTED or failures:
            return
        task = event.run.task
        counts[task.task_id] += 1
        logger.info("task %s run %d would run", task.task_id, event.run.run_number,
                    extra=log_fields(event.run, "run_simulated"))
        if not explain:
            when = event.run.planned_at.astimezone(task.schedule.timezone)
            write(f"{when.isoformat(sep=' ', timespec='seconds')}  {task.task_id:<{width}}  "
                  f"run {event.run.run_number}")

    if explain:
        explainer = Explainer(tasks, write)
        engine.explain_to(explainer.decision)
        engine.subscribe(explainer.run_event)
    engine.subscribe(count_run)
    engine.run(duration_seconds)
    if failures:
        raise failures[0]
    return counts


def print_counts(tasks: list[Task], counts: Counter[str], out: TextIO) -> None:
    """Print how many runs each enabled task had in the simulation."""
    width = max((len(task.task_id) for task in tasks), default=0)
    for task in tasks:
        if task.enabled:
            print(f"{task.task_id:<{width}}  {counts[task.task_id]} runs", file=out)


class _DryRunExecutor:
    """Executes nothing: every run starts and succeeds at the instant it is handed over."""

    def submit(self, run: Run, reporter: RunReporter) -> None:
        if not reporter.run_started(run, run.planned_at, run.planned_monotonic):
            reporter.run_released(run)
            return
        result = RunResult.of(run, RunStatus.SUCCEEDED, run.planned_at, run.planned_at, 0.0)
        reporter.run_released(run)
        reporter.run_finished(run, result)

    def shutdown(self, timeout_seconds: float) -> list[Run]:
        return []
