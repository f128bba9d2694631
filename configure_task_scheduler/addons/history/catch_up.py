"""Catch-up: what a task missed while no scheduler was running (anacron, `Persistent=true`).

At start-up, each task's schedule is asked for the runs between the last
time the history saw it planned (or, for a task that never ran, first saw
it) and now. A task with `catch_up` runs once at once, however many runs it
missed (they are coalesced); a one-shot `at` task without it is recorded as
missed. Pure decisions (`plan_catch_up`) apart from the one place that acts
on them. Never reads a clock: "now" is an argument.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from ...errors import Problem
from ...schedules import OneShotSchedule
from ...task import Task
from .store import TaskHistory

logger = logging.getLogger("configure_task_scheduler.history")

# Missed runs counted at most (a per-second task down for a month): the count
# is only reported, since a catch-up is one run however many were missed.
MAX_COUNTED = 10_000


@dataclass(frozen=True, slots=True)
class Missed:
    """Runs a task missed while the scheduler was not running.

    Attributes:
        task: the task.
        count: how many planned runs fell in the downtime (at most `MAX_COUNTED`).
        first_missed: the first of them.
        last_planned: the task's last planned run in the history, or None if it never ran.
        catch_up: True: run it once now; False: only record it (a one-shot) or nothing.
    """

    task: Task
    count: int
    first_missed: datetime
    last_planned: datetime | None
    catch_up: bool


def catch_up_problems(tasks: list[Task], file: str, state_path: str | None) -> list[Problem]:
    """A problem for each task with `catch_up` when there is no state database."""
    if state_path is not None:
        return []
    return [Problem(file, f'task "{task.task_id}"', "catch_up",
                    "needs the run history: set scheduler.state_path (or pass --state PATH)")
            for task in tasks if task.catch_up]


def plan_catch_up(tasks: list[Task], histories: dict[str, TaskHistory],
                  now: datetime) -> list[Missed]:
    """Return the enabled tasks with planned runs in (last seen, now], in task order.

    A task the history has never seen missed nothing (nobody was there to miss it),
    and a task that runs at start anyway needs no catch-up run.
    """
    found = []
    for task in tasks:
        history = histories.get(task.task_id)
        if history is None or not task.enabled or task.runs_at_start:
            continue
        last_planned = _parse(history.last_planned_at)
        since = last_planned or _parse(history.first_seen_at)
        assert since is not None
        missed = _missed_runs(task, since, now)
        if missed:
            found.append(Missed(task, len(missed), missed[0], last_planned, task.catch_up))
    return found


def _missed_runs(task: Task, since: datetime, now: datetime) -> list[datetime]:
    runs: list[datetime] = []
    when = task.schedule.next_after(since)
    while when is not None and when <= now and len(runs) < MAX_COUNTED:
        runs.append(when)
        when = task.schedule.next_after(when)
    return runs


def is_one_shot(task: Task) -> bool:
    """True for an `at` task (which is recorded as missed when it has no catch_up)."""
    return isinstance(task.schedule, OneShotSchedule)


def log_catch_up(missed: Missed) -> None:
    """Log the catch-up run (or the missed one-shot) in the task's time zone."""
    zone = missed.task.schedule.timezone
    task_id = missed.task.task_id
    if not missed.catch_up:
        logger.warning("task %s: its run at %s was missed while the scheduler was not "
                       "running (set catch_up to run it at start-up)", task_id,
                       _show(missed.first_missed, zone))
        return
    runs = f"{missed.count}{'+' if missed.count >= MAX_COUNTED else ''} " \
           f"run{'s' if missed.count != 1 else ''}"
    since = f"last planned {_show(missed.last_planned, zone)}" if missed.last_planned \
        else "it never ran"
    logger.warning("task %s: catching up %s missed while the scheduler was not running (%s)",
                   task_id, runs, since)


def _show(when: datetime | None, zone: object) -> str:
    assert when is not None
    return when.astimezone(zone).isoformat(sep=" ", timespec="seconds")  # type: ignore[arg-type]


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
