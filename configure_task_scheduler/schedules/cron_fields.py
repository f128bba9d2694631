"""Cron fields: parse an expression's five fields into tables and find matching wall times.

cron.py's `CronSchedule` calls `parse_fields` once per expression, then asks the
resulting `CronFields` for the next matching naive wall time while it applies time
zones. This module owns the cron syntax (Debian/Vixie rules, as the cronsim library
implements them), its one-line error messages and the calendar arithmetic.
It never sees a time zone, reads the clock or logs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from ..errors import ScheduleError
from .cron_words import DAY_NUMBERS, MONTH_NAMES, MONTH_NUMBERS, join_words

_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    """The bounds, names and error wording of one of the five fields."""

    name: str
    low: int
    high: int
    names: Mapping[str, int]
    hint: str  # completes '"X" is not a number...' with what else the field accepts
    wrap_high: int  # top of the first half when a reversed range is split in two


_MINUTES = _FieldSpec("minute", 0, 59, {}, "", 59)
_HOURS = _FieldSpec("hour", 0, 23, {}, "", 23)
_DAYS = _FieldSpec("day-of-month", 1, 31, {}, " or L", 31)
_MONTHS = _FieldSpec("month", 1, 12, MONTH_NUMBERS, " or a month name (JAN-DEC)", 12)
# Vixie cron accepts 7 for Sunday, so the range is 0-7; values are reduced modulo 7.
_WEEKDAYS = _FieldSpec("day-of-week", 0, 7, DAY_NUMBERS, " or a day name (SUN-SAT)", 6)


@dataclass(frozen=True, slots=True)
class _DaysOfMonth:
    numbers: frozenset[int]
    last: bool  # "L": the last day of the month


@dataclass(frozen=True, slots=True)
class _DaysOfWeek:
    weekdays: frozenset[int]  # 0 = Sunday
    nth: frozenset[tuple[int, int]]  # (weekday, week 1-5) from "FRI#2"
    last: frozenset[int]  # weekdays from "5L": the last such day of the month


@dataclass(frozen=True, slots=True)
class CronFields:
    """A parsed expression as lookup tables, so a search is index arithmetic.

    `next_minute[i]` is the first allowed minute >= i, or -1 (likewise hours and
    months); `day_masks[first_weekday * 4 + days_in_month - 28]` has bit d set when
    day d matches in a month of that shape (there are only 28 shapes).
    """

    texts: tuple[str, ...]
    next_minute: tuple[int, ...]
    next_hour: tuple[int, ...]
    next_month: tuple[int, ...]
    day_masks: tuple[int, ...]
    follows_wall_clock: bool

    def day_mask(self, year: int, month: int) -> int:
        """Return the bitmask of matching days in `month` of `year`."""
        leap = month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        shape = date(year, month, 1).weekday() * 4 + _DAYS_IN_MONTH[month] + leap - 28
        return self.day_masks[shape]

    def matches_date(self, day: date) -> bool:
        """Return True if the day-of-month, month and day-of-week fields allow `day`."""
        if self.next_month[day.month] != day.month:
            return False
        return bool(self.day_mask(day.year, day.month) >> day.day & 1)

    def next_wall(self, start: datetime, last_year: int) -> datetime | None:
        """Return the first naive wall time at or after `start` that matches, or None.

        Advance month, then day, then hour, then minute; when a field moves on,
        the fields below it restart from their smallest value.
        """
        year, month, day = start.year, start.month, start.day
        hour, minute = start.hour, start.minute
        while year <= last_year:
            found = self.next_month[month]
            if found < 0:
                year, month, day, hour, minute = year + 1, 1, 1, 0, 0
                continue
            if found != month:
                month, day, hour, minute = found, 1, 0, 0
            rest = self.day_mask(year, month) >> day
            if not rest:
                month, day, hour, minute = month + 1, 1, 0, 0
                continue
            found = day + (rest & -rest).bit_length() - 1
            if found != day:
                day, hour, minute = found, 0, 0
            found = self.next_hour[hour]
            if found < 0:
                day, hour, minute = day + 1, 0, 0
                continue
            if found != hour:
                hour, minute = found, 0
            found = self.next_minute[minute]
            if found >= 0:
                return datetime(year, month, day, hour, found)
            hour, minute = hour + 1, 0
        return None


# --- Parsing ------------------------------------------------------------------------------


def parse_fields(expression: str) -> CronFields:
    """Split `expression` into five fields (expanding a macro) and build the lookup tables.

    Raises:
        ScheduleError: one line naming the field and what is wrong with it, e.g.
            'hour: 24 is out of range 0-23', or saying why the expression never fires.
    """
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() not in _MACROS:
            known = ", ".join(list(_MACROS)) + " or @reboot"
            raise ScheduleError(f'unknown macro "{text}" (expected {known})')
        text = _MACROS[text.lower()]
    texts = tuple(text.split())
    if len(texts) != 5:
        raise ScheduleError(_field_count_problem(len(texts)))
    return _build_fields(texts)


def _field_count_problem(count: int) -> str:
    problem = f"expected 5 fields (minute hour day-of-month month day-of-week), found {count}"
    if count in (6, 7):
        problem += ("; 6- and 7-field forms are not supported because tools disagree"
                    " on whether the extra field is seconds or years")
    return problem


def _build_fields(texts: tuple[str, ...]) -> CronFields:
    minute, hour, dom, month, dow = texts
    minutes = _in_field(_MINUTES, minute, _parse_values)
    hours = _in_field(_HOURS, hour, _parse_values)
    months = _in_field(_MONTHS, month, _parse_values)
    days = _in_field(_DAYS, dom, _parse_days_of_month)
    weekdays = _in_field(_WEEKDAYS, dow, _parse_days_of_week)
    both_must_match = dom.startswith("*") or dow.startswith("*")  # Vixie's rule
    masks = tuple(_month_mask(days, weekdays, both_must_match, first, length)
                  for first in range(7) for length in range(28, 32))
    if not any(masks[first * 4 + length - 28]
               for m in months for length in _month_lengths(m) for first in range(7)):
        raise ScheduleError(_never_fires_problem(days, dom, months))
    return CronFields(
        texts=texts,
        next_minute=_next_table(minutes, 61),
        next_hour=_next_table(hours, 25),
        next_month=_next_table(months, 14),
        day_masks=masks,
        follows_wall_clock=not minute.startswith("*") and not hour.startswith("*"),
    )


def _in_field(spec: _FieldSpec, text: str, parse: Callable[[str, _FieldSpec], _T]) -> _T:
    """Run `parse`, prefixing any problem with the field's name."""
    try:
        return parse(text, spec)
    except ScheduleError as error:
        raise ScheduleError(f"{spec.name}: {error}") from None


