"""Interval schedules: run every N seconds.

A plain `IntervalSchedule` (no `align`) runs on a fixed-rate grid
`anchor + n * interval` on the monotonic clock, so wall-clock changes never
move it; computing each time from the grid, instead of adding the interval to
the previous run, keeps float rounding from drifting. An aligned interval is
expressed as cron, so it shares cron's daylight-saving rules.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone, tzinfo

from ..errors import ScheduleError
from .base import require_aware, seconds_in_words
from .cron import CronSchedule
from .zones import resolve_timezone

_UTC = timezone.utc


class IntervalSchedule:
    """Run every `seconds` seconds.

    Args:
        seconds: the interval, > 0.
        align: put runs on clock multiples of the interval in `timezone`
            (300 -> :00, :05, ...; 3600 -> on the hour; 86400 -> midnight). The
            interval must then divide a minute, an hour or a day.
        timezone: an IANA name or tzinfo for `align` and for reported times;
            None means the machine's local zone.

    Raises:
        ScheduleError: the interval is not a finite number > 0, or cannot be aligned.
    """

    __slots__ = ("seconds", "align", "timezone", "_aligned")

    def __init__(self, seconds: float, align: bool = False,
                 timezone: str | tzinfo | None = None) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                or not (math.isfinite(seconds) and seconds > 0):
            raise ScheduleError(f"interval must be a finite number > 0, found {seconds!r}")
        self.seconds = seconds
        self.align = align
        self.timezone = resolve_timezone(timezone)
        self._aligned = _aligned_schedule(seconds, self.timezone) if align else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IntervalSchedule) and \
            (self.seconds, self.align, str(self.timezone)) == \
            (other.seconds, other.align, str(other.timezone))

    def __hash__(self) -> int:
        return hash((self.seconds, self.align, str(self.timezone)))

    def __repr__(self) -> str:
        return f"IntervalSchedule({self.seconds!r}, align={self.align}, timezone={self.timezone})"

    @property
    def on_monotonic_clock(self) -> bool:
        """True unless aligned to the wall clock (plain intervals run on the monotonic one)."""
        return self._aligned is None

    @property
    def at_fixed_times(self) -> bool:
        """True for an interval of 2 hours to a day, aligned (its cron form lists the hours)."""
        return isinstance(self._aligned, CronSchedule) and self._aligned.at_fixed_times

    def next_after(self, when: datetime) -> datetime | None:
        """Return the next run after `when`: one interval later, or the next aligned time."""
        require_aware(when)
        if self._aligned is not None:
            return self._aligned.next_after(when)
        # In UTC: adding to a zoned datetime moves its wall clock, not real time.
        return (when.astimezone(_UTC) + timedelta(seconds=self.seconds)).astimezone(self.timezone)

    def describe(self) -> str:
        """Return "every 10 seconds", or "every 5 minutes, on the clock" when aligned."""
        return f"every {seconds_in_words(self.seconds)}" + (", on the clock" if self.align else "")

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


class _EpochMultiples:
    """Aligned sub-minute intervals: multiples of the interval since the epoch.

    Every zone's offset is a whole number of minutes, so a multiple of 10 s
    in UTC is also one in local time.
    """

    def __init__(self, seconds: float, timezone: tzinfo) -> None:
        self.seconds, self.timezone = seconds, timezone

    def next_after(self, when: datetime) -> datetime | None:
        count = math.floor(when.timestamp() / self.seconds) + 1
        return datetime.fromtimestamp(count * self.seconds, self.timezone)


def _aligned_schedule(seconds: float, timezone: tzinfo) -> CronSchedule | _EpochMultiples:
    """Express an aligned interval as cron (so it shares cron's daylight-saving rules)."""
    if seconds < 60 and 60 % seconds == 0:
        return _EpochMultiples(seconds, timezone)
    if seconds % 60 == 0 and 3600 % seconds == 0:
        return CronSchedule(f"*/{int(seconds // 60)} * * * *", timezone)
    if seconds == 3600:  # "*" hour: cron's elapsed-time rule runs every real hour
        return CronSchedule("0 * * * *", timezone)
    if seconds % 3600 == 0 and 86400 % seconds == 0:
        # A list of hours, not "*/N": fixed times, so a midnight skipped by
        # daylight saving still runs (at the end of the gap), and a repeated one once.
        hours = ",".join(str(hour) for hour in range(0, 24, int(seconds // 3600)))
        return CronSchedule(f"0 {hours} * * *", timezone)
    raise ScheduleError("align needs an interval that divides a minute, an hour or a day "
                        f"(such as 10, 300, 3600 or 86400), found {seconds:g}")
