"""Planning: when is a task's next run? Pure functions of (previous slot, schedule, now).

The engine's queue runs on the monotonic clock, but calendars speak wall
clock. A `Slot` holds both readings of one planned run. Plain intervals are
planned on the monotonic grid `anchor + n * interval`; every other schedule
is planned in wall-clock time with `next_after` and converted into a
monotonic delay. Nothing here reads a clock or keeps state, so every rule
(coalescing, jitter, clock jumps) is tested with plain values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from ..schedules import IntervalSchedule
from ..task import Task


@dataclass(frozen=True, slots=True)
class ClockReading:
    """One reading of both clocks, taken together: "now" for planning."""

    monotonic: float
    wall: datetime


@dataclass(frozen=True, slots=True)
class Slot:
    """One planned run.

    Attributes:
        monotonic: when the engine's queue fires it (jitter included).
        wall: the wall-clock time it stands for (jitter included).
        base: the schedule's own time, before jitter: the next plan starts here.
        anchor, index: the monotonic grid position, for plain intervals.
        missed: how many earlier runs were coalesced into this one (-1: some,
            uncounted, after a calendar task fell behind).
    """

    monotonic: float
    wall: datetime
    base: datetime
    anchor: float = 0.0
    index: int = 0
    missed: int = 0


Random = Callable[[], float]

# Debian cron's bound: a step back of up to 3 hours is a clock change (fixed-time
# jobs must not repeat); a longer one is the clock being set right.
BACKWARD_STEP_LIMIT_SECONDS = 3 * 3600.0


def first_slot(task: Task, now: ClockReading, random: Random, starting: bool = True) -> Slot | None:
    """Plan a task's first run, `now` being when the scheduler (or the task) starts.

    `starting` is False when a task is re-planned (changed by a reload, resumed):
    `run_on_start` and `@reboot` then do not run it again.
    """
    schedule = task.schedule
    if starting and task.runs_at_start:
        return Slot(now.monotonic, now.wall, now.wall, anchor=now.monotonic, index=0)
    if isinstance(schedule, IntervalSchedule) and schedule.on_monotonic_clock:
        return _grid_slot(task, schedule, now.monotonic, 1, now, random)
    following = schedule.next_after(now.wall)
    return None if following is None else _wall_slot(task, following, now, random)


def next_slot(task: Task, previous: Slot, now: ClockReading, random: Random) -> Slot | None:
    """Plan the run after `previous`, which is due `now`; runs already due are coalesced."""
    schedule = task.schedule
    if isinstance(schedule, IntervalSchedule) and schedule.on_monotonic_clock:
        index = schedule.next_index(previous.anchor, previous.index, now.monotonic)
        return _grid_slot(task, schedule, previous.anchor, index, now, random,
                          missed=index - previous.index - 1)
    following = schedule.next_after(previous.base)
    if following is None or following > now.wall:
        return None if following is None else _wall_slot(task, following, now, random)
    # Behind (a busy machine, a clock jump, a suspend): skip to the first run
    # after now without enumerating the ones in between.
    following = schedule.next_after(now.wall)
    return None if following is None else replace(
        _wall_slot(task, following, now, random), missed=-1)


def moved_slot(task: Task, slot: Slot, last: ClockReading, now: ClockReading,
               random: Random) -> Slot | None:
    """Re-plan a wall-clock slot after the wall clock jumped between readings `last` and `now`.

    Debian cron's rule. Forward: the slot keeps its wall time, so one whose
    time has passed is due at once (and `next_slot` coalesces the runs after
    it). Back by up to `BACKWARD_STEP_LIMIT_SECONDS`: a fixed-time schedule
    keeps its slot too, so the times that ran by the old reading do not run
    again, while any other schedule is planned afresh from where the clock
    stood at `last` by the new reading: an every-minute task goes on at once.
    Back further, the clock was set right rather than stepped: every schedule
    is planned afresh.
    """
    skew = wall_clock_skew(last, now)
    fixed = task.schedule.at_fixed_times and -skew <= BACKWARD_STEP_LIMIT_SECONDS
    if skew >= 0 or fixed:
        delay = max(_seconds_between(now.wall, slot.wall), 0.0)
        return replace(slot, monotonic=now.monotonic + delay)
    # No run happened since `last`: its wall time by the new reading is where to plan from.
    since = now.wall - timedelta(seconds=now.monotonic - last.monotonic)
    following = task.schedule.next_after(since)
    return None if following is None else _wall_slot(task, following, now, random)


def lateness(task: Task, slot: Slot, now: ClockReading) -> float:
    """Seconds since the slot was due, on the clock the task is planned on."""
    if task.schedule.on_monotonic_clock:
        return now.monotonic - slot.monotonic
    return _seconds_between(slot.wall, now.wall)


def wall_clock_skew(last: ClockReading, now: ClockReading) -> float:
    """How much further the wall clock moved than the monotonic one since `last`.

    Far from 0 after a clock step (NTP, by hand) or a suspend (Linux's
    monotonic clock stops while suspended); NTP's slewing stays near 0.
    """
    return _seconds_between(last.wall, now.wall) - (now.monotonic - last.monotonic)


def _grid_slot(task: Task, schedule: IntervalSchedule, anchor: float, index: int,
               now: ClockReading, random: Random, missed: int = 0) -> Slot:
    planned = schedule.planned_time(anchor, index)
    wall = now.wall + timedelta(seconds=planned - now.monotonic)
    if not task.jitter_seconds:
        return Slot(planned, wall, wall, anchor, index, missed)
    jitter = _jitter(task.jitter_seconds, schedule.seconds, random)
    return Slot(planned + jitter, wall + timedelta(seconds=jitter), wall, anchor, index, missed)


def _wall_slot(task: Task, planned: datetime, now: ClockReading, random: Random) -> Slot:
    jitter = 0.0
    if task.jitter_seconds:
        after = task.schedule.next_after(planned)
        gap = _seconds_between(planned, after) if after is not None else task.jitter_seconds
        # A run "at" 9999-12-31 cannot be delayed past the last date a datetime holds.
        gap = min(gap, max(_seconds_between(planned, _LAST_JITTERED), 0.0))
        jitter = _jitter(task.jitter_seconds, gap, random)
    delay = _seconds_between(now.wall, planned) + jitter
    wall = (_utc(planned) + timedelta(seconds=jitter)).astimezone(planned.tzinfo)
    return Slot(now.monotonic + delay, wall, planned)


# The latest a jittered run may be planned for: a day before datetime's end,
# so that it still converts into every time zone (offsets reach 26 hours).
_LAST_JITTERED = datetime(9999, 12, 30, tzinfo=timezone.utc)


def _jitter(jitter_seconds: float, gap_seconds: float, random: Random) -> float:
    """A random delay in [0, jitter), kept below the gap to the next run so runs never reorder."""
    if not jitter_seconds:
        return 0.0
    return random() * min(jitter_seconds, gap_seconds)


def _utc(when: datetime) -> datetime:
    return when.astimezone(timezone.utc)


def _seconds_between(earlier: datetime, later: datetime) -> float:
    """Real seconds from `earlier` to `later`: within one zone, `-` measures the wall clock."""
    return (_utc(later) - _utc(earlier)).total_seconds()