def _items(text: str) -> list[str]:
    items = text.split(",")
    if "" in items:
        raise ScheduleError(f'empty item in list "{text}"')
    return items


def _parse_values(text: str, spec: _FieldSpec) -> frozenset[int]:
    values: set[int] = set()
    for item in _items(text):
        values.update(_parse_item(item, spec))
    return frozenset(values)


def _parse_days_of_month(text: str, spec: _FieldSpec) -> _DaysOfMonth:
    numbers: set[int] = set()
    for item in _items(text):
        if "L" in item.upper() and item.upper() != "L":
            raise ScheduleError(f'"{item}": L (the last day of the month) must stand alone')
        numbers.update(() if item.upper() == "L" else _parse_item(item, spec))
    return _DaysOfMonth(frozenset(numbers), "L" in text.upper())


def _parse_days_of_week(text: str, spec: _FieldSpec) -> _DaysOfWeek:
    weekdays: set[int] = set()
    nth: set[tuple[int, int]] = set()
    last: set[int] = set()
    for item in _items(text):
        if "#" in item:
            day, _, week = item.partition("#")
            if week not in ("1", "2", "3", "4", "5"):
                raise ScheduleError(f'"{item}": the week number after "#" must be 1-5')
            nth.add((_parse_value(day, spec) % 7, int(week)))
        elif item.upper().endswith("L"):
            if item.upper() == "L":
                raise ScheduleError('"L" needs a day before it (5L or FRIL: the last Friday)')
            last.add(_parse_value(item[:-1], spec) % 7)
        else:
            weekdays.update(value % 7 for value in _parse_item(item, spec))
    return _DaysOfWeek(frozenset(weekdays), frozenset(nth), frozenset(last))


