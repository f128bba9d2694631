"""Cron fields as systemd `OnCalendar=` expressions (systemd.time's calendar events).

Each field becomes the set of values it allows, written back as systemd lists
and ranges ("00..05,30"); "L" becomes "~01" (the last day), "FRI#2" becomes
"Fri *-*-08..14", "5L" becomes "Fri *-*~07/1" (the last seven days). Cron's
rule that a restricted day-of-month OR a restricted day-of-week matches
becomes two expressions; systemd itself always ANDs them. Pure text: it
never reads a clock and never writes a file.
"""

from __future__ import annotations

_DAY_NAMES = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
_MONTHS = {name: number for number, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}
_DAYS = {name.upper(): number for number, name in enumerate(_DAY_NAMES)}


class CalendarError(ValueError):
    """A combination of cron fields systemd's calendar cannot say."""


def on_calendar(fields: list[str], zone: str | None) -> list[str]:
    """Return the `OnCalendar=` values matching the five cron `fields` in `zone`.

    Raises:
        CalendarError: a restricted day-of-month ANDed with "#" or "nL".
    """
    minute, hour, dom, month, dow = fields
    time = f"{_values(hour, 0, 23)}:{_values(minute, 0, 59)}:00"
    months = _values(month, 1, 12, _MONTHS)
    suffix = f" {zone}" if zone else ""
    dates = _dates(dom, dow, months)
    return [f"{date} {time}{suffix}".strip() for date in dates]


def _dates(dom: str, dow: str, months: str) -> list[str]:
    """Return the date parts ("Mon..Fri *-*-*"), one per OnCalendar= line."""
    days = [item for item in dom.split(",") if item.upper() != "L"]
    last_day = len(days) != len(dom.split(","))
    day_dates = ([f"*-{months}-{_values(','.join(days), 1, 31)}"] if days else []) + \
        ([f"*-{months}~01"] if last_day else [])
    plain = [item for item in dow.split(",") if "#" not in item and not item.upper().endswith("L")]
    special = [item for item in dow.split(",") if item not in plain]
    weekdays = _weekdays(",".join(plain)) if plain else ""
    week_dates = ([f"{weekdays} *-{months}-*"] if plain else []) + \
        [_special(item, months) for item in special]
    if dom.startswith("*") and dow.startswith("*"):
        return [f"*-{months}-{_values(dom, 1, 31)}"] if dow == "*" else \
            [f"{weekdays} *-{months}-{_values(dom, 1, 31)}"]
    if dow.startswith("*"):  # Vixie: a "*..." field means both must match
        return [f"{weekdays} {date}" if dow != "*" else date for date in day_dates]
    if dom.startswith("*"):
        if dom == "*":
            return week_dates
        if special:
            raise CalendarError("systemd cannot require both a day of the month and an "
                                "nth or last weekday")
        return [f"{weekdays} *-{months}-{_values(dom, 1, 31)}"]
    return day_dates + week_dates  # cron: either field matches


def _special(item: str, months: str) -> str:
    if "#" in item:
        day, _, week = item.partition("#")
        first = (int(week) - 1) * 7 + 1
        return f"{_day_name(day)} *-{months}-{first:02d}..{first + 6:02d}"
    return f"{_day_name(item[:-1])} *-{months}~07/1"


def _day_name(text: str) -> str:
    number = _DAYS.get(text.upper(), None)
    return _DAY_NAMES[(number if number is not None else int(text)) % 7]


def _weekdays(field: str) -> str:
    days = _expand(field, 0, 7, _DAYS)
    return ",".join(_DAY_NAMES[day] for day in sorted({day % 7 for day in days}))


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> str:
    """Return the values `field` allows as systemd text: "*", or lists and ranges."""
    values = sorted(_expand(field, low, high, names or {}))
    if values == list(range(low, high + 1)):
        return "*"
    runs: list[str] = []
    start = previous = values[0]
    for value in values[1:] + [-1]:
        if value != previous + 1:
            runs.append(f"{start:02d}" if start == previous else
                        f"{start:02d}..{previous:02d}")
            start = value
        previous = value
    return ",".join(runs)


def _expand(field: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    values: set[int] = set()
    for item in field.split(","):
        base, slash, step = item.partition("/")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first_text, _, last_text = base.partition("-")
            first, last = _number(first_text, names), _number(last_text, names)
        else:
            first = _number(base, names)
            last = high if slash else first
        values.update(range(first, last + 1, int(step) if slash else 1))
    return values


def _number(text: str, names: dict[str, int]) -> int:
    return names[text.upper()] if text.upper() in names else int(text)
