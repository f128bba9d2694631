"""Reading one task's fields: the checks behind each part of a `Task`.

The loader hands each task entry to a `FieldReader`; the functions here read
the entry point (importing a Python function), the arguments (bound to the
function's signature), the execution policies and the schedule, and turn what
they find wrong into problems on the reader (the environment: `environment`).
They never raise for bad input and never run anything they import.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from datetime import tzinfo
from types import MappingProxyType
from typing import Any

from ..errors import ScheduleError
from ..schedules import (
    CronSchedule,
    IntervalSchedule,
    OneShotSchedule,
    Schedule,
    resolve_timezone,
)
from ..task import EMPTY_KWARGS, STDERR_LEVELS, Task
from . import checks
from .checks import FieldReader
from .entry_points import callable_name, check_arguments, import_entry_point

SCHEDULE_FIELDS = ("interval_seconds", "cron", "at")


def read_entry_point(reader: FieldReader, task_type: str | None) -> tuple[Any, Any]:
    """Return the entry point and, for a python task, its imported function."""
    if task_type == "python":
        value = reader.read("entry_point", checks.PYTHON_ENTRY_POINT)
        return _import_target(reader, value)
    if task_type == "shell":
        value = reader.read("entry_point", checks.SHELL_COMMAND)
        return (tuple(value) if isinstance(value, list) else value), None
    return reader.read("entry_point", checks.ANYTHING), None


def _import_target(reader: FieldReader, entry_point: Any) -> tuple[Any, Any]:
    """Import a python task's function (or take the one the API handed over)."""
    if callable(entry_point):  # from the library API: already a function
        return callable_name(entry_point), entry_point
    if entry_point is None:
        return None, None
    try:
        return entry_point, import_entry_point(entry_point)
    except ImportError as error:
        reader.problem("entry_point", str(error))
        return entry_point, None


def read_arguments(reader: FieldReader, task_type: str | None, entry_point: Any,
                   target: Any) -> dict[str, Any]:
    """`args` and `kwargs` of a python task, bound to its function's signature now
    rather than failing at every run."""
    if task_type == "shell":
        for name in ("args", "kwargs"):
            if name in reader.values:
                reader.problem(name, f"only python tasks take {name}; this is a shell task"
                               f"{reader.origin(name)}")
    if task_type != "python":
        return {}
    args = reader.read("args", checks.LIST_OR_TUPLE, [])
    kwargs = reader.read("kwargs", checks.OBJECT, None)
    if target is not None and args is not None and "kwargs" not in _invalid(reader):
        mismatch = check_arguments(target, entry_point, tuple(args), kwargs or {})
        if mismatch is not None:
            reader.problem(mismatch[0], mismatch[1] + reader.origin(mismatch[0]))
    return {"args": tuple(args or ()),
            "kwargs": MappingProxyType(dict(kwargs)) if kwargs else EMPTY_KWARGS}


def _invalid(reader: FieldReader) -> set[str]:
    """The fields of the reader's object that already have a problem."""
    return {problem.field for problem in reader.problems}


def task_default(name: str) -> Any:
    """A task field's default: the `Task` dataclass is its one source (readers, help texts)."""
    return TASK_DEFAULTS[name]


TASK_DEFAULTS: dict[str, Any] = {
    item.name: item.default for item in dataclasses.fields(Task)
    if item.default is not dataclasses.MISSING}


# The execution policies and their checks, in the order their problems are reported.
_POLICIES: tuple[tuple[str, checks.Check], ...] = (
    ("max_instances", checks.MAX_INSTANCES), ("retries", checks.RETRIES),
    ("retry_delay_seconds", checks.SECONDS), ("retry_backoff", checks.BACKOFF),
    ("retry_max_delay_seconds", checks.SECONDS),
    ("misfire_grace_seconds", checks.SECONDS_OR_NULL))


def read_policies(reader: FieldReader) -> dict[str, Any]:
    """The execution policies the object sets: overlap, retries, misfires.

    A policy it does not set is left out: `Task` has the same default.
    """
    return read_present(reader, _POLICIES)


def read_present(reader: FieldReader,
                 fields: tuple[tuple[str, checks.Check], ...]) -> dict[str, Any]:
    """Check the fields of `fields` that the object sets, in that order; skip the others.

    Only for fields whose default is `Task`'s own: leaving one out of the
    `Task(...)` call gives it that default, and a field never set needs no check.
    """
    values = reader.values
    return {name: reader.read(name, check) for name, check in fields if name in values}


def read_schedule(reader: FieldReader, zone: tzinfo | None) -> Schedule | None:
    """Read the one schedule key of an entry (None, with a problem, if not exactly one is valid)."""
    present = [name for name in SCHEDULE_FIELDS if name in reader.values]
    if "align" in reader.values and present != ["interval_seconds"]:
        reader.problem("align", "only an interval_seconds schedule can be aligned")
    if len(present) != 1:
        found = f"found {', '.join(present)}" if present else "found none"
        reader.problem("", f"expected exactly one schedule ({', '.join(SCHEDULE_FIELDS)}), "
                       f"{found}")
        return None
    kind = present[0]
    if kind == "interval_seconds":
        seconds = reader.read("interval_seconds", checks.POSITIVE_SECONDS)
        align = reader.read("align", checks.BOOLEAN, False)
        return make_schedule(reader, "align", shared_interval, seconds, align, zone)
    maker = CronSchedule if kind == "cron" else OneShotSchedule
    return make_schedule(reader, kind, maker, reader.read(kind, checks.STRING), zone)


def make_schedule(reader: FieldReader, field: str, maker: Callable[..., Schedule],
                   first: Any, *more: Any) -> Schedule | None:
    """Build a schedule from values already checked; its own complaint names `field`."""
    if first is None:
        return None
    try:
        return maker(first, *more)
    except ScheduleError as error:
        message = str(error)
        # Messages that already name their field ('cron "0 25 * * *": hour: ...',
        # 'align needs ...') are not prefixed with it a second time.
        reader.problem("" if message.startswith(("cron ", f"{field} ")) else field, message)
        return None


def read_timezone(reader: FieldReader, default: tzinfo | None) -> tzinfo | None:
    """Read `timezone` (else `default`); an unknown zone is a problem and gives None."""
    name = reader.read("timezone", checks.STRING, None)
    if name is None:
        return default
    try:
        return resolve_timezone(name)
    except ScheduleError as error:
        reader.problem("timezone", str(error).removeprefix("timezone: "))
        return default


@functools.lru_cache(maxsize=1024)
def shared_interval(seconds: float, align: bool, zone: tzinfo | None) -> IntervalSchedule:
    """One `IntervalSchedule` per distinct interval: schedules never change, and
    100,000 tasks every hour need one object, not 100,000."""
    return IntervalSchedule(seconds, align, zone)


def read_stderr_level(reader: FieldReader) -> dict[str, Any]:
    """`stderr_level`: one of `STDERR_LEVELS`, exactly; a near miss gets a suggestion."""
    value = reader.values.get("stderr_level", "WARNING")
    if isinstance(value, str) and value in STDERR_LEVELS:
        return {"stderr_level": value}
    choices = ", ".join(json.dumps(level) for level in STDERR_LEVELS[:-1])
    expected = f"{choices} or {json.dumps(STDERR_LEVELS[-1])}"
    close = checks.closest_key(value.upper(), list(STDERR_LEVELS)) \
        if isinstance(value, str) else None
    hint = f'; did you mean "{close}"?' if close else ""
    reader.problem("stderr_level", f"expected {expected}, found {checks.describe_value(value)}"
                   f"{reader.origin('stderr_level')}{hint}")
    return {}