def _parse_item(item: str, spec: _FieldSpec) -> range:
    """Parse "*", "a", "a-b", each optionally with "/step" ("a/n" means a-max/n)."""
    base, slash, step_text = item.partition("/")
    if base.startswith("-") or base.endswith("-"):
        raise ScheduleError(f'"{item}": a range needs a value on each side of "-"')
    step = _parse_step(item, step_text) if slash else 1
    if base == "*":
        first, last = spec.low, spec.high
    elif "-" in base:
        first, last = _parse_range(base, spec)
    else:
        first = _parse_value(base, spec)
        last = spec.high if slash else first
    return range(first, last + 1, step)


def _parse_step(item: str, text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ScheduleError(f'"{item}": step "{text}" is not a number')
    if int(text) == 0:
        raise ScheduleError(f'"{item}": step must be 1 or more')
    return int(text)


def _parse_range(text: str, spec: _FieldSpec) -> tuple[int, int]:
    first_text, _, last_text = text.partition("-")
    first, last = _parse_value(first_text, spec), _parse_value(last_text, spec)
    if first > last:
        parts = [(first, spec.wrap_high)] if first <= spec.wrap_high else []
        by_name = first_text.upper() in spec.names
        split = ",".join(_show_range(a, b, spec, by_name) for a, b in parts + [(spec.low, last)])
        raise ScheduleError(f"range {text} is reversed (write {split})")
    return first, last


def _show_range(first: int, last: int, spec: _FieldSpec, by_name: bool) -> str:
    names = {number: name for name, number in spec.names.items()} if by_name else {}
    shown = [names.get(value, str(value)) for value in (first, last)]
    return shown[0] if first == last else f"{shown[0]}-{shown[1]}"


def _parse_value(text: str, spec: _FieldSpec) -> int:
    named = spec.names.get(text.upper())
    if named is not None:
        return named
    if not (text.isascii() and text.isdigit()):
        raise ScheduleError(f'"{text}" is not a number{spec.hint}')
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise ScheduleError(f"{value} is out of range {spec.low}-{spec.high}")
    return value


def _next_table(values: frozenset[int], size: int) -> tuple[int, ...]:
    """Entry i is the smallest value >= i in `values`, or -1; the last entry is always -1."""
    table = [-1] * size
    following = -1
    for index in reversed(range(size - 1)):
        following = index if index in values else following
        table[index] = following
    return tuple(table)


def _month_mask(days: _DaysOfMonth, weekdays: _DaysOfWeek, both_must_match: bool,
                first_weekday: int, length: int) -> int:
    """Return the bitmask of matching days in a month of `length` days whose 1st
    falls on `first_weekday` (date.weekday(): Monday = 0)."""
    mask = 0
    for day in range(1, length + 1):
        weekday = (first_weekday + day) % 7  # date.weekday() counts from Monday, cron from Sunday
        by_date = day in days.numbers or (days.last and day == length)
        by_weekday = (weekday in weekdays.weekdays or (weekday, (day + 6) // 7) in weekdays.nth
                      or (weekday in weekdays.last and day + 7 > length))
        if (by_date and by_weekday) if both_must_match else (by_date or by_weekday):
            mask |= 1 << day
    return mask


def _month_lengths(month: int) -> tuple[int, ...]:
    return (28, 29) if month == 2 else (_DAYS_IN_MONTH[month],)


def _never_fires_problem(days: _DaysOfMonth, dom: str, months: frozenset[int]) -> str:
    no_weekdays = _DaysOfWeek(frozenset(), frozenset(), frozenset())
    if not any(_month_mask(days, no_weekdays, False, 0, length)
               for month in months for length in _month_lengths(month)):
        names = join_words([MONTH_NAMES[month] for month in sorted(months)], "or")
        return f"never fires: day-of-month {dom} never occurs in {names}"
    return "never fires: no day matches both the day-of-month and the day-of-week fields"
