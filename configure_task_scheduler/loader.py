"""The config loader: a JSON (or TOML) file in, validated `Task`s and problems out.

It parses the file, applies `defaults`, checks every field of every task,
rejects duplicate ids and imports Python entry points, collecting every
problem instead of stopping at the first. A file that cannot be used at all
(unreadable, not JSON, a bad `scheduler` section) raises `ConfigError`; a bad
task only becomes a `Problem` and is left out, so the valid tasks still run.
It never coerces a value: "10" is not a number and "false" is not a boolean.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any

from . import checks
from .checks import FieldReader
from .errors import ConfigError, Problem, ScheduleError
from .cron import CronSchedule, resolve_timezone
from .entry_points import describe_callable, import_entry_point, import_path
from .schedules import IntervalSchedule, OneShotSchedule, Schedule
from .task import EMPTY_KWARGS, Task, TaskType

SCHEDULE_FIELDS = ("interval_seconds", "cron", "at")
COMPACT_FIELDS = ("name", "command", "schedule")

TASK_FIELDS: dict[str, str] = {
    "task_id": "unique id: 1-64 letters, digits, _ - or .",
    "task_name": "a human name (default: the task_id)",
    "description": "free text",
    "enabled": "false keeps the task loaded but never scheduled (default true)",
    "task_type": '"python" or "shell"',
    "entry_point": '"module:function" for python; a string or list of strings for shell',
    "args": "positional arguments for a python callable (a list)",
    "kwargs": "keyword arguments for a python callable (an object)",
    "interval_seconds": "run every N seconds (a number > 0)",
    "align": "with interval_seconds: run on clock multiples of the interval (default false)",
    "cron": 'a 5-field cron expression or macro: "0 2 * * 1-5", "@daily"',
    "at": 'run once at this ISO 8601 date-time: "2026-12-24T18:00:00"',
    "timezone": 'IANA time zone for cron, at and align: "Europe/Berlin" (default: '
                "scheduler.timezone, else the machine's zone)",
    "jitter_seconds": "start each run a random 0..N seconds late (default 0)",
    "run_on_start": "also run once as soon as the scheduler starts (default false)",
    "timeout_seconds": "a run taking longer is timed out (a number > 0)",
    "max_instances": "how many runs of this task may be in flight at once (default 1)",
    "retries": "how many times a failed or timed-out run is retried (default 0)",
    "retry_delay_seconds": "wait before the first retry (default 1)",
    "retry_backoff": "multiply the wait by this after each retry (default 2)",
    "retry_max_delay_seconds": "the longest wait between retries (default 300)",
    "misfire_grace_seconds": "a run starting later than this is skipped as missed "
                             "(default null: late runs still run)",
    "env": 'extra environment variables; "${NAME}" takes NAME from the scheduler\'s '
           "environment; values are never printed",
    "cwd": "working directory of a shell task (must exist)",
}

SCHEDULER_FIELDS: dict[str, str] = {
    "max_workers": "how many runs may execute at once (default 4)",
    "shutdown_timeout_seconds": "how long a shutdown waits for runs in flight (default 10)",
    "timezone": "default IANA time zone of the tasks (default: the machine's zone)",
    "reload_interval_seconds": "how often to look for changes to the config file "
                               "(default 2; 0: only on SIGHUP)",
}

TOP_LEVEL_FIELDS = ("scheduler", "defaults", "tasks", "$schema")


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """Process settings from the `scheduler` section."""

    max_workers: int = 4
    shutdown_timeout_seconds: float = 10.0
    timezone: tzinfo | None = None
    reload_interval_seconds: float = 2.0


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """The outcome of loading a config file.

    Attributes:
        path: the file, as given.
        settings: the `scheduler` section.
        tasks: every valid task (disabled ones included), in file order.
        problems: every problem with a task; those tasks are not in `tasks`.
        rejected_ids: the ids of the tasks left out because of a problem (a
            reload keeps the running version of such a task).
    """

    path: str
    settings: SchedulerSettings
    tasks: list[Task] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rejected_ids: set[str] = field(default_factory=set)
    # For reloads: each valid task's entry as parsed, and the sections all tasks
    # depend on; an entry equal to last time's gives back last time's Task.
    sources: dict[str, tuple[Any, Task]] = field(default_factory=dict, repr=False,
                                                 compare=False)
    shared: Any = field(default=None, repr=False, compare=False)


def load_config(path: str | os.PathLike[str],
                previous: LoadedConfig | None = None) -> LoadedConfig:
    """Read, parse and validate a config file.

    Args:
        path: a `.json` file, or a `.toml` file on Python 3.11+.
        previous: the last version of this config (a reload): a task entry
            identical to last time's, under identical `scheduler` and
            `defaults` sections, is not validated again.

    Returns:
        The valid tasks and the problems with the others.

    Raises:
        ConfigError: the file cannot be read or parsed, or its top level or
            `scheduler` section is invalid; nothing in it can be used.
    """
    file = str(path)
    document = parse_document(read_text(file), file)
    return build_config(document, file, search_dirs=[str(Path(file).resolve().parent)],
                        previous=previous)


def read_text(file: str) -> str:
    """Return the file's text, or raise a one-problem `ConfigError` saying why not."""
    try:
        return Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        reason = "no such file (give another one with --config PATH)"
    except IsADirectoryError:
        reason = "is a directory, expected a config file"
    except UnicodeDecodeError as error:
        reason = f"not UTF-8 text (byte {error.start})"
    except OSError as error:
        reason = f"cannot read: {error.strerror}"
    raise ConfigError([Problem(file, "", "", reason)])


