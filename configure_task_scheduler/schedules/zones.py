"""Time zones: the machine's zone, the zones a config names, and the gap rule.

Every schedule resolves its `timezone` here, and every schedule that names a
wall time (cron's fixed times, `at`) turns it into an instant with
`first_real_instant`, so a time that a daylight-saving change skips or repeats
is read by one rule. Reading the zone configuration is not reading the clock:
nothing here asks what time it is.
"""

from __future__ import annotations

import functools
import os
import time as _time
import zoneinfo
from datetime import datetime, timedelta, timezone, tzinfo

from ..errors import ScheduleError

_UTC = timezone.utc


def local_timezone() -> tzinfo:
    """Return this machine's time zone, with its daylight-saving rules where they can be found.

    Tries the TZ variable, then /etc/localtime (a symlink names the zone; a copied
    file is read as is), then falls back to the zone's standard-time UTC offset
    (without daylight-saving rules). It is read once per TZ value (it is asked
    for every task): a scheduler started before the machine's zone file changes
    keeps the old zone until restarted.

    Returns:
        A ZoneInfo when the zone can be identified, else a fixed-offset timezone.
    """
    return _local_timezone(os.environ.get("TZ", ""))


@functools.lru_cache(maxsize=8)
def _local_timezone(tz_variable: str) -> tzinfo:
    key = tz_variable.removeprefix(":")
    if not key and os.path.islink("/etc/localtime"):
        key = os.path.realpath("/etc/localtime")
    try:  # "/usr/share/zoneinfo/Europe/Berlin" -> "Europe/Berlin"
        return zoneinfo.ZoneInfo(key.partition("zoneinfo/")[2] or key)
    except (KeyError, ValueError, OSError):  # unset, a POSIX rule like "CET-1CEST", or unknown
        pass
    if not tz_variable and os.path.isfile("/etc/localtime"):
        try:
            with open("/etc/localtime", "rb") as file:
                return zoneinfo.ZoneInfo.from_file(file)
        except (OSError, ValueError):
            pass
    # Last resort: the standard-time offset the C library was configured with.
    # Only clock.py reads the clock, so this does not ask "what offset is it now".
    return timezone(timedelta(seconds=-_time.timezone), _time.tzname[0])


def resolve_timezone(timezone: str | tzinfo | None) -> tzinfo:
    """Turn a config's time zone into a tzinfo.

    Args:
        timezone: an IANA name ("Europe/Berlin"), a tzinfo (returned as is), or None.

    Returns:
        The zone; None gives `local_timezone()`.

    Raises:
        ScheduleError: 'timezone: unknown time zone "Mars/Base"', with a hint when
            this system has no time zone database at all.
    """
    if timezone is None:
        return local_timezone()
    if isinstance(timezone, tzinfo):
        return timezone
    try:
        return zoneinfo.ZoneInfo(timezone)
    except (KeyError, ValueError, OSError):
        missing = not zoneinfo.available_timezones()
        hint = " (this system has no time zone database: install the tzdata package)"
        raise ScheduleError(f'timezone: unknown time zone "{timezone}"' + hint * missing) from None


def first_real_instant(wall: datetime, zone: tzinfo) -> datetime:
    """Return the UTC instant when naive wall time `wall` first happens in `zone`.

    Debian cron's rule for fixed times, used for `at` times too: a wall time
    that happens twice (the clocks went back) is its first occurrence; one that
    never happens (the clocks went forward) is the first real instant after the
    gap, the moment the clocks jumped (02:30 on a night Berlin skips 02:00-03:00
    is 03:00+02:00).
    """
    instant = wall.replace(tzinfo=zone).astimezone(_UTC)
    local = instant.astimezone(zone)
    if (local.minute, local.hour, local.day) == (wall.minute, wall.hour, wall.day):
        return instant  # a gap moves a wall time by whole minutes
    # In a gap, fold=1 reads `wall` with the offset after the jump, landing before
    # it; whole seconds, so the bisection lands on the transition itself.
    before_gap = wall.replace(tzinfo=zone, fold=1, microsecond=0).astimezone(_UTC)
    return offset_change(before_gap, instant, zone)


def offset_change(start: datetime, end: datetime, zone: tzinfo | None) -> datetime:
    """Return the first second in (start, end] whose UTC offset differs from start's.

    The offset at `end` must differ; bisection finds the transition in ~17 steps a day.
    """
    before = start.astimezone(zone).utcoffset()
    low, high = 0, int((end - start).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if (start + timedelta(seconds=middle)).astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return start + timedelta(seconds=high)
