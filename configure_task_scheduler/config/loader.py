"""The config loader: a JSON (or TOML) file in, validated `Task`s and problems out.

It parses the file, applies `defaults`, checks every field of every task,
rejects duplicate ids and imports Python entry points, collecting every
problem instead of stopping at the first. A file that cannot be used at all
(unreadable, not JSON, a bad `scheduler` section) raises `ConfigError`, with
the problems of its tasks too, in file order; a bad task only becomes a
`Problem` and is left out, so the valid tasks still run.
It never coerces a value: "10" is not a number and "false" is not a boolean.
Broken notifications between tasks (`on_failure`, `on_success`: an unknown
or disabled task, a cycle) make the file unusable too: skipping either task
would silently drop the runs or the alerts the user asked for.
"""

from __future__ import annotations

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
from .environment import read_environment
from .fields import (
    SCHEDULE_FIELDS,
    make_schedule,
    read_arguments,
    read_entry_point,
    read_policies,
    read_present,
    read_schedule,
    read_stderr_level,
    read_timezone,
)
from .notifications import notification_problems
from .reference import (  # noqa: F401 (SCHEDULER_FIELDS: part of the loader's field lists)
    SCHEDULER_FIELDS,
    TASK_FIELDS,
    SchedulerSettings,
    scheduler_default,
)
from .source import parse_document, read_text

COMPACT_FIELDS = ("name", "command", "schedule")
_COMPACT_KEYS = frozenset(COMPACT_FIELDS)
TOP_LEVEL_FIELDS = ("scheduler", "defaults", "tasks", "$schema")


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
    common_sections: Any = field(default=None, repr=False, compare=False)


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
        ConfigError: the file cannot be read or parsed, its top level or
            `scheduler` section is invalid, or a notification between its tasks
            is broken (see `notifications`); nothing in it can be used.
    """
    file = str(path)
    document = parse_document(read_text(file), file)
    return build_config(document, file, search_dirs=[str(Path(file).resolve().parent)],
                        previous=previous)


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
        ConfigError: the top level, `scheduler` or `defaults` is invalid, or a
            task's `on_failure`/`on_success` names a task it cannot; it holds
            every problem of the file, those of the tasks too, in file order.
    """
    if isinstance(document, list):
        document = {"tasks": document}
    if not isinstance(document, dict):
        expected = 'expected an object {"scheduler": ..., "tasks": [...]} or a list of tasks'
        raise ConfigError([Problem(file, "", "", f"{expected}, found {checks.describe_value(document)}")])
    settings, scheduler_problems = read_settings(document.get("scheduler", {}), file)
    defaults, default_problems = _read_defaults(document.get("defaults", {}), file)
    config = LoadedConfig(file, settings,
                          common_sections=(document.get("scheduler"), defaults))
    file_problems = _file_problems(document, file, scheduler_problems, default_problems)
    unusable = any(file_problems.values())
    if isinstance(document.get("tasks"), list):
        # Read even when the file is unusable, so that one pass reports everything.
        same = (previous is not None and not unusable
                and previous.common_sections == config.common_sections)
        reuse = previous.sources if previous is not None and same else {}
        with import_path((search_dirs or []) + [os.getcwd()]):
            positions, problem_positions = _read_tasks(document["tasks"], defaults, config,
                                                       reuse)
        unusable = _check_notifications(config, positions, problem_positions) or unusable
    if unusable:
        raise ConfigError(_in_file_order(document, file_problems, config.problems))
    return config


def _file_problems(document: dict[str, Any], file: str, scheduler_problems: list[Problem],
                   default_problems: list[Problem]) -> dict[str, list[Problem]]:
    """The problems outside the tasks, by the top-level key they belong to."""
    problems = {key: checks.unknown_keys({key: None}, TOP_LEVEL_FIELDS, file, "")
                for key in document}
    problems["scheduler"] = scheduler_problems
    problems["defaults"] = default_problems
    if "tasks" not in document:
        problems["tasks"] = [Problem(file, "", "tasks", "missing: expected a list of tasks")]
    elif not isinstance(document["tasks"], list):
        found = checks.describe_value(document["tasks"])
        problems["tasks"] = [Problem(file, "", "tasks", f"expected a list of tasks, found {found}")]
    return problems


def _in_file_order(document: dict[str, Any], file_problems: dict[str, list[Problem]],
                   task_problems: list[Problem]) -> list[Problem]:
    """Every problem, ordered as the keys they concern appear in the file."""
    ordered: list[Problem] = []
    for key in [*document, *(key for key in file_problems if key not in document)]:
        ordered += file_problems.get(key, [])
        if key == "tasks":
            ordered += task_problems
    return ordered


