"""Reading one task's fields: the checks behind each part of a `Task`.

The loader hands each task entry to a `FieldReader`; the functions here read
the entry point (importing a Python function), the arguments, the execution
policies, the environment (resolving `${NAME}` without ever echoing a value)
and the schedule, and turn what they find wrong into problems on the reader.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path
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
from ..task import EMPTY_KWARGS, STDERR_LEVELS
from . import checks
from .checks import FieldReader
from .entry_points import describe_callable, import_entry_point

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
        return describe_callable(entry_point), entry_point
    if entry_point is None:
        return None, None
    try:
        return entry_point, import_entry_point(entry_point)
    except ImportError as error:
        reader.problem("entry_point", str(error))
        return entry_point, None


def read_arguments(reader: FieldReader, task_type: str | None) -> dict[str, Any]:
    if task_type == "shell":
        for name in ("args", "kwargs"):
            if name in reader.values:
                reader.problem(name, f"only python tasks take {name}; this is a shell task"
                               f"{reader.origin(name)}")
    if task_type != "python":
        return {}
    args = reader.read("args", checks.LIST, [])
    kwargs = reader.read("kwargs", checks.OBJECT, None)
    return {"args": tuple(args or ()),
            "kwargs": MappingProxyType(dict(kwargs)) if kwargs else EMPTY_KWARGS}


def read_policies(reader: FieldReader) -> dict[str, Any]:
    """The execution policies: overlap, retries, misfires (defaults as in `Task`)."""
    read = reader.read
    return {
        "max_instances": read("max_instances", checks.COUNT_FROM_ONE, 1),
        "retries": read("retries", checks.COUNT_FROM_ZERO, 0),
        "retry_delay_seconds": read("retry_delay_seconds", checks.NON_NEGATIVE, 1.0),
        "retry_backoff": read("retry_backoff", checks.AT_LEAST_ONE, 2.0),
        "retry_max_delay_seconds": read("retry_max_delay_seconds", checks.NON_NEGATIVE, 300.0),
        "misfire_grace_seconds": read("misfire_grace_seconds", checks.NON_NEGATIVE_OR_NULL, None),
    }


def read_environment(reader: FieldReader, task_type: str | None) -> dict[str, Any]:
    """`env` (with ${NAME} taken from the scheduler's environment) and `cwd`."""
    fields: dict[str, Any] = {}
    if "env" in reader.values:
        fields["env"] = MappingProxyType(_resolve_env(reader, reader.values["env"]))
    if "cwd" in reader.values:
        if task_type == "python":
            reader.problem("cwd", "only shell tasks take cwd; this is a python task"
                           f"{reader.origin('cwd')}")
        fields["cwd"] = _read_cwd(reader)
    return fields


_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _resolve_env(reader: FieldReader, env: Any) -> dict[str, str]:
    """Check `env` without ever echoing a value: they may be secrets."""
    if not isinstance(env, dict):
        reader.problem("env", f"expected an object of strings, found {checks.kind_of(env)}")
        return {}
    resolved = {}
    for name, value in env.items():
        if not name or "=" in name or "\0" in name:  # no program could read these back
            reader.problem("env", f'{json.dumps(name)}: a variable name cannot be empty or '
                           'contain "=" or a NUL character')
            continue
        if not isinstance(value, str):
            reader.problem("env", f'"{name}": expected a string, found {checks.kind_of(value)}')
            continue
        if "\0" in value:
            reader.problem("env", f'"{name}": a value cannot contain a NUL character')
            continue
        unset = [ref for ref in _REFERENCE.findall(value) if ref not in os.environ]
        for ref in unset:
            reader.problem("env", f'"{name}": ${{{ref}}} is not set in the environment '
                           "the scheduler was started with")
        resolved[name] = _REFERENCE.sub(lambda match: os.environ.get(match[1], ""), value)
    return resolved


def _read_cwd(reader: FieldReader) -> str | None:
    cwd = reader.read("cwd", checks.STRING)
    if cwd is None:
        return None
    # A relative cwd is relative to the config file, wherever the scheduler runs.
    base = Path(reader.file).resolve().parent if reader.file else Path.cwd()
    path = base / Path(cwd).expanduser()
    if not path.is_dir():
        reader.problem("cwd", f'no such directory "{cwd}"' +
                       (f" (resolved to {path})" if str(path) != cwd else ""))
        return None
    return str(path)


def read_schedule(reader: FieldReader, zone: tzinfo | None) -> Schedule | None:
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
        seconds = reader.read("interval_seconds", checks.POSITIVE_NUMBER)
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
    reader.problem("stderr_level", f"expected {expected}, found {checks.describe(value)}"
                   f"{reader.origin('stderr_level')}{hint}")
    return {}