def parse_document(text: str, file: str) -> Any:
    """Parse JSON, or TOML for a `.toml` file; a syntax error names line and column."""
    if file.endswith(".toml"):
        return _parse_toml(text, file)
    try:
        return json.loads(text, object_pairs_hook=_reject_repeated_keys)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise ConfigError([Problem(file, where, "", f"invalid JSON: {error.msg}")]) from None
    except (ValueError, RecursionError) as error:  # a repeated key, a 5000-digit int, deep nesting
        raise ConfigError([Problem(file, "", "", f"invalid JSON: {error}")]) from None


def _reject_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of two equal keys silently; TOML rejects them, and so do we.
    document = dict(pairs)
    if len(document) < len(pairs):
        keys = [key for key, _ in pairs]
        repeated = next(key for key in keys if keys.count(key) > 1)
        raise ValueError(f"key {json.dumps(repeated)} appears twice in one object")
    return document


def _parse_toml(text: str, file: str) -> Any:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        reason = "TOML configs need Python 3.11 or later (tomllib); use JSON here"
        raise ConfigError([Problem(file, "", "", reason)]) from None
    try:
        return tomllib.loads(text)
    except (ValueError, RecursionError) as error:  # TOMLDecodeError is a ValueError
        raise ConfigError([Problem(file, "", "", f"invalid TOML: {error}")]) from None


def build_config(document: Any, file: str, search_dirs: list[str] | None = None,
                 previous: LoadedConfig | None = None) -> LoadedConfig:
    """Validate a parsed document (an object with `tasks`, or a bare list of tasks).

    Args:
        document: what `parse_document` returned.
        file: the file name used in problems.
        search_dirs: where Python entry points are looked for, before the
            current directory and installed packages.
        previous: see `load_config`.

    Raises:
        ConfigError: the top level, `scheduler` or `defaults` is invalid.
    """
    if isinstance(document, list):
        document = {"tasks": document}
    problems = _check_top_level(document, file)
    if problems:
        raise ConfigError(problems)
    settings, problems = read_settings(document.get("scheduler", {}), file)
    defaults, default_problems = _read_defaults(document.get("defaults", {}), file)
    if problems + default_problems:
        raise ConfigError(problems + default_problems)
    config = LoadedConfig(file, settings, shared=(document.get("scheduler"), defaults))
    reuse = previous.sources if previous and previous.shared == config.shared else {}
    with import_path((search_dirs or []) + [os.getcwd()]):
        _read_tasks(document["tasks"], defaults, config, reuse)
    return config


