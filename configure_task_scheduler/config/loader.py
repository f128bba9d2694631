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
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Problem
from ..schedules import CronSchedule, IntervalSchedule
from ..task import Task, TaskType
from . import checks
from .checks import FieldReader
from .entry_points import import_path
from .fields import (
    SCHEDULE_FIELDS,  # noqa: F401 (part of the loader's field lists)
    make_schedule,
    read_arguments,
    read_entry_point,
    read_environment,
    read_policies,
    read_schedule,
    read_timezone,
)

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
    "http": 'serve the status page, JSON API and metrics on "[HOST:]PORT" '
            "(default: off; HOST defaults to 127.0.0.1, PORT 0 picks a free port)",
}

TOP_LEVEL_FIELDS = ("scheduler", "defaults", "tasks", "$schema")


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """Process settings from the `scheduler` section."""

    max_workers: int = 4
    shutdown_timeout_seconds: float = 10.0
    timezone: tzinfo | None = None
    reload_interval_seconds: float = 2.0
    http: str | None = None  # "[HOST:]PORT" of the HTTP add-on (see parse_http_address), None: off


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
        timezone=read_timezone(reader, None),
        reload_interval_seconds=reader.read(
            "reload_interval_seconds", checks.number_at_least(0), 2.0),
        http=reader.read("http", checks.HTTP_ADDRESS, None),
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
    schedule = make_schedule(reader, "schedule", CronSchedule, expression, timezone)
    if reader.problems or schedule is None:
        return None, reader.problems
    entry_point = tuple(command) if isinstance(command, list) else command
    return Task(task_id, TaskType.SHELL, entry_point, schedule, task_name=task_id), []


def _build_task(reader: FieldReader, default_zone: tzinfo | None) -> Task | None:
    task_id = reader.read("task_id", checks.TASK_ID)
    task_type = reader.read("task_type", checks.TASK_TYPE)
    entry_point, target = read_entry_point(reader, task_type)
    schedule = read_schedule(reader, read_timezone(reader, default_zone))
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
        **read_arguments(reader, task_type),
        **read_policies(reader),
        **read_environment(reader, task_type),
    )
