"""Queue decisions: what the engine decided about a task's runs, as records.

The engine plans, coalesces, re-plans after a clock jump and plans retries;
run events (`task.RunEvent`) say what became of a run, and these records say
why the queue looks the way it does. They are the teaching view: a listener
given to `Engine.explain_to` receives one per decision (the `--simulate
--explain` add-on turns each into a sentence). Nothing here decides, logs
or reads a clock; with no listener, the engine builds no record at all.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ..task import RunStatus
from .planning import ClockReading, Slot


class DecisionKind(str, enum.Enum):
    """Which decision the engine took."""

    PLANNED = "planned"  # a task's next run is queued
    COALESCED = "coalesced"  # runs already due were folded into the current one
    NO_RUNS_AHEAD = "no_runs_ahead"  # the schedule has ended
    CLOCK_JUMPED = "clock_jumped"  # calendar tasks are re-planned (their PLANNED follow)
    RETRY_PLANNED = "retry_planned"  # a failed attempt gets another, after a backoff
    RETRY_DROPPED = "retry_dropped"  # no retry: the next scheduled run comes first


@dataclass(frozen=True, slots=True)
class Decision:
    """One queue decision.

    Attributes:
        kind: what was decided.
        at: when (wall clock, as the engine read it for the decision).
        task_id: the task it concerns ("" for a clock jump, which concerns them all).
        next_run_at: the wall time planned (PLANNED, COALESCED, RETRY_PLANNED).
        delay_seconds: how long until then; for CLOCK_JUMPED, how far the wall
            clock moved apart from the monotonic one (negative: back).
        missed: runs coalesced (COALESCED; -1 when uncounted, after a calendar
            task fell behind).
        run_number, attempt: the run concerned and its next attempt (retries).
        status: how the attempt that is retried (or not) ended.
    """

    kind: DecisionKind
    at: datetime
    task_id: str = ""
    next_run_at: datetime | None = None
    delay_seconds: float = 0.0
    missed: int = 0
    run_number: int = 0
    attempt: int = 0
    status: RunStatus | None = None


DecisionListener = Callable[[Decision], None]


def plan_decision(task_id: str, slot: Slot | None, now: ClockReading) -> Decision:
    """The decision behind queueing `slot` (None: the schedule has ended) at `now`."""
    if slot is None:
        return Decision(DecisionKind.NO_RUNS_AHEAD, now.wall, task_id)
    kind = DecisionKind.COALESCED if slot.missed else DecisionKind.PLANNED
    return Decision(kind, now.wall, task_id, slot.wall, slot.monotonic - now.monotonic,
                    missed=slot.missed)
