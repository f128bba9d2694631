"""Cron schedules: find each next fire time of a cron expression in a time zone.

The loader turns a task's "cron" string into a `CronSchedule`; the engine asks it
`next_after(previous planned time)`, a pure function that never reads the clock.
This module owns the search for fire times (the daylight-saving rule for fixed times is
zones.first_real_instant, shared with `at` times); the syntax and the
calendar tables live in cron_fields.py, the plain-English words in cron_words.py.
It never schedules, sleeps or logs.
"""

from __future__ import annotations

from datetime import MAXYEAR, datetime, time, timedelta, timezone, tzinfo

from ..errors import ScheduleError
from .cron_fields import CronFields, parse_fields
from .cron_words import cron_in_words
from .zones import first_real_instant, offset_change, resolve_timezone

SEARCH_YEARS = 50
"""How many years ahead `next_after` looks before answering None (cronsim's bound)."""

_UTC = timezone.utc
_MINUTE = timedelta(minutes=1)


class CronSchedule:
    """A five-field cron expression read in one time zone.

    Attributes:
        expression: the expression as given.
        timezone: the zone whose wall clock the fields describe.
        is_reboot: True for "@reboot", which has no fire times (the engine runs it once at start).
    """

    __slots__ = ("expression", "timezone", "is_reboot", "_fields")

    def __init__(self, expression: str, timezone: str | tzinfo | None = None) -> None:
        """Parse `expression` and resolve `timezone`.

        Args:
            expression: "minute hour day-of-month month day-of-week", or a macro like "@daily".
            timezone: an IANA zone name, a tzinfo, or None for this machine's zone.

        Raises:
            ScheduleError: one line naming the field and what is wrong with it,
                or the unknown time zone.
        """
        self.expression = expression
        self.is_reboot = expression.strip().lower() == "@reboot"
        try:
            self._fields = None if self.is_reboot else parse_fields(expression)
        except ScheduleError as error:
            raise ScheduleError(f'cron "{expression}": {error}') from None
        self.timezone = resolve_timezone(timezone)

    def __repr__(self) -> str:
        return f"CronSchedule({self.expression!r}, {str(self.timezone)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CronSchedule) and \
            (self.expression, str(self.timezone)) == (other.expression, str(other.timezone))

    def __hash__(self) -> int:
        return hash((self.expression, str(self.timezone)))

    @property
    def on_monotonic_clock(self) -> bool:
        """Always False: cron times are wall-clock times (the engine's Schedule protocol)."""
        return False

    @property
    def at_fixed_times(self) -> bool:
        """True if neither the minute nor the hour field starts with `*` (Vixie's flags)."""
        return self._fields is not None and self._fields.follows_wall_clock

    def next_after(self, when: datetime) -> datetime | None:
        """Return the first fire time strictly after `when`.

        Args:
            when: an aware datetime, in any zone.

        Returns:
            An aware datetime in the schedule's zone, or None for "@reboot" or when
            nothing matches within SEARCH_YEARS years (or before the year 9999 ends).

        Raises:
            ValueError: if `when` is naive.
        """
        if when.utcoffset() is None:
            raise ValueError(f"next_after needs an aware datetime, got naive {when.isoformat()}")
        if self._fields is None:
            return None
        try:
            if self._fields.follows_wall_clock:
                return _next_by_wall_clock(self._fields, when, self.timezone)
            return _next_by_elapsed_time(self._fields, when, self.timezone)
        except OverflowError:  # the search ran past datetime.max: there is no later time
            return None

    def describe(self) -> str:
        """Return the schedule in plain English, e.g. "at 02:30 on Monday to Friday"."""
        if self._fields is None:
            return "once when the scheduler starts"
        return cron_in_words(self._fields.texts)


# --- Searching: wall-clock and elapsed-time rules -----------------------------------------


def _next_by_wall_clock(fields: CronFields, when: datetime, zone: tzinfo) -> datetime | None:
    """Debian's rule for fixed times: a skipped time fires at the end of the gap,
    a repeated time fires at its first occurrence only."""
    local = when.astimezone(zone)
    wall = _naive(local) + _MINUTE
    last_year = min(local.year + SEARCH_YEARS, MAXYEAR)
    when_utc = when.astimezone(_UTC)
    while (target := fields.next_wall(wall, last_year)) is not None:
        instant = first_real_instant(target, zone)
        # The first occurrence of a repeated time can precede `when` (when is in the
        # second pass of that hour): that run has happened, so keep looking.
        if instant > when_utc:
            return instant.astimezone(zone)
        wall = target + _MINUTE
    return None


def _next_by_elapsed_time(fields: CronFields, when: datetime, zone: tzinfo) -> datetime | None:
    """Match each real instant's wall time: repeated times fire twice, skipped ones never."""
    local = when.astimezone(zone)
    instant = when.astimezone(_UTC) + (_MINUTE - timedelta(
        seconds=local.second, microseconds=local.microsecond))
    last_year = min(local.year + SEARCH_YEARS, MAXYEAR)
    while True:
        local = instant.astimezone(zone)
        if local.second:  # offsets with seconds (local mean time, before ~1900)
            instant += timedelta(seconds=60 - local.second)
            continue
        wall = _naive(local)
        target = fields.next_wall(wall, last_year)
        if target is None:
            return None
        if target == wall:
            return local
        instant, fire = _step_toward(fields, instant, local, target)
        if fire is not None:
            return fire


def _step_toward(fields: CronFields, instant: datetime, local: datetime,
                 target: datetime) -> tuple[datetime, datetime | None]:
    """Move from `instant` (at wall time `local`) toward wall time `target` in real time.

    Returns the next UTC instant worth examining, plus its local time if it is the
    target itself. Never passes an instant whose wall time could match: within a
    matching day it stops at any offset change (a repeated hour brings back earlier
    wall times); across days that cannot match it jumps by calendar.
    """
    zone, today = local.tzinfo, local.date()
    stop = target
    if target.date() != today:
        if not fields.matches_date(today):
            first = datetime(target.year, target.month, target.day, tzinfo=zone).astimezone(_UTC)
            # max(): a clock set back across midnight must not send the search backwards.
            return max(first, instant + _MINUTE), None
        stop = datetime.combine(today + timedelta(days=1), time())
    landed = instant + (stop - _naive(local))
    landed_local = landed.astimezone(zone)
    if landed_local.utcoffset() != local.utcoffset():
        return offset_change(instant, landed, zone), None
    return landed, landed_local if stop is target else None


def _naive(local: datetime) -> datetime:
    """Return the wall time of `local` to the minute, without zone (faster than replace())."""
    return datetime(local.year, local.month, local.day, local.hour, local.minute)