def _check_top_level(document: Any, file: str) -> list[Problem]:
    if not isinstance(document, dict):
        expected = 'expected an object {"scheduler": ..., "tasks": [...]} or a list of tasks'
        return [Problem(file, "", "", f"{expected}, found {checks.describe(document)}")]
    problems = checks.unknown_keys(document, TOP_LEVEL_FIELDS, file, "")
    if "tasks" not in document:
        problems.append(Problem(file, "", "tasks", "missing: expected a list of tasks"))
    elif not isinstance(document["tasks"], list):
        found = checks.describe(document["tasks"])
        problems.append(Problem(file, "", "tasks", f"expected a list of tasks, found {found}"))
    return problems


def read_settings(section: Any, file: str) -> tuple[SchedulerSettings, list[Problem]]:
    """Read the `scheduler` section; return the settings and any problems."""
    reader = FieldReader(section, file, "scheduler", SCHEDULER_FIELDS)
    if not reader.ok:
        return SchedulerSettings(), reader.problems
    settings = SchedulerSettings(
        max_workers=reader.read("max_workers", checks.integer_at_least(1), 4),
        shutdown_timeout_seconds=reader.read(
            "shutdown_timeout_seconds", checks.number_at_least(0), 10.0),
        timezone=_read_timezone(reader, None),
        reload_interval_seconds=reader.read(
            "reload_interval_seconds", checks.number_at_least(0), 2.0),
    )
    return settings, reader.problems


def _read_defaults(section: Any, file: str) -> tuple[dict[str, Any], list[Problem]]:
    reader = FieldReader(section, file, "defaults", TASK_FIELDS)
    if reader.ok and "task_id" in reader.values:
        reader.problems.append(Problem(file, "defaults", "task_id",
                                       "cannot have a default: every task needs its own id"))
    return reader.values, reader.problems


def _read_tasks(entries: list[Any], defaults: dict[str, Any], config: LoadedConfig,
                reuse: dict[str, tuple[Any, Task]]) -> None:
    first_position: dict[str, int] = {}
    for position, entry in enumerate(entries, start=1):
        task_id = _well_formed_id(entry)
        known = reuse.get(task_id) if task_id is not None else None
        task: Task | None
        problems: list[Problem]
        if known is not None and known[0] == entry:
            task, problems = known[1], []  # unchanged since the last load
        else:
            task, problems = read_task(entry, position, config.path, defaults,
                                       config.settings.timezone)
        # An id is taken by its first entry even if that task is invalid: fixing
        # the first one must not turn up a duplicate the user was not told about.
        if task_id is not None and task_id in first_position:
            where = checks.task_place(position, task_id)
            message = f"duplicate of task #{first_position[task_id]}; this task is skipped"
            field = "task_id" if "task_id" in entry else "name"  # the compact form's id
            problems.append(Problem(config.path, where, field, message))
            task = None
        elif task_id is not None:
            first_position[task_id] = position
        if task is not None:
            config.tasks.append(task)
            config.sources[task.task_id] = (entry, task)
        elif task_id is not None:
            config.rejected_ids.add(task_id)
        config.problems.extend(problems)


