"""One-shot schedules: run once, at a given date-time.

A pure value: it never reads a clock; once its instant is past it has no
runs ahead (the engine then reports the task finished).
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo

from ..errors import ScheduleError
from .base import require_aware
from .zones import first_real_instant, resolve_timezone

_UTC = timezone.utc


class OneShotSchedule:
    """Run once, at `when`.

    Args:
        when: an ISO 8601 date-time ("2026-12-24T18:00:00", local to `timezone`
            unless it has an offset) or a datetime.
        timezone: an IANA name or tzinfo; None means the machine's local zone.

    Raises:
        ScheduleError: `when` is not an ISO 8601 date-time, or converted to
            UTC or to `timezone` it falls outside the years 1 to 9999.
    """

    __slots__ = ("when", "timezone")

    def __init__(self, when: str | datetime, timezone: str | tzinfo | None = None) -> None:
        self.timezone = resolve_timezone(timezone)
        self.when = _parse_instant(when, self.timezone)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OneShotSchedule) and self.when == other.when

    def __hash__(self) -> int:
        return hash(self.when)

    def __repr__(self) -> str:
        return f"OneShotSchedule({self.when.isoformat()!r})"

    @property
    def on_monotonic_clock(self) -> bool:
        """False: a one-shot is a wall-clock instant."""
        return False

    @property
    def at_fixed_times(self) -> bool:
        """True: its one run is at a fixed time."""
        return True

    def next_after(self, when: datetime) -> datetime | None:
        """Return the one run if it is still ahead of `when`, else None."""
        require_aware(when)
        # In UTC: two times in one zone compare by wall clock, ignoring `fold`.
        return self.when if self.when > when.astimezone(_UTC) else None

    def describe(self) -> str:
        """Return "once at 2026-12-24 18:00:00+01:00"."""
        return f"once at {self.when.isoformat(sep=' ')}"


def _parse_instant(when: str | datetime, timezone: tzinfo) -> datetime:
    given = when if isinstance(when, str) else when.isoformat()
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError:
            raise ScheduleError(f'expected an ISO 8601 date-time like "2026-12-24T18:00:00", '
                                f'found "{when}"') from None
    try:
        if when.tzinfo is None:  # local wall time: skipped or repeated, cron's rule for fixed times
            return first_real_instant(when, timezone).astimezone(timezone)
        # Through UTC: astimezone() into the same zone would keep a skipped wall time as is.
        return when.astimezone(_UTC).astimezone(timezone)
    except OverflowError:  # within hours of 0001-01-01 or 9999-12-31, in another zone
        raise ScheduleError(f'"{given}" in time zone {timezone} falls outside '
                            "the years 1 to 9999") from None
