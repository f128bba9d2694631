"""Cron in words: say a parsed cron expression in plain English, and the names it uses.

`CronSchedule.describe()` (in cron.py) hands over the five field texts of an
expression that has already been parsed, so every value here is known to be valid.
This module owns the English month and day names, the three-letter abbreviations
cron accepts for them, and the wording ("at 02:30 on Monday to Friday").
It never parses for errors, reads the clock or imports the rest of the cron code.
"""

from __future__ import annotations

from collections.abc import Mapping

MONTH_NAMES = ("", "January", "February", "March", "April", "May", "June", "July",
               "August", "September", "October", "November", "December")
"""English month names, indexed by month number (1 = January)."""
DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
"""English day names, indexed by cron weekday (0 = Sunday)."""
MONTH_NUMBERS: Mapping[str, int] = {name[:3].upper(): number
                                    for number, name in enumerate(MONTH_NAMES) if name}
"""The month names cron accepts, "JAN" to "DEC", with their numbers."""
DAY_NUMBERS: Mapping[str, int] = {name[:3].upper(): number for number, name in enumerate(DAY_NAMES)}
"""The day names cron accepts, "SUN" to "SAT", with their numbers (0 = Sunday)."""

_ORDINALS = ("", "first", "second", "third", "fourth", "fifth")
_NO_NAMES: Mapping[str, int] = {}  # minutes, hours and days of the month are numbers only


def cron_in_words(texts: tuple[str, ...]) -> str:
    """Return a parsed expression in plain English, e.g. "at 02:30 on Monday to Friday".

    Args:
        texts: the five field texts (minute, hour, day-of-month, month, day-of-week)
            of an expression that parsed without problems.
    """
    minute, hour, dom, month, dow = texts
    return f"{_describe_time(minute, hour)} {_describe_days(dom, month, dow)}".rstrip()


def _describe_time(minute: str, hour: str) -> str:
    minutes, hours = _plain_values(minute, _NO_NAMES), _plain_values(hour, _NO_NAMES)
    # "*/7" restarts at :00 each hour, so it is "every 7 minutes" only when 7 divides 60.
    minute_step, hour_step = _even_step(minute, 60), _even_step(hour, 24)
    if minute_step:
        often = "every minute" if minute_step == 1 else f"every {minute_step} minutes"
        return f"{often} {_during_hours(hour)}".rstrip()
    if minutes == [0] and hour_step:
        return "every hour" if hour_step == 1 else f"every {hour_step} hours"
    if minutes and hours and len(minutes) * len(hours) <= 4:
        return "at " + join_words([f"{h:02d}:{m:02d}" for h in hours for m in minutes])
    bounds = _single_range(hour, _NO_NAMES)
    if minutes == [0] and bounds:
        return f"every hour from {bounds[0]:02d}:00 to {bounds[1]:02d}:00"
    if minutes and len(minutes) == 1 and hour == "*":
        return f"at {minutes[0]} minute{'s' * (minutes[0] != 1)} past every hour"
    return f"at minute {minute} past " + ("every hour" if hour == "*" else f"hour {hour}")


def _during_hours(hour: str) -> str:
    hours, bounds = _plain_values(hour, _NO_NAMES), _single_range(hour, _NO_NAMES)
    if hour == "*":
        return ""
    if hours and len(hours) == 1:
        bounds = (hours[0], hours[0])
    if bounds:
        return f"from {bounds[0]:02d}:00 to {bounds[1]:02d}:59"
    return f"during hour {hour}"


def _describe_days(dom: str, month: str, dow: str) -> str:
    dates, months = _plain_values(dom, _NO_NAMES), _plain_values(month, MONTH_NUMBERS)
    if dow == "*" and dates and months and len(dates) == len(months) == 1:
        return f"on {dates[0]} {MONTH_NAMES[months[0]]}"
    if dom == "*" and dow == "*":
        days = ""
    elif dom == "*" or dow == "*":
        days = _describe_weekdays(dow) if dom == "*" else _describe_dates(dom)
    elif dom.startswith("*") or dow.startswith("*"):
        days = f"{_describe_dates(dom)} if it is also {_describe_weekdays(dow)[3:]}"
    else:
        days = f"{_describe_dates(dom)} and {_describe_weekdays(dow)}"
    return f"{days} {_describe_months(month)}".strip()


def _describe_dates(dom: str) -> str:
    dates, bounds = _plain_values(dom, _NO_NAMES), _single_range(dom, _NO_NAMES)
    if dom.upper() == "L":
        return "on the last day of the month"
    if dates:
        return f"on day {join_words([str(day) for day in dates])} of the month"
    if bounds:
        return f"on day {bounds[0]} to {bounds[1]} of the month"
    return f"on day-of-month {dom}"


def _describe_weekdays(dow: str) -> str:
    phrases = [_describe_weekday_item(item.upper()) for item in dow.split(",")]
    words = [phrase for phrase in phrases if phrase]
    if len(words) < len(phrases):
        return f"on day-of-week {dow}"
    return "on " + join_words(words)


def _describe_weekday_item(item: str) -> str:
    """Return "Monday", "Monday to Friday", "the second Friday of the month", or "" if unusual."""
    if "#" in item:
        day, _, week = item.partition("#")
        return f"the {_ORDINALS[int(week)]} {_day_name(day)} of the month"
    if item.endswith("L"):
        return f"the last {_day_name(item[:-1])} of the month"
    bounds = _single_range(item, DAY_NUMBERS)
    if bounds and bounds[1] - bounds[0] >= 6:
        return "every day of the week"
    if bounds:
        return f"{DAY_NAMES[bounds[0] % 7]} to {DAY_NAMES[bounds[1] % 7]}"
    return _day_name(item) if _plain_values(item, DAY_NUMBERS) else ""


def _describe_months(month: str) -> str:
    months, bounds = _plain_values(month, MONTH_NUMBERS), _single_range(month, MONTH_NUMBERS)
    if month == "*":
        return ""
    if months:
        return "in " + join_words([MONTH_NAMES[number] for number in months])
    if bounds:
        return f"in {MONTH_NAMES[bounds[0]]} to {MONTH_NAMES[bounds[1]]}"
    return f"in month {month}"


def _day_name(text: str) -> str:
    return DAY_NAMES[_number(text, DAY_NUMBERS) % 7]


def _number(text: str, names: Mapping[str, int]) -> int:
    """Return the value of a valid plain number or name ("5", "fri")."""
    return names[text.upper()] if text.upper() in names else int(text)


def _plain_values(text: str, names: Mapping[str, int]) -> list[int] | None:
    """Return the sorted values of a list of plain numbers or names, or None if it has more."""
    items = text.upper().split(",")
    if not all(item in names or item.isdigit() for item in items):
        return None
    return sorted({names[item] if item in names else int(item) for item in items})


def _single_range(text: str, names: Mapping[str, int]) -> tuple[int, int] | None:
    first, dash, last = text.upper().partition("-")
    if not dash or "," in text or None in (_plain_values(first, names), _plain_values(last, names)):
        return None
    return _number(first, names), _number(last, names)


def _even_step(text: str, span: int) -> int | None:
    """Return n for "*" (1) or "*/n" when n divides `span` evenly, else None."""
    step = 1 if text == "*" else int(text[2:]) if text[:2] == "*/" and text[2:].isdigit() else 0
    return step if step and span % step == 0 else None


def join_words(words: list[str], conjunction: str = "and") -> str:
    """Return "a", "a and b" or "a, b and c" (or another conjunction: "a, b or c")."""
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"
