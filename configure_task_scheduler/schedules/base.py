"""Schedules: when a task runs, as pure functions of time.

A schedule never reads a clock and never sleeps. Every kind answers the same
question, `next_after(instant)`: the first run strictly after an aware
datetime, or None when there is none. The engine turns those wall-clock
answers into delays on its monotonic queue.

This module holds the protocol every kind satisfies and the helpers shared by
the kinds: `interval`, `one_shot` and `cron` beside it.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Protocol


class Schedule(Protocol):
    """What the engine and the CLI need from a schedule."""

    timezone: tzinfo

    @property
    def on_monotonic_clock(self) -> bool:
        """True if runs are timed on the monotonic clock (plain intervals)."""

    @property
    def at_fixed_times(self) -> bool:
        """True if every run is at a fixed time of day (Debian cron's "fixed-time" jobs).

        A cron expression whose minute and hour fields are numbers, an aligned
        interval of 2 hours to a day, a one-shot. Wildcard cron (`*` or `*/N` in the
        minute or hour field), shorter aligned intervals and plain intervals are
        not: they follow elapsed time, and after the clock is set back they run
        at the new times again.
        """

    def next_after(self, when: datetime) -> datetime | None:
        """Return the first run strictly after aware `when`, or None if there is none."""

    def describe(self) -> str:
        """Return the schedule in plain English."""


def require_aware(when: datetime) -> None:
    """Raise ValueError if `when` is naive (schedules answer only for real instants)."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("next_after needs an aware datetime (one with a tzinfo)")



_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def seconds_in_words(seconds: float) -> str:
    """Return a duration in words: 1 -> "second", 90 -> "90 seconds", 7200 -> "2 hours"."""
    for size, unit in _UNITS:
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds:g} seconds"


def upcoming_runs(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    """Return the next `count` runs after `after` (fewer if the schedule ends)."""
    runs: list[datetime] = []
    when: datetime | None = after
    while len(runs) < count and when is not None:
        when = schedule.next_after(when)
        if when is not None:
            runs.append(when)
    return runs