def read_settings(section: Any, file: str) -> tuple[SchedulerSettings, list[Problem]]:
    """Read the `scheduler` section; return the settings and any problems."""
    reader = FieldReader(section, file, "scheduler", SCHEDULER_FIELDS)
    if not reader.ok:
        return SchedulerSettings(), reader.problems
    settings = SchedulerSettings(
        max_workers=reader.read("max_workers", checks.MAX_WORKERS,
                                scheduler_default("max_workers")),
        shutdown_timeout_seconds=reader.read(
            "shutdown_timeout_seconds", checks.SECONDS,
            scheduler_default("shutdown_timeout_seconds")),
        timezone=read_timezone(reader, None),
        reload_interval_seconds=reader.read(
            "reload_interval_seconds", checks.SECONDS,
            scheduler_default("reload_interval_seconds")),
        state_path=read_state_path(reader),
        history_days=reader.read("history_days", checks.HISTORY_DAYS,
                                 scheduler_default("history_days")),
        history_max_rows=reader.read("history_max_rows", checks.HISTORY_MAX_ROWS,
                                     scheduler_default("history_max_rows")),
        http=reader.read("http", checks.HTTP_ADDRESS, scheduler_default("http")),
    )
    return settings, reader.problems


def read_state_path(reader: FieldReader) -> str | None:
    """`state_path`, made relative to the config file's directory; checked, never created."""
    value = reader.read("state_path", checks.NON_EMPTY_STRING, None)
    if value is None:
        return None
    path = Path(value) if not reader.file else Path(reader.file).parent / value
    reason = unusable_state_path(path)
    if reason:
        reader.problem("state_path", reason)
        return None
    return str(path)


def unusable_state_path(path: Path) -> str:
    """Say why a history database cannot live at `path`, or return "" (nothing is created)."""
    if path.is_dir():
        return f"expected a file path, found a directory: {path}"
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"expected a path in a directory, but {ancestor} is a file"
    if ancestor != path.parent and not os.access(ancestor, os.W_OK | os.X_OK):
        return f"cannot create the directory {path.parent}: {ancestor} is not writable"
    return ""


def _read_defaults(section: Any, file: str) -> tuple[dict[str, Any], list[Problem]]:
    reader = FieldReader(section, file, "defaults", TASK_FIELDS)
    if reader.ok and "task_id" in reader.values:
        reader.problems.append(Problem(file, "defaults", "task_id",
                                       "cannot have a default: every task needs its own id"))
    values = {key: value for key, value in reader.values.items() if key != "task_id"}
    # Checked here as well as on each task, so that the schema can say the same.
    schedules = [name for name in SCHEDULE_FIELDS if name in values]
    if len(schedules) > 1:
        reader.problem("", f"expected at most one schedule ({', '.join(SCHEDULE_FIELDS)}), "
                           f"found {', '.join(schedules)}")
    elif "align" in values and schedules not in ([], ["interval_seconds"]):
        reader.problem("align", "only an interval_seconds schedule can be aligned")
    return values, reader.problems


def _read_tasks(entries: list[Any], defaults: dict[str, Any], config: LoadedConfig,
                reuse: dict[str, tuple[Any, Task]]) -> tuple[dict[str, int], list[int]]:
    """Read every task entry into `config`.

    Returns:
        The position of each task id's first entry, and of each problem.
    """
    first_position: dict[str, int] = {}
    problem_positions: list[int] = []
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
        problem_positions += [position] * len(problems)
    return first_position, problem_positions