def _well_formed_id(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return None
    task_id = entry.get("task_id", entry.get("name"))  # "name": the compact form's id
    return task_id if checks.TASK_ID(task_id) is None else None


def read_task(entry: Any, position: int, file: str, defaults: dict[str, Any] | None = None,
              timezone: tzinfo | None = None) -> tuple[Task | None, list[Problem]]:
    """Validate one task entry (full form, or the compact name/command/schedule form).

    Args:
        entry: the task's object from the config (or built by the API).
        position: its 1-based position, used in problems.
        file: the file name used in problems.
        defaults: values for fields the entry does not set.
        timezone: the zone of a task that sets none (None: the machine's zone).

    Returns:
        The task, or None with the problems that made it invalid.
    """
    if isinstance(entry, dict) and any(key in entry for key in COMPACT_FIELDS):
        return _read_compact_task(entry, position, file, timezone)
    raw_id = entry.get("task_id") if isinstance(entry, dict) else None
    reader = FieldReader(entry, file, checks.task_place(position, raw_id), TASK_FIELDS,
                         defaults or {})
    if not reader.ok:
        return None, reader.problems
    task = _build_task(reader, timezone)
    return (task if not reader.problems else None), reader.problems


def _read_compact_task(entry: dict[str, Any], position: int, file: str,
                       timezone: tzinfo | None) -> tuple[Task | None, list[Problem]]:
    """Read `{"name": ..., "command": ..., "schedule": "<cron>"}`: a shell task."""
    place = checks.task_place(position, entry.get("name", entry.get("task_id")))
    reader = FieldReader(entry, file, place, COMPACT_FIELDS)
    full_keys = [key for key in entry if key in TASK_FIELDS]
    if full_keys:
        reader.problems = [Problem(file, reader.where, "", (
            "mixes the compact form (name, command, schedule) with full task fields "
            f"({', '.join(full_keys)}); use one form"))]
        return None, reader.problems
    task_id = reader.read("name", checks.TASK_ID)
    command = reader.read("command", checks.SHELL_COMMAND)
    expression = reader.read("schedule", checks.STRING)
    schedule = _make_schedule(reader, "schedule", CronSchedule, expression, timezone)
    if reader.problems or schedule is None:
        return None, reader.problems
    entry_point = tuple(command) if isinstance(command, list) else command
    return Task(task_id, TaskType.SHELL, entry_point, schedule, task_name=task_id), []


def _build_task(reader: FieldReader, default_zone: tzinfo | None) -> Task | None:
    task_id = reader.read("task_id", checks.TASK_ID)
    task_type = reader.read("task_type", checks.TASK_TYPE)
    entry_point, target = _read_entry_point(reader, task_type)
    schedule = _read_schedule(reader, _read_timezone(reader, default_zone))
    return Task(
        task_id=task_id or "", task_type=TaskType(task_type or "shell"),
        entry_point=entry_point or "", schedule=schedule or IntervalSchedule(1),
        task_name=reader.read("task_name", checks.STRING, task_id or ""),
        description=reader.read("description", checks.STRING, ""),
        enabled=reader.read("enabled", checks.BOOLEAN, True),
        run_on_start=reader.read("run_on_start", checks.BOOLEAN, False),
        timeout_seconds=reader.read("timeout_seconds", checks.POSITIVE_OR_NULL, None),
        jitter_seconds=reader.read("jitter_seconds", checks.NON_NEGATIVE, 0.0),
        target=target,
        **_read_arguments(reader, task_type),
        **_read_policies(reader),
        **_read_environment(reader, task_type),
    )


def _read_entry_point(reader: FieldReader, task_type: str | None) -> tuple[Any, Any]:
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


def _read_arguments(reader: FieldReader, task_type: str | None) -> dict[str, Any]:
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


def _read_policies(reader: FieldReader) -> dict[str, Any]:
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


def _read_environment(reader: FieldReader, task_type: str | None) -> dict[str, Any]:
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


def _read_schedule(reader: FieldReader, zone: tzinfo | None) -> Schedule | None:
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
        return _make_schedule(reader, "align", IntervalSchedule, seconds, align, zone)
    maker = CronSchedule if kind == "cron" else OneShotSchedule
    return _make_schedule(reader, kind, maker, reader.read(kind, checks.STRING), zone)


def _make_schedule(reader: FieldReader, field: str, maker: Callable[..., Schedule],
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


def _read_timezone(reader: FieldReader, default: tzinfo | None) -> tzinfo | None:
    name = reader.read("timezone", checks.STRING, None)
    if name is None:
        return default
    try:
        return resolve_timezone(name)
    except ScheduleError as error:
        reader.problem("timezone", str(error).removeprefix("timezone: "))
        return default
