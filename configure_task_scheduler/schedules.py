"""Schedules: when a task runs, as pure arithmetic on times.

A schedule never reads a clock and never sleeps: the engine asks it "given
the previous plan and the time now, when is the next run?" and gets a number
back. That makes every rule here testable with plain numbers.

`IntervalSchedule` runs on a fixed-rate grid `anchor + n * interval` on the
monotonic clock; computing each time from the grid, instead of adding the
interval to the previous run, keeps float rounding from drifting over weeks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import ScheduleError


@dataclass(frozen=True, slots=True)
class IntervalSchedule:
    """Run every `seconds` seconds, timed on the monotonic clock.

    Args:
        seconds: the interval, > 0.

    Raises:
        ScheduleError: if `seconds` is not a number > 0.
    """

    seconds: float

    def __post_init__(self) -> None:
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)):
            raise ScheduleError(f"interval must be a number, found {self.seconds!r}")
        if not (self.seconds > 0 and math.isfinite(self.seconds)):
            raise ScheduleError(f"interval must be a finite number > 0, found {self.seconds!r}")

    def describe(self) -> str:
        """Return the schedule in plain English: "every 10 seconds"."""
        return f"every {describe_seconds(self.seconds)}"

    def planned_time(self, anchor: float, index: int) -> float:
        """Return the monotonic time of grid point `index` (the run at `anchor` is index 0)."""
        return anchor + index * self.seconds

    def next_index(self, anchor: float, index: int, now: float) -> int:
        """Return the first grid index after `index` whose time is later than `now`.

        Every grid point between them was due while the scheduler was behind;
        they are coalesced into the run that is happening now.
        """
        behind = math.floor((now - anchor) / self.seconds) + 1
        following = max(index + 1, behind)
        # Guard against float rounding in the division putting us one point early.
        while self.planned_time(anchor, following) <= now:
            following += 1
        return following


_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def describe_seconds(seconds: float) -> str:
    """Return a duration in words: 1 -> "second", 90 -> "90 seconds", 7200 -> "2 hours"."""
    for size, unit in _UNITS:
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds:g} seconds"