def _check_notifications(config: LoadedConfig, positions: dict[str, int],
                         problem_positions: list[int]) -> bool:
    """Add the problems of the tasks' notifications, in file order; True if there are any."""
    found = notification_problems(config.tasks, config.path, positions, config.rejected_ids)
    if not found:
        return False
    placed = list(zip(problem_positions, config.problems))
    placed += [(positions[task_id], problem) for task_id, problems in found.items()
               for problem in problems]
    placed.sort(key=lambda pair: pair[0])  # stable: a task's own problems come first
    config.problems[:] = [problem for _, problem in placed]
    return True


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
        defaults: values for fields the entry does not set (`env` is merged:
            the entry's variables over the defaults', the entry winning per name).
        timezone: the zone of a task that sets none (None: the machine's zone).

    Returns:
        The task, or None with the problems that made it invalid.
    """
    defaults = defaults or {}
    if isinstance(entry, dict) and not _COMPACT_KEYS.isdisjoint(entry):
        return _read_compact_task(entry, position, file, defaults, timezone)
    raw_id = entry.get("task_id") if isinstance(entry, dict) else None
    if isinstance(entry, dict):
        entry = _merge_env(entry, defaults)
    reader = FieldReader(entry, file, checks.task_place(position, raw_id), TASK_FIELDS, defaults)
    if not reader.ok:
        return None, reader.problems
    task = _build_task(reader, timezone)
    return (task if not reader.problems else None), reader.problems


def _merge_env(entry: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Like cron and systemd: the task's variables are added to the defaults'."""
    default_env, own_env = defaults.get("env"), entry.get("env")
    if isinstance(default_env, dict) and isinstance(own_env, dict):
        return {**entry, "env": {**default_env, **own_env}}
    return entry


# What the compact form sets itself; every other field may come from defaults.
_COMPACT_OWN = {"task_id", "task_type", "entry_point", "align", *SCHEDULE_FIELDS}


def _read_compact_task(entry: dict[str, Any], position: int, file: str,
                       defaults: dict[str, Any],
                       timezone: tzinfo | None) -> tuple[Task | None, list[Problem]]:
    """Read `{"name": ..., "command": ..., "schedule": "<cron>"}`: a shell task,
    with `defaults` for everything else (timeout_seconds, env, retries, ...)."""
    place = checks.task_place(position, entry.get("name", entry.get("task_id")))
    reader = FieldReader(entry, file, place, COMPACT_FIELDS)
    full_keys = [key for key in entry if key in TASK_FIELDS]
    if full_keys:
        reader.problems = [Problem(file, reader.where, "", (
            "mixes the compact form (name, command, schedule) with full task fields "
            f"({', '.join(full_keys)}); use one form"))]
        return None, reader.problems
    inherited = {key: value for key, value in defaults.items() if key not in _COMPACT_OWN}
    rest = FieldReader({}, file, place, TASK_FIELDS, inherited)
    task_id = reader.read("name", checks.TASK_ID)
    command = reader.read("command", checks.SHELL_COMMAND)
    expression = reader.read("schedule", checks.STRING)
    zone = read_timezone(rest, timezone)
    schedule = make_schedule(reader, "schedule", CronSchedule, expression, zone)
    entry_point = tuple(command) if isinstance(command, list) else command
    fields = _common_fields(rest, "shell", command, None)
    problems = reader.problems + rest.problems
    if problems or schedule is None:
        return None, problems
    return Task(task_id, TaskType.SHELL, entry_point, schedule, task_name=task_id,
                **fields), []


_TASK_TYPES = {kind.value: kind for kind in TaskType}  # a dict lookup: TaskType() is slower


def _build_task(reader: FieldReader, default_zone: tzinfo | None) -> Task | None:
    task_id = reader.read("task_id", checks.TASK_ID)
    task_type = reader.read("task_type", checks.TASK_TYPE)
    entry_point, target = read_entry_point(reader, task_type)
    schedule = read_schedule(reader, read_timezone(reader, default_zone))
    return Task(
        task_id=task_id or "", task_type=_TASK_TYPES[task_type or "shell"],
        entry_point=entry_point or "", schedule=schedule or IntervalSchedule(1),
        task_name=reader.read("task_name", checks.STRING, task_id or ""),
        target=target,
        **_common_fields(reader, task_type, entry_point, target),
    )


# Fields read alike by every task form, whose default is `Task`'s own; in the
# order their problems are reported (the arguments, policies, environment and
# stderr_level come between jitter_seconds and catch_up).
_FIRST_COMMON_FIELDS: tuple[tuple[str, checks.Check], ...] = (
    ("description", checks.STRING), ("enabled", checks.BOOLEAN),
    ("run_on_start", checks.BOOLEAN), ("timeout_seconds", checks.POSITIVE_SECONDS_OR_NULL),
    ("jitter_seconds", checks.SECONDS))
_LAST_COMMON_FIELDS: tuple[tuple[str, checks.Check], ...] = (
    ("catch_up", checks.BOOLEAN), ("on_failure", checks.TASK_ID_OR_NULL),
    ("on_success", checks.TASK_ID_OR_NULL))


def _common_fields(reader: FieldReader, task_type: str | None, entry_point: Any,
                   target: Any) -> dict[str, Any]:
    """The fields every task form reads the same way (the compact form from defaults).

    A field the object does not set is left out, so `Task` gives it its default
    (`TASK_DEFAULTS`): only the fields present are checked, in a fixed order.
    """
    return {
        **read_present(reader, _FIRST_COMMON_FIELDS),
        **read_arguments(reader, task_type, str(entry_point), target),
        **read_policies(reader),
        **read_environment(reader, task_type, entry_point),
        **read_stderr_level(reader),
        **read_present(reader, _LAST_COMMON_FIELDS),
    }
