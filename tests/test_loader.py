"""Tests for the config loader: every validation rule, pinned by its whole message.

Each problem is one line, `<file>: <place>: <field>: <what was expected and found>`,
so the tests compare whole strings, built from the path the test wrote. A bad
task becomes a problem and is skipped; a file that cannot be used at all raises
`ConfigError`. Python entry points are written as small modules in `tmp_path`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from configure_task_scheduler import examples
from configure_task_scheduler.config import fields, loader
from configure_task_scheduler.config.loader import (
    LoadedConfig,
    SchedulerSettings,
    load_config,
)
from configure_task_scheduler.errors import ConfigError
from configure_task_scheduler.schedules import IntervalSchedule, OneShotSchedule
from configure_task_scheduler.schedules.cron import CronSchedule
from configure_task_scheduler.task import Task, TaskType

WriteConfig = Callable[..., Path]

ID_RULE = 'a string of 1-64 letters, digits, "_", "-" or "."'
SHELL_RULE = "a command string or a non-empty list of strings"
PYTHON_RULE = '"package.module:function" or "package.module.function"'
TASK_KEYS = ("task_id, task_name, description, enabled, task_type, entry_point, args, kwargs, "
             "interval_seconds, align, cron, at, timezone, jitter_seconds, run_on_start, "
             "timeout_seconds, max_instances, retries, retry_delay_seconds, retry_backoff, "
             "retry_max_delay_seconds, misfire_grace_seconds, env, inherit_environment, "
             "shell, cwd, stderr_level, catch_up, on_failure, on_success")
HELLO = "configure_task_scheduler.examples:say_hello"
DROP = object()  # a field value meaning "leave this field out of the task"


def shell_entry(**fields: Any) -> dict[str, Any]:
    """A valid shell task entry "backup", with `fields` replaced (or dropped with DROP)."""
    entry = {"task_id": "backup", "task_type": "shell", "entry_point": "true",
             "interval_seconds": 10}
    entry.update(fields)
    return {key: value for key, value in entry.items() if value is not DROP}


def python_entry(**fields: Any) -> dict[str, Any]:
    """A valid python task entry "backup" calling an installed function."""
    return shell_entry(**{"task_type": "python", "entry_point": HELLO, **fields})


def problem_lines(config: LoadedConfig) -> list[str]:
    return [str(problem) for problem in config.problems]


def task_ids(config: LoadedConfig) -> list[str]:
    return [task.task_id for task in config.tasks]


def config_error_lines(path: Path) -> list[str]:
    """Load `path`, expecting a ConfigError; return its problems as lines."""
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == "\n".join(str(problem) for problem in caught.value.problems)
    return [str(problem) for problem in caught.value.problems]


@pytest.fixture
def write_module(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Write a Python module into a directory; forget it from sys.modules afterwards."""
    names: list[str] = []

    def write(name: str, source: str, directory: Path = tmp_path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{name}.py").write_text(source)
        names.append(name)
        return directory

    yield write
    for name in names:
        sys.modules.pop(name, None)


# --- The whole file: shape, settings, defaults ------------------------------------------------


def test_object_with_scheduler_defaults_and_tasks_loads_every_field(
        write_config: WriteConfig) -> None:
    path = write_config({
        "scheduler": {"max_workers": 2, "shutdown_timeout_seconds": 2.5},
        "defaults": {"timeout_seconds": 30},
        "tasks": [
            {"task_id": "hello", "task_name": "Hello", "description": "greets",
             "task_type": "python", "entry_point": HELLO, "args": ["you"], "kwargs": {},
             "interval_seconds": 2, "run_on_start": True},
            {"task_id": "disk", "enabled": False, "task_type": "shell",
             "entry_point": ["df", "-h"], "interval_seconds": 0.5, "timeout_seconds": None},
        ],
    })

    config = load_config(path)

    assert config.path == str(path)
    assert config.settings == SchedulerSettings(max_workers=2, shutdown_timeout_seconds=2.5)
    assert config.problems == []
    assert config.tasks == [
        Task(task_id="hello", task_type=TaskType.PYTHON, entry_point=HELLO,
             schedule=IntervalSchedule(2), task_name="Hello", description="greets",
             run_on_start=True, timeout_seconds=30, args=("you",), kwargs={}),
        Task(task_id="disk", task_type=TaskType.SHELL, entry_point=("df", "-h"),
             schedule=IntervalSchedule(0.5), task_name="disk", enabled=False),
    ]
    assert config.tasks[0].target is examples.say_hello
    assert config.tasks[1].target is None


def test_bare_list_of_tasks_loads_with_default_settings(write_config: WriteConfig) -> None:
    config = load_config(write_config([shell_entry()]))

    assert config.settings == SchedulerSettings(max_workers=4, shutdown_timeout_seconds=10)
    assert task_ids(config) == ["backup"]
    assert config.problems == []


def test_task_fields_left_out_take_their_documented_defaults(write_config: WriteConfig) -> None:
    config = load_config(write_config([shell_entry()]))

    assert config.tasks == [Task(task_id="backup", task_type=TaskType.SHELL, entry_point="true",
                                 schedule=IntervalSchedule(10), task_name="backup",
                                 description="", enabled=True, run_on_start=False,
                                 timeout_seconds=None, args=(), kwargs={})]


def test_shell_command_string_is_kept_as_one_string_and_list_becomes_a_tuple(
        write_config: WriteConfig) -> None:
    config = load_config(write_config([
        shell_entry(task_id="piped", entry_point="df -h . | tail -n 1"),
        shell_entry(task_id="direct", entry_point=["echo", "a b"]),
    ]))

    assert [task.entry_point for task in config.tasks] == ["df -h . | tail -n 1", ("echo", "a b")]


def test_empty_task_list_loads_no_tasks_and_no_problems(write_config: WriteConfig) -> None:
    config = load_config(write_config({"tasks": []}))

    assert (config.tasks, config.problems) == ([], [])


def test_file_is_named_as_given_in_messages(write_config: WriteConfig, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    write_config([shell_entry(interval_seconds=0)])
    monkeypatch.chdir(tmp_path)

    config = load_config("tasks.json")

    assert problem_lines(config) == [
        'tasks.json: task #1 "backup": interval_seconds: expected a number > 0 and <= 315360000 '
        '(10 years), found 0']


def test_dollar_schema_key_is_accepted_at_top_level(write_config: WriteConfig) -> None:
    config = load_config(write_config({"$schema": "./schema.json", "tasks": [shell_entry()]}))

    assert task_ids(config) == ["backup"]
    assert config.problems == []


def test_keys_starting_with_underscore_are_comments_everywhere(
        write_config: WriteConfig) -> None:
    config = load_config(write_config({
        "_comment": "top",
        "scheduler": {"_why": "small box", "max_workers": 1},
        "defaults": {"_note": "all shell", "task_type": "shell"},
        "tasks": [{"_todo": ["anything", 1], "_": None, **shell_entry()}],
    }))

    assert config.settings.max_workers == 1
    assert task_ids(config) == ["backup"]
    assert config.problems == []


def test_unknown_top_level_key_raises_with_closest_known_key(write_config: WriteConfig) -> None:
    path = write_config({"schedular": {}, "tasks": []})

    assert config_error_lines(path) == [
        f'{path}: "schedular": unknown key, did you mean "scheduler"?']


def test_unknown_top_level_key_without_close_match_lists_the_known_keys(
        write_config: WriteConfig) -> None:
    path = write_config({"jobs": [], "tasks": []})

    assert config_error_lines(path) == [
        f'{path}: "jobs": unknown key, known keys: scheduler, defaults, tasks, $schema']


def test_missing_tasks_key_raises(write_config: WriteConfig) -> None:
    path = write_config({"scheduler": {"max_workers": 2}})

    assert config_error_lines(path) == [f"{path}: tasks: missing: expected a list of tasks"]


@pytest.mark.parametrize("tasks, found", [
    ({"task_id": "backup"}, '{"task_id": "backup"} (an object)'),
    ("backup", '"backup" (a string)'),
    (None, "null"),
], ids=["object", "string", "null"])
def test_tasks_that_is_not_a_list_raises(write_config: WriteConfig, tasks: Any,
                                         found: str) -> None:
    path = write_config({"tasks": tasks})

    assert config_error_lines(path) == [f"{path}: tasks: expected a list of tasks, found {found}"]


@pytest.mark.parametrize("document, found", [
    ("backup", '"backup" (a string)'),
    (3, "3"),
    (None, "null"),
], ids=["string", "number", "null"])
def test_top_level_that_is_neither_object_nor_list_raises(write_config: WriteConfig,
                                                          document: Any, found: str) -> None:
    path = write_config(json.dumps(document))

    assert config_error_lines(path) == [
        f'{path}: expected an object {{"scheduler": ..., "tasks": [...]}} or a list of tasks, '
        f"found {found}"]


def test_top_level_problems_are_all_reported_together(write_config: WriteConfig) -> None:
    path = write_config({"schedular": {}, "taks": []})

    assert config_error_lines(path) == [
        f'{path}: "schedular": unknown key, did you mean "scheduler"?',
        f'{path}: "taks": unknown key, did you mean "tasks"?',
        f"{path}: tasks: missing: expected a list of tasks",
    ]


# --- The scheduler section -------------------------------------------------------------------


@pytest.mark.parametrize("scheduler, expected", [
    ({"max_workers": 1}, SchedulerSettings(1, 10)),
    ({"max_workers": 64}, SchedulerSettings(64, 10)),
    ({"shutdown_timeout_seconds": 0}, SchedulerSettings(4, 0)),
    ({"shutdown_timeout_seconds": 0.25}, SchedulerSettings(4, 0.25)),
    ({"reload_interval_seconds": 0}, SchedulerSettings(4, 10, reload_interval_seconds=0)),
    ({"reload_interval_seconds": 0.5}, SchedulerSettings(4, 10, reload_interval_seconds=0.5)),
    ({}, SchedulerSettings(4, 10, reload_interval_seconds=2)),
    ({"http": "8080"}, SchedulerSettings(http="8080")),
    ({"http": "0"}, SchedulerSettings(http="0")),
    ({"http": "0.0.0.0:65535"}, SchedulerSettings(http="0.0.0.0:65535")),
    ({"http": "[::1]:1024"}, SchedulerSettings(http="[::1]:1024")),
], ids=["one-worker", "many-workers", "zero-shutdown", "fractional-shutdown", "no-polling",
        "fractional-polling", "empty", "http-port", "http-any-port", "http-host",
        "http-ipv6"])
def test_scheduler_settings_accept_their_ranges(write_config: WriteConfig,
                                                scheduler: dict[str, Any],
                                                expected: SchedulerSettings) -> None:
    config = load_config(write_config({"scheduler": scheduler, "tasks": []}))

    assert config.settings == expected


@pytest.mark.parametrize("scheduler, message", [
    ({"max_workers": 0}, "max_workers: expected an integer from 1 to 1000, found 0"),
    ({"max_workers": -2}, "max_workers: expected an integer from 1 to 1000, found -2"),
    ({"max_workers": 2.0}, "max_workers: expected an integer from 1 to 1000, found 2.0"),
    ({"max_workers": "4"}, 'max_workers: expected an integer from 1 to 1000, found "4" (a string)'),
    ({"max_workers": True}, "max_workers: expected an integer from 1 to 1000, found true (a "
                            "boolean)"),
    ({"max_workers": None}, "max_workers: expected an integer from 1 to 1000, found null"),
    ({"shutdown_timeout_seconds": -1},
     "shutdown_timeout_seconds: expected a number from 0 to 315360000 (10 years), found -1"),
    ({"shutdown_timeout_seconds": "10"},
     'shutdown_timeout_seconds: expected a number from 0 to 315360000 (10 years), found "10" (a '
     'string)'),
    ({"shutdown_timeout_seconds": False},
     "shutdown_timeout_seconds: expected a number from 0 to 315360000 (10 years), found false (a "
     "boolean)"),
    ({"shutdown_timeout_seconds": float("inf")},
     "shutdown_timeout_seconds: expected a number from 0 to 315360000 (10 years), found Infinity"),
    ({"shutdown_timeout_seconds": float("nan")},
     "shutdown_timeout_seconds: expected a number from 0 to 315360000 (10 years), found NaN"),
    ({"max_worker": 2}, '"max_worker": unknown key, did you mean "max_workers"?'),
    ({"workers": 2}, '"workers": unknown key, did you mean "max_workers"?'),
    ({"reload_interval_seconds": -1},
     "reload_interval_seconds: expected a number from 0 to 315360000 (10 years), found -1"),
    ({"reload_interval_seconds": "2"},
     'reload_interval_seconds: expected a number from 0 to 315360000 (10 years), found "2" (a '
     'string)'),
    ({"threads": 2},
     '"threads": unknown key, known keys: max_workers, shutdown_timeout_seconds, timezone, '
     "reload_interval_seconds, state_path, history_days, history_max_rows, http"),
    ({"http": 8080}, 'http: expected "[HOST:]PORT" with PORT 0 (any free port) or '
                     "1024-65535, found 8080"),
    ({"http": "80"}, 'http: expected "[HOST:]PORT" with PORT 0 (any free port) or '
                     '1024-65535, found "80" (a string)'),
    ({"http": "localhost:"}, 'http: expected "[HOST:]PORT" with PORT 0 (any free port) or '
                             '1024-65535, found "localhost:" (a string)'),
    ({"http": "host:70000"}, 'http: expected "[HOST:]PORT" with PORT 0 (any free port) or '
                             '1024-65535, found "host:70000" (a string)'),
], ids=["workers-zero", "workers-negative", "workers-float", "workers-string",
        "workers-boolean", "workers-null", "shutdown-negative", "shutdown-string",
        "shutdown-boolean", "shutdown-infinite", "shutdown-nan", "reload-negative",
        "reload-string", "typo", "partial-name", "no-close-key", "http-number",
        "http-privileged", "http-no-port", "http-port-too-big"])
def test_bad_scheduler_setting_raises(write_config: WriteConfig, scheduler: dict[str, Any],
                                      message: str) -> None:
    path = write_config({"scheduler": scheduler, "tasks": [shell_entry()]})

    assert config_error_lines(path) == [f"{path}: scheduler: {message}"]


@pytest.mark.parametrize("section", ["scheduler", "defaults"])
def test_section_that_is_not_an_object_raises(write_config: WriteConfig, section: str) -> None:
    path = write_config({section: [4], "tasks": []})

    assert config_error_lines(path) == [
        f"{path}: {section}: expected an object, found [4] (a list)"]


def test_problems_in_scheduler_and_defaults_are_reported_together(
        write_config: WriteConfig) -> None:
    path = write_config({"scheduler": {"max_workers": 0, "shutdown_timeout_seconds": -1},
                         "defaults": {"intervall_seconds": 5}, "tasks": []})

    assert config_error_lines(path) == [
        f"{path}: scheduler: max_workers: expected an integer from 1 to 1000, found 0",
        f"{path}: scheduler: shutdown_timeout_seconds: expected a number from 0 to 315360000 (10 "
        f"years), found -1",
        f'{path}: defaults: "intervall_seconds": unknown key, did you mean "interval_seconds"?',
    ]


# --- Defaults --------------------------------------------------------------------------------


def test_values_set_in_defaults_apply_to_every_task(write_config: WriteConfig) -> None:
    config = load_config(write_config({
        "defaults": {"task_type": "shell", "interval_seconds": 60, "timeout_seconds": 30,
                     "run_on_start": True, "enabled": False, "description": "nightly"},
        "tasks": [{"task_id": "a", "entry_point": "true"},
                  {"task_id": "b", "entry_point": ["echo", "b"]}],
    }))

    assert config.problems == []
    assert [(task.task_id, task.task_type, task.schedule, task.timeout_seconds,
             task.run_on_start, task.enabled, task.description) for task in config.tasks] == [
        ("a", TaskType.SHELL, IntervalSchedule(60), 30, True, False, "nightly"),
        ("b", TaskType.SHELL, IntervalSchedule(60), 30, True, False, "nightly"),
    ]


def test_value_in_a_task_overrides_its_default(write_config: WriteConfig) -> None:
    config = load_config(write_config({
        "defaults": {"timeout_seconds": 30, "interval_seconds": 60},
        "tasks": [shell_entry(timeout_seconds=None, interval_seconds=5)],
    }))

    assert (config.tasks[0].timeout_seconds, config.tasks[0].schedule) == (
        None, IntervalSchedule(5))


def test_bad_value_from_defaults_says_set_in_defaults(write_config: WriteConfig) -> None:
    path = write_config({
        "defaults": {"interval_seconds": "10", "enabled": "false"},
        "tasks": [shell_entry(task_id="a", interval_seconds=DROP),
                  shell_entry(task_id="b", interval_seconds=DROP, enabled=True)],
    })

    config = load_config(path)

    assert problem_lines(config) == [
        f'{path}: task #1 "a": interval_seconds: expected a number > 0 and <= 315360000 (10 '
        f'years), found "10" (a string)'
        " (set in defaults)",
        f'{path}: task #1 "a": enabled: expected true or false, found "false" (a string)'
        " (set in defaults)",
        f'{path}: task #2 "b": interval_seconds: expected a number > 0 and <= 315360000 (10 '
        f'years), found "10" (a string)'
        " (set in defaults)",
    ]
    assert config.tasks == []


def test_task_that_overrides_a_bad_default_still_loads(write_config: WriteConfig) -> None:
    path = write_config({"defaults": {"timeout_seconds": 0},
                         "tasks": [shell_entry(task_id="a", timeout_seconds=5),
                                   shell_entry(task_id="b")]})

    config = load_config(path)

    assert task_ids(config) == ["a"]
    assert problem_lines(config) == [
        f'{path}: task #2 "b": timeout_seconds: expected a number > 0 and <= 315360000 (10 years), '
        f'or null, found 0'
        " (set in defaults)"]


def test_args_from_defaults_on_a_shell_task_says_set_in_defaults(
        write_config: WriteConfig) -> None:
    path = write_config({"defaults": {"args": [1]}, "tasks": [shell_entry()]})

    assert problem_lines(load_config(path)) == [
        f'{path}: task #1 "backup": args: only python tasks take args; this is a shell task'
        " (set in defaults)"]


def test_task_id_cannot_have_a_default(write_config: WriteConfig) -> None:
    path = write_config({"defaults": {"task_id": "same"}, "tasks": []})

    assert config_error_lines(path) == [
        f"{path}: defaults: task_id: cannot have a default: every task needs its own id"]


def test_unknown_key_in_defaults_raises_with_closest_known_key(
        write_config: WriteConfig) -> None:
    path = write_config({"defaults": {"timeout": 5}, "tasks": []})

    assert config_error_lines(path) == [
        f'{path}: defaults: "timeout": unknown key, did you mean "timeout_seconds"?']


# --- One task: every field rule ----------------------------------------------------------------


LONG_ID = "a" * 65
INVALID_TASK_CASES = [
    # task_id
    (shell_entry(task_id=DROP), f"task #1: task_id: missing: expected {ID_RULE}"),
    (shell_entry(task_id=7), f"task #1: task_id: expected {ID_RULE}, found 7"),
    (shell_entry(task_id=None), f"task #1: task_id: expected {ID_RULE}, found null"),
    (shell_entry(task_id=""), f'task #1: task_id: expected {ID_RULE}, found "" (a string)'),
    (shell_entry(task_id="back up"),
     f'task #1 "back up": task_id: expected {ID_RULE}, found "back up" (a string)'),
    (shell_entry(task_id="a/b"),
     f'task #1 "a/b": task_id: expected {ID_RULE}, found "a/b" (a string)'),
    (shell_entry(task_id="caf\u00e9"),
     f'task #1 "caf\\u00e9": task_id: expected {ID_RULE}, found "caf\\u00e9" (a string)'),
    (shell_entry(task_id=LONG_ID),
     f'task #1 "{LONG_ID}": task_id: expected {ID_RULE}, found "{"a" * 36}... (a string)'),
    # task_name, description
    (shell_entry(task_name=5), 'task #1 "backup": task_name: expected a string, found 5'),
    (shell_entry(description=["x"]),
     'task #1 "backup": description: expected a string, found ["x"] (a list)'),
    # enabled
    (shell_entry(enabled="false"),
     'task #1 "backup": enabled: expected true or false, found "false" (a string)'),
    (shell_entry(enabled=0), 'task #1 "backup": enabled: expected true or false, found 0'),
    (shell_entry(enabled=None), 'task #1 "backup": enabled: expected true or false, found null'),
    # task_type
    (shell_entry(task_type=DROP),
     'task #1 "backup": task_type: missing: expected "python" or "shell"'),
    (shell_entry(task_type="bash"),
     'task #1 "backup": task_type: expected "python" or "shell", found "bash" (a string)'),
    (shell_entry(task_type="Shell"),
     'task #1 "backup": task_type: expected "python" or "shell", found "Shell" (a string)'),
    # entry_point, shell
    (shell_entry(entry_point=DROP),
     f'task #1 "backup": entry_point: missing: expected {SHELL_RULE}'),
    (shell_entry(entry_point=""),
     f'task #1 "backup": entry_point: expected {SHELL_RULE}, found "" (a string)'),
    (shell_entry(entry_point="   "),
     f'task #1 "backup": entry_point: expected {SHELL_RULE}, found "   " (a string)'),
    (shell_entry(entry_point=[]),
     f'task #1 "backup": entry_point: expected {SHELL_RULE}, found [] (a list)'),
    (shell_entry(entry_point=["sleep", 5]),
     f'task #1 "backup": entry_point: expected {SHELL_RULE}, found ["sleep", 5] (a list)'),
    (shell_entry(entry_point=5), f'task #1 "backup": entry_point: expected {SHELL_RULE}, found 5'),
    # entry_point, python
    (python_entry(entry_point=DROP),
     f'task #1 "backup": entry_point: missing: expected {PYTHON_RULE}'),
    (python_entry(entry_point="jobs"),
     f'task #1 "backup": entry_point: expected {PYTHON_RULE}, found "jobs" (a string)'),
    (python_entry(entry_point="jobs:"),
     f'task #1 "backup": entry_point: expected {PYTHON_RULE}, found "jobs:" (a string)'),
    (python_entry(entry_point=":run"),
     f'task #1 "backup": entry_point: expected {PYTHON_RULE}, found ":run" (a string)'),
    (python_entry(entry_point="jobs: run"),
     f'task #1 "backup": entry_point: expected {PYTHON_RULE}, found "jobs: run" (a string)'),
    (python_entry(entry_point=["jobs:run"]),
     f'task #1 "backup": entry_point: expected {PYTHON_RULE}, found ["jobs:run"] (a list)'),
    # args, kwargs
    (python_entry(args={"name": "x"}),
     'task #1 "backup": args: expected a list, found {"name": "x"} (an object)'),
    (python_entry(args="x"), 'task #1 "backup": args: expected a list, found "x" (a string)'),
    (python_entry(kwargs=["x"]),
     'task #1 "backup": kwargs: expected an object, found ["x"] (a list)'),
    (python_entry(kwargs=None), 'task #1 "backup": kwargs: expected an object, found null'),
    (shell_entry(args=["x"]),
     'task #1 "backup": args: only python tasks take args; this is a shell task'),
    (shell_entry(kwargs={}),
     'task #1 "backup": kwargs: only python tasks take kwargs; this is a shell task'),
    # interval_seconds: the one schedule
    (shell_entry(interval_seconds=DROP),
     'task #1 "backup": expected exactly one schedule (interval_seconds, cron, at), found none'),
    (shell_entry(interval_seconds="10"),
     'task #1 "backup": interval_seconds: expected a number > 0 and <= 315360000 (10 years), found '
     '"10" (a string)'),
    (shell_entry(interval_seconds=0),
     'task #1 "backup": interval_seconds: expected a number > 0 and <= 315360000 (10 years), found '
     '0'),
    (shell_entry(interval_seconds=-5.5),
     'task #1 "backup": interval_seconds: expected a number > 0 and <= 315360000 (10 years), found '
     '-5.5'),
    (shell_entry(interval_seconds=True),
     'task #1 "backup": interval_seconds: expected a number > 0 and <= 315360000 (10 years), found '
     'true (a boolean)'),
    (shell_entry(interval_seconds=None),
     'task #1 "backup": interval_seconds: expected a number > 0 and <= 315360000 (10 years), found '
     'null'),
    (shell_entry(interval_seconds=[10]),
     'task #1 "backup": interval_seconds: expected a number > 0 and <= 315360000 (10 years), found '
     '[10] (a list)'),
    (shell_entry(interval_seconds=float("nan")),
     'task #1 "backup": interval_seconds: expected a number > 0 and <= 315360000 (10 years), found '
     'NaN'),
    (shell_entry(interval_seconds=float("inf")),
     'task #1 "backup": interval_seconds: expected a number > 0 and <= 315360000 (10 years), found '
     'Infinity'),
    (shell_entry(interval_seconds=10 ** 400),
     f'task #1 "backup": interval_seconds: expected a number > 0 and <= 315360000 (10 years), '
     f'found 1{"0" * 36}...'),
    # run_on_start
    (shell_entry(run_on_start="yes"),
     'task #1 "backup": run_on_start: expected true or false, found "yes" (a string)'),
    (shell_entry(run_on_start=1),
     'task #1 "backup": run_on_start: expected true or false, found 1'),
    # timeout_seconds
    (shell_entry(timeout_seconds=0),
     'task #1 "backup": timeout_seconds: expected a number > 0 and <= 315360000 (10 years), or '
     'null, found 0'),
    (shell_entry(timeout_seconds=-1),
     'task #1 "backup": timeout_seconds: expected a number > 0 and <= 315360000 (10 years), or '
     'null, found -1'),
    (shell_entry(timeout_seconds="30"),
     'task #1 "backup": timeout_seconds: expected a number > 0 and <= 315360000 (10 years), or '
     'null, found "30" (a string)'),
    (shell_entry(timeout_seconds=False),
     'task #1 "backup": timeout_seconds: expected a number > 0 and <= 315360000 (10 years), or '
     'null, found false (a boolean)'),
    (shell_entry(timeout_seconds=float("inf")),
     'task #1 "backup": timeout_seconds: expected a number > 0 and <= 315360000 (10 years), or '
     'null, found Infinity'),
    # unknown keys
    (shell_entry(intervall_seconds=5),
     'task #1 "backup": "intervall_seconds": unknown key, did you mean "interval_seconds"?'),
    (shell_entry(taskname="x"),
     'task #1 "backup": "taskname": unknown key, did you mean "task_name"?'),
    (shell_entry(colour="red"),
     f'task #1 "backup": "colour": unknown key, known keys: {TASK_KEYS}'),
    (shell_entry(schedule="every 10s"),
     'task #1 "backup": mixes the compact form (name, command, schedule) with full task '
     'fields (task_id, task_type, entry_point, interval_seconds); use one form'),
]
INVALID_TASK_IDS = [
    "id-missing", "id-number", "id-null", "id-empty", "id-space", "id-slash", "id-non-ascii",
    "id-65-chars",
    "name-number", "description-list",
    "enabled-string-false", "enabled-zero", "enabled-null",
    "type-missing", "type-unknown", "type-wrong-case",
    "shell-missing", "shell-empty", "shell-blank", "shell-empty-list", "shell-list-with-number",
    "shell-number",
    "python-missing", "python-module-only", "python-no-function", "python-no-module",
    "python-space", "python-list",
    "args-object", "args-string", "kwargs-list", "kwargs-null", "shell-with-args",
    "shell-with-kwargs",
    "interval-missing", "interval-string", "interval-zero", "interval-negative",
    "interval-boolean", "interval-null", "interval-list", "interval-nan", "interval-infinite",
    "interval-too-big-for-a-float",
    "run-on-start-string", "run-on-start-number",
    "timeout-zero", "timeout-negative", "timeout-string", "timeout-boolean", "timeout-infinite",
    "unknown-typo", "unknown-missing-underscore", "unknown-no-close-key", "unknown-schedule",
]


@pytest.mark.parametrize("entry, message", INVALID_TASK_CASES, ids=INVALID_TASK_IDS)
def test_invalid_task_field_is_one_problem_and_the_task_is_skipped(
        write_config: WriteConfig, entry: dict[str, Any], message: str) -> None:
    path = write_config([entry])

    config = load_config(path)

    assert problem_lines(config) == [f"{path}: {message}"]
    assert config.tasks == []


@pytest.mark.parametrize("entry", [
    shell_entry(task_id="a"),
    shell_entry(task_id="A.b-c_9"),
    shell_entry(task_id="x" * 64),
    shell_entry(task_name="", description=""),
    shell_entry(enabled=False),
    shell_entry(run_on_start=True),
    shell_entry(interval_seconds=0.001),
    shell_entry(interval_seconds=86400 * 365),
    shell_entry(timeout_seconds=0.5),
    shell_entry(timeout_seconds=None),
    shell_entry(entry_point=["true"]),
    python_entry(entry_point="configure_task_scheduler.examples.say_hello"),
    python_entry(args=[], kwargs={"name": "you"}),
    python_entry(args=[{"you": [1, None, [2], {"k": True}]}]),
], ids=["id-one-char", "id-every-kind-of-char", "id-64-chars", "empty-name-and-description",
        "disabled", "run-on-start", "tiny-interval", "year-interval", "fractional-timeout",
        "null-timeout", "shell-one-word-list", "python-dotted-form", "python-kwargs",
        "python-args-of-any-json"])
def test_valid_task_field_loads(write_config: WriteConfig, entry: dict[str, Any]) -> None:
    config = load_config(write_config([entry]))

    assert config.problems == []
    assert task_ids(config) == [entry["task_id"]]


def test_string_false_is_not_accepted_as_enabled(write_config: WriteConfig) -> None:
    path = write_config([shell_entry(enabled="false")])

    assert problem_lines(load_config(path)) == [
        f'{path}: task #1 "backup": enabled: expected true or false, found "false" (a string)']


def test_boolean_true_is_not_accepted_as_a_number(write_config: WriteConfig) -> None:
    path = write_config([shell_entry(interval_seconds=True, timeout_seconds=True)])

    assert problem_lines(load_config(path)) == [
        f'{path}: task #1 "backup": interval_seconds: '
        'expected a number > 0 and <= 315360000 (10 years), found true (a boolean)',
        f'{path}: task #1 "backup": timeout_seconds: expected a number > 0 and <= 315360000 (10 '
        f'years), or null, '
        "found true (a boolean)",
    ]


def test_disabled_task_loads_with_enabled_false(write_config: WriteConfig) -> None:
    config = load_config(write_config([shell_entry(enabled=False)]))

    assert [(task.task_id, task.enabled) for task in config.tasks] == [("backup", False)]


def test_every_problem_of_a_task_is_reported_not_just_the_first(
        write_config: WriteConfig) -> None:
    path = write_config([{"task_id": "backup", "task_type": "shell", "entry_point": [],
                          "intervall_seconds": 5, "enabled": "yes", "timeout_seconds": -1,
                          "args": [1]}])

    assert problem_lines(load_config(path)) == [
        f'{path}: task #1 "backup": "intervall_seconds": unknown key, '
        'did you mean "interval_seconds"?',
        f'{path}: task #1 "backup": entry_point: expected {SHELL_RULE}, found [] (a list)',
        f'{path}: task #1 "backup": expected exactly one schedule (interval_seconds, cron, at), '
        f'found none',
        f'{path}: task #1 "backup": enabled: expected true or false, found "yes" (a string)',
        f'{path}: task #1 "backup": timeout_seconds: expected a number > 0 and <= 315360000 (10 '
        f'years), or null, found -1',
        f'{path}: task #1 "backup": args: only python tasks take args; this is a shell task',
    ]


def test_args_of_a_task_with_an_unknown_type_are_not_blamed_on_the_type(
        write_config: WriteConfig) -> None:
    path = write_config([shell_entry(task_type="bash", args=["x"])])

    assert problem_lines(load_config(path)) == [
        f'{path}: task #1 "backup": task_type: expected "python" or "shell", '
        'found "bash" (a string)']


# --- Many tasks: positions, skipping, duplicates --------------------------------------------


def test_problem_names_the_task_by_its_one_based_position_and_id(
        write_config: WriteConfig) -> None:
    path = write_config([shell_entry(task_id="a"), shell_entry(task_id="b"),
                         shell_entry(interval_seconds="10")])

    assert problem_lines(load_config(path)) == [
        f'{path}: task #3 "backup": interval_seconds: '
        'expected a number > 0 and <= 315360000 (10 years), found "10" (a string)']


def test_invalid_tasks_are_skipped_and_valid_ones_still_load_in_file_order(
        write_config: WriteConfig) -> None:
    path = write_config([shell_entry(task_id="a"), shell_entry(task_id="b", interval_seconds=0),
                         shell_entry(task_id="c"), shell_entry(task_id="d", enabled="no"),
                         shell_entry(task_id="e")])

    config = load_config(path)

    assert task_ids(config) == ["a", "c", "e"]
    assert problem_lines(config) == [
        f'{path}: task #2 "b": interval_seconds: expected a number > 0 and <= 315360000 (10 '
        f'years), found 0',
        f'{path}: task #4 "d": enabled: expected true or false, found "no" (a string)',
    ]


@pytest.mark.parametrize("entry, found", [
    ("backup", '"backup" (a string)'),
    (None, "null"),
    ([shell_entry()], '[{"task_id": "backup", "task_type": "... (a list)'),
    (10, "10"),
], ids=["string", "null", "list", "number"])
def test_task_entry_that_is_not_an_object_is_reported_by_position(
        write_config: WriteConfig, entry: Any, found: str) -> None:
    path = write_config([shell_entry(task_id="a"), entry, shell_entry(task_id="c")])

    config = load_config(path)

    assert problem_lines(config) == [f"{path}: task #2: expected an object, found {found}"]
    assert task_ids(config) == ["a", "c"]


def test_duplicate_task_id_rejects_the_later_one_and_names_both_positions(
        write_config: WriteConfig) -> None:
    path = write_config([shell_entry(task_id="a", entry_point="echo first"),
                         shell_entry(task_id="b"),
                         shell_entry(task_id="a", entry_point="echo second"),
                         shell_entry(task_id="a", entry_point="echo third")])

    config = load_config(path)

    assert [(task.task_id, task.entry_point) for task in config.tasks] == [
        ("a", "echo first"), ("b", "true")]
    assert problem_lines(config) == [
        f'{path}: task #3 "a": task_id: duplicate of task #1; this task is skipped',
        f'{path}: task #4 "a": task_id: duplicate of task #1; this task is skipped',
    ]


def test_duplicate_of_an_invalid_task_is_reported_in_the_same_pass(
        write_config: WriteConfig) -> None:
    path = write_config([shell_entry(task_id="a", interval_seconds=0),
                         shell_entry(task_id="a")])

    config = load_config(path)

    assert config.tasks == []
    assert problem_lines(config) == [
        f'{path}: task #1 "a": interval_seconds: expected a number > 0 and <= 315360000 (10 '
        f'years), found 0',
        f'{path}: task #2 "a": task_id: duplicate of task #1; this task is skipped',
    ]


def test_invalid_duplicate_reports_its_own_problems_and_the_duplicate(
        write_config: WriteConfig) -> None:
    path = write_config([shell_entry(task_id="a"), shell_entry(task_id="a", enabled=1)])

    config = load_config(path)

    assert task_ids(config) == ["a"]
    assert problem_lines(config) == [
        f'{path}: task #2 "a": enabled: expected true or false, found 1',
        f'{path}: task #2 "a": task_id: duplicate of task #1; this task is skipped',
    ]


def test_ids_that_differ_only_in_case_are_not_duplicates(write_config: WriteConfig) -> None:
    config = load_config(write_config([shell_entry(task_id="a"), shell_entry(task_id="A")]))

    assert task_ids(config) == ["a", "A"]


# --- The file itself: unreadable, unparseable -----------------------------------------------


def test_missing_file_raises_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"

    assert config_error_lines(path) == [
        f"{path}: no such file (give another one with --config PATH)"]


def test_directory_given_as_config_raises_one_problem(tmp_path: Path) -> None:
    assert config_error_lines(tmp_path) == [
        f"{tmp_path}: is a directory, expected a config file"]


def test_file_that_is_not_utf8_raises_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    path.write_bytes(b'{"tasks": ["caf\xe9"]}')

    assert config_error_lines(path) == [f"{path}: not UTF-8 text (byte 15)"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="needs a non-root POSIX user for file permissions to apply")
def test_unreadable_file_raises_one_problem(write_config: WriteConfig) -> None:
    path = write_config({"tasks": []})
    path.chmod(0)

    assert config_error_lines(path) == [f"{path}: cannot read: Permission denied"]


@pytest.mark.parametrize("text, message", [
    ('{\n  "tasks": [\n    {"task_id": "a"}\n    {"task_id": "b"}\n  ]\n}',
     "line 4, column 5: invalid JSON: Expecting ',' delimiter"),
    ('{"tasks": [}', "line 1, column 12: invalid JSON: Expecting value"),
    ("", "line 1, column 1: invalid JSON: Expecting value"),
    ('{"tasks": []} []', "line 1, column 15: invalid JSON: Extra data"),
], ids=["missing-comma", "unclosed-list", "empty-file", "two-documents"])
def test_json_syntax_error_raises_one_problem_with_line_and_column(
        write_config: WriteConfig, text: str, message: str) -> None:
    path = write_config(text)

    assert config_error_lines(path) == [f"{path}: {message}"]


def test_duplicate_key_in_a_json_object_raises_instead_of_keeping_the_last(
        write_config: WriteConfig) -> None:
    path = write_config('[{"task_id": "a", "task_type": "shell", "entry_point": "true", '
                        '"interval_seconds": 10, "interval_seconds": 0}]')

    assert config_error_lines(path) == [
        f'{path}: invalid JSON: key "interval_seconds" appears twice in one object']


def test_json_too_deeply_nested_raises_one_problem(write_config: WriteConfig) -> None:
    path = write_config('{"tasks": ' + "[" * 100_000 + "]" * 100_000 + "}")

    [line] = config_error_lines(path)
    assert line.startswith(f"{path}: invalid JSON: maximum recursion depth exceeded")


@pytest.mark.skipif(not hasattr(sys, "get_int_max_str_digits"),
                    reason="no limit on integer digits before Python 3.11")
def test_json_integer_with_too_many_digits_raises_one_problem(write_config: WriteConfig) -> None:
    digits = "1" * (sys.get_int_max_str_digits() + 1)
    path = write_config(f'{{"tasks": [], "_big": {digits}}}')
    with pytest.raises(ValueError) as limit:
        int(digits)

    assert config_error_lines(path) == [f"{path}: invalid JSON: {limit.value}"]


# --- TOML ------------------------------------------------------------------------------------


TOML_CONFIG = """\
_comment = "the same structure as JSON"

[scheduler]
max_workers = 2

[defaults]
timeout_seconds = 30

[[tasks]]
task_id = "hello"
task_type = "python"
entry_point = "configure_task_scheduler.examples:say_hello"
kwargs = { name = "toml" }
interval_seconds = 2

[[tasks]]
task_id = "disk"
task_type = "shell"
entry_point = ["df", "-h"]
interval_seconds = 3
enabled = false
"""


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib arrived in Python 3.11")
def test_toml_config_with_the_same_structure_loads_like_json(write_config: WriteConfig) -> None:
    toml_config = load_config(write_config(TOML_CONFIG, name="tasks.toml"))
    json_config = load_config(write_config({
        "_comment": "the same structure as JSON",
        "scheduler": {"max_workers": 2}, "defaults": {"timeout_seconds": 30},
        "tasks": [{"task_id": "hello", "task_type": "python", "entry_point": HELLO,
                   "kwargs": {"name": "toml"}, "interval_seconds": 2},
                  {"task_id": "disk", "task_type": "shell", "entry_point": ["df", "-h"],
                   "interval_seconds": 3, "enabled": False}],
    }))

    assert toml_config.problems == []
    assert (toml_config.settings, toml_config.tasks) == (json_config.settings, json_config.tasks)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib arrived in Python 3.11")
def test_toml_task_problems_read_like_json_ones(write_config: WriteConfig) -> None:
    path = write_config('[[tasks]]\ntask_id = "backup"\ntask_type = "shell"\n'
                        'entry_point = "true"\ninterval_seconds = "10"\nenabled = "false"\n'
                        "timeout_seconds = inf\n", name="tasks.toml")

    assert problem_lines(load_config(path)) == [
        f'{path}: task #1 "backup": interval_seconds: '
        'expected a number > 0 and <= 315360000 (10 years), found "10" (a string)',
        f'{path}: task #1 "backup": enabled: expected true or false, found "false" (a string)',
        f'{path}: task #1 "backup": timeout_seconds: '
        'expected a number > 0 and <= 315360000 (10 years), or null, found Infinity',
    ]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib arrived in Python 3.11")
def test_toml_syntax_error_raises_one_problem_with_line_and_column(
        write_config: WriteConfig) -> None:
    path = write_config("[[tasks]]\ntask_id = \n", name="tasks.toml")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert len(caught.value.problems) == 1
    assert re.fullmatch(rf"{re.escape(str(path))}: invalid TOML: .+ \(at line 2, column 11\)",
                        str(caught.value))


def test_toml_without_tomllib_raises_saying_python_311_is_needed(
        write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tomllib", None)  # what Python 3.10 looks like
    path = write_config(TOML_CONFIG, name="tasks.toml")

    assert config_error_lines(path) == [
        f"{path}: TOML configs need Python 3.11 or later (tomllib); use JSON here"]


# --- Python entry points: imported at load time ----------------------------------------------


JOBS_SOURCE = """\
VALUE = 42


def run(*args, **kwargs):
    return ("ran", args, kwargs)


class Jobs:
    @staticmethod
    def nightly():
        return "nightly"
"""


def test_python_entry_point_is_imported_from_the_config_directory(
        write_config: WriteConfig, write_module: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    write_module("loader_jobs_configdir", JOBS_SOURCE)
    path = write_config([python_entry(entry_point="loader_jobs_configdir:run", args=[1],
                                      kwargs={"k": 2})])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = load_config(path)

    assert config.problems == []
    [task] = config.tasks
    assert task.target is not None
    assert task.target(*task.args, **task.kwargs) == ("ran", (1,), {"k": 2})


@pytest.mark.parametrize("entry_point, result", [
    ("loader_jobs_forms.run", ("ran", (), {})),
    ("loader_jobs_forms:Jobs.nightly", "nightly"),
], ids=["dotted-form", "attribute-path"])
def test_python_entry_point_forms_resolve_to_the_callable(
        write_config: WriteConfig, write_module: Callable[..., Path], entry_point: str,
        result: Any) -> None:
    write_module("loader_jobs_forms", JOBS_SOURCE)

    [task] = load_config(write_config([python_entry(entry_point=entry_point)])).tasks

    assert task.target is not None and task.target() == result


def test_python_entry_point_is_found_in_the_current_directory(
        write_config: WriteConfig, write_module: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    workdir = write_module("loader_jobs_cwd", JOBS_SOURCE, directory=tmp_path / "workdir")
    monkeypatch.chdir(workdir)
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    path = config_dir / "tasks.json"
    path.write_text(json.dumps([python_entry(entry_point="loader_jobs_cwd:run")]))

    config = load_config(path)

    assert config.problems == []
    assert task_ids(config) == ["backup"]


def test_python_entry_point_is_found_in_installed_packages(write_config: WriteConfig) -> None:
    [task] = load_config(write_config([python_entry()])).tasks

    assert task.target is examples.say_hello


@pytest.mark.parametrize("import_works", [True, False], ids=["import-works", "import-fails"])
def test_config_and_current_directories_are_not_left_on_sys_path(
        write_config: WriteConfig, write_module: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, import_works: bool) -> None:
    write_module("loader_jobs_syspath", JOBS_SOURCE)
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    module = "loader_jobs_syspath" if import_works else "loader_no_such_module"
    path = write_config([python_entry(entry_point=f"{module}:run")])
    before = list(sys.path)

    config = load_config(path)

    assert len(config.tasks) == (1 if import_works else 0)
    assert sys.path == before
    assert str(tmp_path) not in sys.path and str(workdir) not in sys.path


def test_module_written_after_a_first_load_is_found_by_the_next_load(
        write_config: WriteConfig, write_module: Callable[..., Path]) -> None:
    path = write_config([python_entry(entry_point="loader_jobs_later:run")])
    assert load_config(path).tasks == []

    write_module("loader_jobs_later", JOBS_SOURCE)

    assert task_ids(load_config(path)) == ["backup"]


@pytest.mark.parametrize("entry_point, message", [
    ("loader_no_such_module:run",
     'cannot import module "loader_no_such_module": '
     "ModuleNotFoundError: No module named 'loader_no_such_module'"),
    ("loader_no_such_package.jobs:run",
     'cannot import module "loader_no_such_package.jobs": '
     "ModuleNotFoundError: No module named 'loader_no_such_package'"),
    ("loader_jobs_errors:missing", 'module "loader_jobs_errors" has no attribute "missing"'),
    ("loader_jobs_errors.missing", 'module "loader_jobs_errors" has no attribute "missing"'),
    ("loader_jobs_errors:Jobs.weekly",
     'module "loader_jobs_errors" has no attribute "Jobs.weekly"'),
    ("loader_jobs_errors:VALUE", '"loader_jobs_errors:VALUE" is not callable'),
    ("loader_jobs_broken:run",
     'cannot import module "loader_jobs_broken": ZeroDivisionError: division by zero'),
    ("loader_jobs_needs_dep:run",
     'cannot import module "loader_jobs_needs_dep": '
     "ModuleNotFoundError: No module named 'loader_missing_dependency'"),
], ids=["no-module", "no-package", "no-attribute", "no-attribute-dotted-form",
        "no-nested-attribute", "not-callable", "module-raises", "module-dependency-missing"])
def test_failed_import_is_a_problem_naming_module_and_attribute(
        write_config: WriteConfig, write_module: Callable[..., Path], entry_point: str,
        message: str) -> None:
    write_module("loader_jobs_errors", JOBS_SOURCE)
    write_module("loader_jobs_broken", "1 / 0\n")
    write_module("loader_jobs_needs_dep", "import loader_missing_dependency\n")
    path = write_config([shell_entry(task_id="ok"), python_entry(entry_point=entry_point)])

    config = load_config(path)

    assert problem_lines(config) == [f'{path}: task #2 "backup": entry_point: {message}']
    assert task_ids(config) == ["ok"]


def test_import_problem_is_reported_with_the_task_other_problems(
        write_config: WriteConfig) -> None:
    path = write_config([python_entry(entry_point="loader_no_such_module:run",
                                      interval_seconds=0)])

    assert problem_lines(load_config(path)) == [
        f'{path}: task #1 "backup": entry_point: cannot import module "loader_no_such_module": '
        "ModuleNotFoundError: No module named 'loader_no_such_module'",
        f'{path}: task #1 "backup": interval_seconds: expected a number > 0 and <= 315360000 (10 '
        f'years), found 0',
    ]


@pytest.mark.parametrize("source, message", [
    ("import sys\nsys.exit(2)\n", 'importing "loader_jobs_exits" raised SystemExit(2)'),
    ("import sys\nsys.exit()\n", 'importing "loader_jobs_exits" raised SystemExit()'),
    ("raise KeyboardInterrupt\n", 'importing "loader_jobs_exits" raised KeyboardInterrupt()'),
    ("import argparse\nparser = argparse.ArgumentParser(prog='script.py')\n"
     "parser.add_argument('target')\nparser.parse_args([])\n",
     'importing "loader_jobs_exits" raised SystemExit(2); its last line on stderr: '
     '"script.py: error: the following arguments are required: target"'),
], ids=["sys-exit-2", "sys-exit", "keyboard-interrupt", "argparse-usage-error"])
def test_module_raising_any_base_exception_at_import_is_a_problem_of_its_task(
        write_config: WriteConfig, write_module: Callable[..., Path],
        capfd: pytest.CaptureFixture[str], source: str, message: str) -> None:
    write_module("loader_jobs_exits", source)
    path = write_config([shell_entry(task_id="ok"),
                         python_entry(entry_point="loader_jobs_exits:run")])

    config = load_config(path)

    assert problem_lines(config) == [f'{path}: task #2 "backup": entry_point: {message}']
    assert task_ids(config) == ["ok"]
    assert capfd.readouterr() == ("", "")  # the module's usage line reached nobody


ARGUMENTS_SOURCE = (
    "def greet(name):\n    pass\n"
    "def report(day, context, *, level='info'):\n    pass\n"
    "def keyword(*, mode):\n    pass\n"
    "def anything(*args, **kwargs):\n    pass\n"
    "def only_position(first, /):\n    pass\n")


@pytest.mark.parametrize("function, args, kwargs, field, message", [
    ("greet", [1, 2, 3], None, "args",
     "expected at most 1 positional argument for loader_jobs_args:greet(name), found 3"),
    ("greet", None, None, "args",
     'no value for the parameter "name" of loader_jobs_args:greet(name)'),
    ("greet", None, {"nmae": "x"}, "kwargs",
     'loader_jobs_args:greet(name) has no parameter "nmae" to pass by keyword'),
    ("greet", ["x"], {"name": "y"}, "kwargs",
     '"name" is given both by position (args) and by name for loader_jobs_args:greet(name)'),
    ("report", [1, 2], None, "args",
     "expected at most 1 positional argument for "
     "loader_jobs_args:report(day, context, *, level='info'), found 2"),
    ("report", [1], {"context": 2}, "kwargs",
     '"context" is passed by the scheduler (a RunContext) to '
     "loader_jobs_args:report(day, context, *, level='info'); rename this argument"),
    ("keyword", None, None, "kwargs",
     'no value for the parameter "mode" of loader_jobs_args:keyword(*, mode)'),
    ("keyword", [1], {"mode": 1}, "args",
     "expected at most 0 positional arguments for loader_jobs_args:keyword(*, mode), found 1"),
    ("only_position", None, {"first": 1}, "kwargs",
     'loader_jobs_args:only_position(first, /) has no parameter "first" to pass by keyword'),
], ids=["too-many", "missing", "unknown-keyword", "twice", "context-is-not-positional",
        "context-given", "missing-keyword-only", "positional-to-keyword-only",
        "positional-only-by-name"])
def test_arguments_that_do_not_fit_the_signature_are_a_problem(
        write_config: WriteConfig, write_module: Callable[..., Path], function: str,
        args: Any, kwargs: Any, field: str, message: str) -> None:
    write_module("loader_jobs_args", ARGUMENTS_SOURCE)
    fields = {name: value for name, value in (("args", args), ("kwargs", kwargs))
              if value is not None}
    path = write_config([python_entry(entry_point=f"loader_jobs_args:{function}", **fields)])

    assert problem_lines(load_config(path)) == [f'{path}: task #1 "backup": {field}: {message}']


@pytest.mark.parametrize("function, args, kwargs", [
    ("greet", ["you"], None), ("greet", None, {"name": "you"}),
    ("report", ["monday"], {"level": "debug"}), ("keyword", None, {"mode": "x"}),
    ("anything", [1, 2, 3], {"a": 1}), ("only_position", [1], None),
], ids=["positional", "by-name", "context-left-to-the-scheduler", "keyword-only",
        "catch-alls", "positional-only"])
def test_arguments_that_fit_the_signature_load(
        write_config: WriteConfig, write_module: Callable[..., Path], function: str,
        args: Any, kwargs: Any) -> None:
    write_module("loader_jobs_args", ARGUMENTS_SOURCE)
    fields = {name: value for name, value in (("args", args), ("kwargs", kwargs))
              if value is not None}
    config = load_config(write_config([python_entry(
        entry_point=f"loader_jobs_args:{function}", **fields)]))

    assert problem_lines(config) == []


def test_arguments_from_defaults_that_do_not_fit_say_set_in_defaults(
        write_config: WriteConfig, write_module: Callable[..., Path]) -> None:
    write_module("loader_jobs_args", ARGUMENTS_SOURCE)
    path = write_config({"defaults": {"args": [1, 2]},
                         "tasks": [python_entry(entry_point="loader_jobs_args:greet")]})

    assert problem_lines(load_config(path)) == [
        f'{path}: task #1 "backup": args: expected at most 1 positional argument for '
        "loader_jobs_args:greet(name), found 2 (set in defaults)"]


# --- Ranges: every number has a stated one ----------------------------------------------------

TEN_YEARS = "315360000 (10 years)"


@pytest.mark.parametrize("name, value, expected", [
    ("interval_seconds", 315360000.5, f"a number > 0 and <= {TEN_YEARS}"),
    ("interval_seconds", 3e11, f"a number > 0 and <= {TEN_YEARS}"),
    ("timeout_seconds", 1e20, f"a number > 0 and <= {TEN_YEARS}, or null"),
    ("jitter_seconds", 315360001, f"a number from 0 to {TEN_YEARS}"),
    ("retry_delay_seconds", 1e300, f"a number from 0 to {TEN_YEARS}"),
    ("retry_max_delay_seconds", 4e8, f"a number from 0 to {TEN_YEARS}"),
    ("misfire_grace_seconds", 4e8, f"a number from 0 to {TEN_YEARS}, or null"),
    ("retry_backoff", 101, "a number from 1 to 100"),
    ("max_instances", 10001, "an integer from 1 to 10000"),
    ("retries", 10**12, "an integer from 0 to 10000"),
], ids=lambda value: str(value))
def test_number_beyond_its_stated_range_is_a_problem(
        write_config: WriteConfig, name: str, value: Any, expected: str) -> None:
    path = write_config([shell_entry(**{name: value})])
    found = json.dumps(value)

    assert problem_lines(load_config(path)) == [
        f'{path}: task #1 "backup": {name}: expected {expected}, found {found}']


@pytest.mark.parametrize("name, value", [
    ("interval_seconds", 315360000), ("timeout_seconds", 315360000),
    ("jitter_seconds", 315360000), ("retry_delay_seconds", 315360000),
    ("retry_max_delay_seconds", 315360000), ("misfire_grace_seconds", 315360000),
    ("retry_backoff", 100), ("max_instances", 10000), ("retries", 10000),
], ids=lambda value: str(value))
def test_number_at_the_top_of_its_range_loads(write_config: WriteConfig, name: str,
                                              value: Any) -> None:
    assert problem_lines(load_config(write_config([shell_entry(**{name: value})]))) == []


@pytest.mark.parametrize("name, value, expected", [
    ("max_workers", 1001, "an integer from 1 to 1000"),
    ("shutdown_timeout_seconds", 1e12, f"a number from 0 to {TEN_YEARS}"),
    ("reload_interval_seconds", 1e12, f"a number from 0 to {TEN_YEARS}"),
], ids=lambda value: str(value))
def test_scheduler_number_beyond_its_stated_range_is_a_problem(
        write_config: WriteConfig, name: str, value: Any, expected: str) -> None:
    path = write_config({"scheduler": {name: value}, "tasks": []})

    assert config_error_lines(path) == [
        f"{path}: scheduler: {name}: expected {expected}, found {json.dumps(value)}"]


@pytest.mark.parametrize("at, zone", [
    ("9999-12-31T23:59:00+00:00", "Pacific/Kiritimati"),
    ("9999-12-31T23:59:00", "America/Adak"),
    ("0001-01-01T00:30:00+14:00", "UTC"),
    ("0001-01-01T00:00:00", "Asia/Tokyo"),
], ids=["after-9999-in-a-zone-ahead", "after-9999-in-utc", "before-year-1-in-utc",
        "before-year-1-from-a-zone-ahead"])
def test_at_that_falls_outside_years_1_to_9999_in_its_zone_is_a_problem(
        write_config: WriteConfig, at: str, zone: str) -> None:
    path = write_config([shell_entry(interval_seconds=DROP, at=at, timezone=zone)])

    assert problem_lines(load_config(path)) == [
        f'{path}: task #1 "backup": at: "{at}" in time zone {zone} falls outside the years '
        "1 to 9999"]


@pytest.mark.parametrize("at", ["9999-12-31T23:59:00", "0001-01-01T00:00:00"])
def test_at_at_the_ends_of_the_representable_years_loads_in_its_own_zone(
        write_config: WriteConfig, at: str) -> None:
    path = write_config([shell_entry(interval_seconds=DROP, at=at, timezone="UTC")])

    assert problem_lines(load_config(path)) == []


def test_default_texts_name_the_dataclass_defaults() -> None:
    """One source for defaults: the dataclasses; the help texts (and the schema) follow them."""
    task_texts = {name: text for name, text in loader.TASK_FIELDS.items() if "default " in text
                  and name in fields.TASK_DEFAULTS}
    assert sorted(task_texts) == [
        "catch_up", "enabled", "jitter_seconds", "max_instances", "misfire_grace_seconds",
        "on_failure", "on_success", "retries", "retry_backoff",
        "retry_delay_seconds", "retry_max_delay_seconds", "run_on_start", "shell",
        "stderr_level", "timeout_seconds"]
    for name, text in task_texts.items():
        value = fields.TASK_DEFAULTS[name]
        shown = f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) \
            else json.dumps(value)
        assert f"default {shown}" in text, name
    settings = loader.SchedulerSettings()
    for name in ("max_workers", "shutdown_timeout_seconds", "reload_interval_seconds"):
        assert f"default {getattr(settings, name):g}" in loader.SCHEDULER_FIELDS[name], name


# --- Schedules: cron, at, align, jitter, time zones ------------------------------------------


def cron_entry(**fields: Any) -> dict[str, Any]:
    """A valid shell task "backup" on a cron schedule."""
    return shell_entry(**{"interval_seconds": DROP, "cron": "0 2 * * 1-5", **fields})


def test_cron_field_loads_a_cron_schedule_in_the_task_time_zone(
        write_config: WriteConfig) -> None:
    config = load_config(write_config([cron_entry(timezone="Europe/Berlin")]))

    assert config.problems == []
    assert config.tasks == [Task(task_id="backup", task_type=TaskType.SHELL, entry_point="true",
                                 schedule=CronSchedule("0 2 * * 1-5", "Europe/Berlin"),
                                 task_name="backup")]


@pytest.mark.parametrize("cron, message", [
    ("0 25 * * *", 'cron "0 25 * * *": hour: 25 is out of range 0-23'),
    ("0 0 * *", 'cron "0 0 * *": expected 5 fields (minute hour day-of-month month '
                "day-of-week), found 4"),
    (5, "cron: expected a string, found 5"),
], ids=["hour-out-of-range", "four-fields", "not-a-string"])
def test_cron_error_is_one_line_naming_the_task_expression_and_field(
        write_config: WriteConfig, cron: Any, message: str) -> None:
    path = write_config([cron_entry(cron=cron)])

    config = load_config(path)

    assert problem_lines(config) == [f'{path}: task #1 "backup": {message}']
    assert config.tasks == []


@pytest.mark.parametrize("at, expected", [
    ("2026-12-24T18:00:00", "2026-12-24T18:00:00+01:00"),
    ("2026-12-24T18:00:00+00:00", "2026-12-24T19:00:00+01:00"),
    ("2020-01-01T00:00:00", "2020-01-01T00:00:00+01:00"),
], ids=["local-to-the-task-zone", "with-an-offset", "in-the-past-loads-and-is-not-planned"])
def test_at_field_loads_a_one_shot_in_the_task_time_zone(
        write_config: WriteConfig, at: str, expected: str) -> None:
    config = load_config(write_config([
        shell_entry(interval_seconds=DROP, at=at, timezone="Europe/Berlin")]))

    assert config.problems == []
    [task] = config.tasks
    assert isinstance(task.schedule, OneShotSchedule)
    assert task.schedule.when.isoformat() == expected


@pytest.mark.parametrize("at, message", [
    ("tomorrow", 'at: expected an ISO 8601 date-time like "2026-12-24T18:00:00", '
                 'found "tomorrow"'),
    ("2026-02-30T10:00:00", 'at: expected an ISO 8601 date-time like "2026-12-24T18:00:00", '
                            'found "2026-02-30T10:00:00"'),
    (1766599200, "at: expected a string, found 1766599200"),
], ids=["words", "no-such-day", "a-number"])
def test_at_that_is_not_an_iso_date_time_is_a_problem(
        write_config: WriteConfig, at: Any, message: str) -> None:
    path = write_config([shell_entry(interval_seconds=DROP, at=at)])

    config = load_config(path)

    assert problem_lines(config) == [f'{path}: task #1 "backup": {message}']
    assert config.tasks == []


@pytest.mark.parametrize("zone, message", [
    ("Mars/Base", 'timezone: unknown time zone "Mars/Base"'),
    ("CET-1CEST", 'timezone: unknown time zone "CET-1CEST"'),
    (1, "timezone: expected a string, found 1"),
], ids=["unknown", "posix-rule", "a-number"])
def test_task_time_zone_that_is_not_an_iana_name_is_a_problem(
        write_config: WriteConfig, zone: Any, message: str) -> None:
    path = write_config([cron_entry(timezone=zone)])

    config = load_config(path)

    assert problem_lines(config) == [f'{path}: task #1 "backup": {message}']
    assert config.tasks == []


def test_unknown_scheduler_time_zone_raises(write_config: WriteConfig) -> None:
    path = write_config({"scheduler": {"timezone": "Mars/Base"}, "tasks": [cron_entry()]})

    assert config_error_lines(path) == [
        f'{path}: scheduler: timezone: unknown time zone "Mars/Base"']


def test_task_time_zone_comes_from_the_task_then_defaults_then_scheduler_then_machine(
        write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")  # the machine's zone
    own = load_config(write_config({
        "scheduler": {"timezone": "Asia/Kolkata"}, "defaults": {"timezone": "Europe/Berlin"},
        "tasks": [cron_entry(task_id="own", timezone="Australia/Sydney"),
                  cron_entry(task_id="from-defaults")]}))
    from_scheduler = load_config(write_config({
        "scheduler": {"timezone": "Asia/Kolkata"},
        "tasks": [cron_entry(task_id="from-scheduler"), {
            "name": "compact", "command": "true", "schedule": "0 2 * * *"}]}))
    from_machine = load_config(write_config([cron_entry(task_id="from-machine")]))

    zones = [(task.task_id, str(task.schedule.timezone))
             for config in (own, from_scheduler, from_machine) for task in config.tasks]
    assert zones == [("own", "Australia/Sydney"), ("from-defaults", "Europe/Berlin"),
                     ("from-scheduler", "Asia/Kolkata"), ("compact", "Asia/Kolkata"),
                     ("from-machine", "America/New_York")]
    assert str(from_scheduler.settings.timezone) == "Asia/Kolkata"


def test_aligned_interval_loads_in_the_task_time_zone(write_config: WriteConfig) -> None:
    config = load_config(write_config([
        shell_entry(interval_seconds=300, align=True, timezone="Asia/Kolkata")]))

    assert config.problems == []
    assert [task.schedule for task in config.tasks] == [
        IntervalSchedule(300, align=True, timezone="Asia/Kolkata")]


ALIGN_RULE = ("align needs an interval that divides a minute, an hour or a day "
              "(such as 10, 300, 3600 or 86400)")


@pytest.mark.parametrize("entry, message", [
    (cron_entry(align=True), "align: only an interval_seconds schedule can be aligned"),
    (shell_entry(interval_seconds=DROP, at="2026-12-24T18:00:00", align=False),
     "align: only an interval_seconds schedule can be aligned"),
    (shell_entry(interval_seconds=7, align=True), f"{ALIGN_RULE}, found 7"),
    (shell_entry(interval_seconds=2700, align=True), f"{ALIGN_RULE}, found 2700"),
    (shell_entry(interval_seconds=18000, align=True), f"{ALIGN_RULE}, found 18000"),
    (shell_entry(interval_seconds=300, align="yes"),
     'align: expected true or false, found "yes" (a string)'),
], ids=["with-cron", "with-at-even-false", "7-seconds", "45-minutes", "5-hours", "not-a-boolean"])
def test_align_without_an_interval_it_can_align_is_a_problem(
        write_config: WriteConfig, entry: dict[str, Any], message: str) -> None:
    path = write_config([entry])

    config = load_config(path)

    assert problem_lines(config) == [f'{path}: task #1 "backup": {message}']
    assert config.tasks == []


@pytest.mark.parametrize("fields, found", [
    ({"cron": "* * * * *"}, "interval_seconds, cron"),
    ({"cron": "* * * * *", "at": "2026-12-24T18:00:00"}, "interval_seconds, cron, at"),
    ({"interval_seconds": DROP, "cron": "* * * * *", "at": "2026-12-24T18:00:00"}, "cron, at"),
], ids=["interval-and-cron", "all-three", "cron-and-at"])
def test_more_than_one_schedule_in_a_task_is_a_problem(
        write_config: WriteConfig, fields: dict[str, Any], found: str) -> None:
    path = write_config([shell_entry(**fields)])

    config = load_config(path)

    assert problem_lines(config) == [
        f'{path}: task #1 "backup": expected exactly one schedule (interval_seconds, cron, at), '
        f"found {found}"]
    assert config.tasks == []


def test_jitter_seconds_loads_onto_the_task(write_config: WriteConfig) -> None:
    config = load_config(write_config([shell_entry(jitter_seconds=2.5), cron_entry(
        task_id="nightly", jitter_seconds=0)]))

    assert [(task.task_id, task.jitter_seconds) for task in config.tasks] == [
        ("backup", 2.5), ("nightly", 0)]


@pytest.mark.parametrize("jitter, found", [
    (-1, "-1"), ("5", '"5" (a string)'), (True, "true (a boolean)"), (None, "null"),
], ids=["negative", "string", "boolean", "null"])
def test_jitter_seconds_that_is_not_a_number_at_least_zero_is_a_problem(
        write_config: WriteConfig, jitter: Any, found: str) -> None:
    path = write_config([shell_entry(jitter_seconds=jitter)])

    assert problem_lines(load_config(path)) == [
        f'{path}: task #1 "backup": jitter_seconds: expected a number from 0 to 315360000 (10 '
        f'years), found {found}']


# --- The compact form: name, command, schedule ------------------------------------------------


def test_compact_task_loads_as_a_shell_task_on_a_cron_schedule(
        write_config: WriteConfig) -> None:
    config = load_config(write_config({"scheduler": {"timezone": "Europe/Berlin"}, "tasks": [
        {"name": "backup_db", "command": "python backup.py", "schedule": "0 0 * * *"},
        {"name": "rotate", "command": ["logrotate", "-f", "x.conf"], "schedule": "@weekly"},
    ]}))

    assert config.problems == []
    assert config.tasks == [
        Task(task_id="backup_db", task_type=TaskType.SHELL, entry_point="python backup.py",
             schedule=CronSchedule("0 0 * * *", "Europe/Berlin"), task_name="backup_db"),
        Task(task_id="rotate", task_type=TaskType.SHELL,
             entry_point=("logrotate", "-f", "x.conf"),
             schedule=CronSchedule("@weekly", "Europe/Berlin"), task_name="rotate"),
    ]


COMPACT = {"name": "backup_db", "command": "python backup.py", "schedule": "0 0 * * *"}


@pytest.mark.parametrize("fields, message", [
    ({"schedule": "0 0 * *"},
     'task #1 "backup_db": cron "0 0 * *": expected 5 fields '
     "(minute hour day-of-month month day-of-week), found 4"),
    ({"schedule": "0 25 * * *"}, 'task #1 "backup_db": cron "0 25 * * *": hour: 25 is out of '
                                 "range 0-23"),
    ({"schedule": 5}, 'task #1 "backup_db": schedule: expected a string, found 5'),
    ({"schedule": DROP}, 'task #1 "backup_db": schedule: missing: expected a string'),
    ({"command": DROP},
     f'task #1 "backup_db": command: missing: expected {SHELL_RULE}'),
    ({"command": ""}, f'task #1 "backup_db": command: expected {SHELL_RULE}, found "" (a string)'),
    ({"name": DROP}, f"task #1: name: missing: expected {ID_RULE}"),
    ({"name": "backup db"},
     f'task #1 "backup db": name: expected {ID_RULE}, found "backup db" (a string)'),
    ({"timezone": "UTC"}, 'task #1 "backup_db": mixes the compact form (name, command, '
                          "schedule) with full task fields (timezone); use one form"),
    ({"task_type": "shell", "cron": "* * * * *"},
     'task #1 "backup_db": mixes the compact form (name, command, schedule) with full task '
     "fields (task_type, cron); use one form"),
    ({"colour": "red"},
     'task #1 "backup_db": "colour": unknown key, known keys: name, command, schedule'),
], ids=["schedule-four-fields", "schedule-out-of-range", "schedule-not-a-string",
        "schedule-missing", "command-missing", "command-empty", "name-missing", "name-invalid",
        "mixed-with-timezone", "mixed-with-two-full-fields", "unknown-key"])
def test_invalid_compact_task_is_one_problem_and_the_task_is_skipped(
        write_config: WriteConfig, fields: dict[str, Any], message: str) -> None:
    entry = {key: value for key, value in {**COMPACT, **fields}.items() if value is not DROP}
    path = write_config([entry])

    config = load_config(path)

    assert problem_lines(config) == [f"{path}: {message}"]
    assert config.tasks == []


@pytest.mark.parametrize("first, second, field, kept", [
    ({**COMPACT, "name": "a"}, shell_entry(task_id="a"), "task_id", "python backup.py"),
    (shell_entry(task_id="a"), {**COMPACT, "name": "a"}, "name", "true"),
], ids=["full-after-compact", "compact-after-full"])
def test_duplicate_between_a_compact_and_a_full_task_is_reported_on_the_later_one(
        write_config: WriteConfig, first: dict[str, Any], second: dict[str, Any],
        field: str, kept: str) -> None:
    path = write_config([first, second])

    config = load_config(path)

    assert [(task.task_id, task.entry_point) for task in config.tasks] == [("a", kept)]
    assert problem_lines(config) == [
        f'{path}: task #2 "a": {field}: duplicate of task #1; this task is skipped']


def test_entry_that_is_not_an_object_does_not_take_a_task_id(write_config: WriteConfig) -> None:
    path = write_config(["backup", shell_entry()])

    config = load_config(path)

    assert task_ids(config) == ["backup"]
    assert problem_lines(config) == [
        f'{path}: task #1: expected an object, found "backup" (a string)']


# --- Execution policies ------------------------------------------------------------------------


POLICY_DEFAULTS = {"max_instances": 1, "retries": 0, "retry_delay_seconds": 1.0,
                   "retry_backoff": 2.0, "retry_max_delay_seconds": 300.0,
                   "misfire_grace_seconds": None}


def policies_of(task: Task) -> dict[str, Any]:
    return {name: getattr(task, name) for name in POLICY_DEFAULTS}


def test_policy_fields_left_out_take_their_documented_defaults(write_config: WriteConfig) -> None:
    config = load_config(write_config([shell_entry(), python_entry(task_id="py")]))

    assert config.problems == []
    assert [policies_of(task) for task in config.tasks] == [POLICY_DEFAULTS, POLICY_DEFAULTS]
    assert [(task.env, task.cwd) for task in config.tasks] == [({}, None), ({}, None)]


def test_policy_fields_load_onto_the_task_from_the_task_or_its_defaults(
        write_config: WriteConfig) -> None:
    config = load_config(write_config({
        "defaults": {"retries": 2, "misfire_grace_seconds": 30},
        "tasks": [shell_entry(max_instances=3, retry_delay_seconds=0, retry_backoff=1,
                              retry_max_delay_seconds=0.5, misfire_grace_seconds=None)],
    }))

    assert config.problems == []
    assert policies_of(config.tasks[0]) == {
        "max_instances": 3, "retries": 2, "retry_delay_seconds": 0, "retry_backoff": 1,
        "retry_max_delay_seconds": 0.5, "misfire_grace_seconds": None}


INVALID_POLICY_CASES = [
    pytest.param("max_instances", 0, "an integer from 1 to 10000", "0", id="max-instances-zero"),
    pytest.param("max_instances", -1, "an integer from 1 to "
                                      "10000", "-1", id="max-instances-negative"),
    pytest.param("max_instances", 2.0, "an integer from 1 to "
                                       "10000", "2.0", id="max-instances-float"),
    pytest.param("max_instances", "2", "an integer from 1 to 10000", '"2" (a string)',
                 id="max-instances-string"),
    pytest.param("max_instances", True, "an integer from 1 to 10000", "true (a boolean)",
                 id="max-instances-boolean"),
    pytest.param("max_instances", None, "an integer from 1 to "
                                        "10000", "null", id="max-instances-null"),
    pytest.param("retries", -1, "an integer from 0 to 10000", "-1", id="retries-negative"),
    pytest.param("retries", 1.5, "an integer from 0 to 10000", "1.5", id="retries-fraction"),
    pytest.param("retries", "3", "an integer from 0 to "
                                 "10000", '"3" (a string)', id="retries-string"),
    pytest.param("retries", False, "an integer from 0 to 10000", "false (a boolean)",
                 id="retries-boolean"),
    pytest.param("retries", None, "an integer from 0 to 10000", "null", id="retries-null"),
    pytest.param("retry_delay_seconds", -0.5, "a number from 0 to 315360000 (10 years)", "-0.5",
                 id="retry-delay-negative"),
    pytest.param("retry_delay_seconds", "1", "a number from 0 to 315360000 (10 "
                                             "years)", '"1" (a string)',
                 id="retry-delay-string"),
    pytest.param("retry_delay_seconds", None, "a number from 0 to 315360000 (10 "
                                              "years)", "null", id="retry-delay-null"),
    pytest.param("retry_delay_seconds", float("inf"), "a number from 0 to 315360000 (10 "
                                                      "years)", "Infinity",
                 id="retry-delay-infinite"),
    pytest.param("retry_backoff", 0.5, "a number from 1 to 100", "0.5", id="backoff-below-one"),
    pytest.param("retry_backoff", 0, "a number from 1 to 100", "0", id="backoff-zero"),
    pytest.param("retry_backoff", "2", "a number from 1 to "
                                       "100", '"2" (a string)', id="backoff-string"),
    pytest.param("retry_backoff", True, "a number from 1 to 100", "true (a boolean)",
                 id="backoff-boolean"),
    pytest.param("retry_max_delay_seconds", -1, "a number from 0 to 315360000 (10 years)", "-1",
                 id="max-delay-negative"),
    pytest.param("retry_max_delay_seconds", "300", "a number from 0 to 315360000 (10 "
                                                   "years)", '"300" (a string)',
                 id="max-delay-string"),
    pytest.param("retry_max_delay_seconds", None, "a number from 0 to 315360000 (10 "
                                                  "years)", "null", id="max-delay-null"),
    pytest.param("misfire_grace_seconds", -1, "a number from 0 to 315360000 (10 years), or "
                                              "null", "-1",
                 id="misfire-negative"),
    pytest.param("misfire_grace_seconds", "10", "a number from 0 to 315360000 (10 years), or "
                                                "null", '"10" (a string)',
                 id="misfire-string"),
    pytest.param("misfire_grace_seconds", True, "a number from 0 to 315360000 (10 years), or "
                                                "null", "true (a boolean)",
                 id="misfire-boolean"),
    pytest.param("misfire_grace_seconds", float("nan"), "a number from 0 to 315360000 (10 years), "
                                                        "or null", "NaN",
                 id="misfire-nan"),
]


@pytest.mark.parametrize("field, value, expected, found", INVALID_POLICY_CASES)
def test_invalid_policy_value_is_one_problem_naming_the_range(
        write_config: WriteConfig, field: str, value: Any, expected: str, found: str) -> None:
    path = write_config([shell_entry(**{field: value})])

    config = load_config(path)

    assert problem_lines(config) == [
        f'{path}: task #1 "backup": {field}: expected {expected}, found {found}']
    assert config.tasks == []


# --- env and cwd -------------------------------------------------------------------------------


UNSET_NAME = "CTS_LOADER_TEST_UNSET"


@pytest.fixture
def scheduler_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTS_USER", "alice")
    monkeypatch.setenv("CTS_PASSWORD", "s3cret-value")
    monkeypatch.delenv(UNSET_NAME, raising=False)


@pytest.mark.usefixtures("scheduler_environment")
def test_env_references_are_resolved_from_the_scheduler_environment(
        write_config: WriteConfig) -> None:
    config = load_config(write_config({
        "defaults": {"env": {"FROM_DEFAULTS": "yes"}},
        "tasks": [shell_entry(env={"URL": "https://${CTS_USER}:${CTS_PASSWORD}@host/",
                                   "PLAIN": "$$CTS_USER and $${not a reference}", "EMPTY": ""}),
                  shell_entry(task_id="other")],
    }))

    assert config.problems == []
    assert [dict(task.env) for task in config.tasks] == [
        {"FROM_DEFAULTS": "yes", "URL": "https://alice:s3cret-value@host/",
         "PLAIN": "$CTS_USER and ${not a reference}", "EMPTY": ""},
        {"FROM_DEFAULTS": "yes"},
    ]


def test_env_of_a_task_cannot_be_changed_after_loading(write_config: WriteConfig) -> None:
    [task] = load_config(write_config([shell_entry(env={"A": "b"})])).tasks

    with pytest.raises(TypeError):
        task.env["A"] = "c"  # type: ignore[index]


@pytest.mark.parametrize("env, message", [
    pytest.param(["A=b"], "expected an object of strings, found a list", id="list"),
    pytest.param("A=b", "expected an object of strings, found a string", id="string"),
    pytest.param(None, "expected an object of strings, found null", id="null"),
    pytest.param({"PORT": 8080}, '.PORT: expected a string, found a number', id="number"),
    pytest.param({"ON": True}, '.ON: expected a string, found a boolean', id="boolean"),
    pytest.param({"KEY": ["s3cret-value"]}, '.KEY: expected a string, found a list',
                 id="list-value"),
    pytest.param({"KEY": {"s3cret-value": 1}}, '.KEY: expected a string, found an object',
                 id="object-value"),
    pytest.param({"A=B": "s3cret-value"},
                 ': "A=B": a variable name cannot be empty or contain "=" or a NUL character',
                 id="name-with-equals"),
    pytest.param({"": "s3cret-value"},
                 ': "": a variable name cannot be empty or contain "=" or a NUL character',
                 id="empty-name"),
    pytest.param({"KEY": "s3cret\u0000value"}, '.KEY: a value cannot contain a NUL character',
                 id="nul-in-value"),
    pytest.param({"KEY": "${" + UNSET_NAME + "}"},
                 f'.KEY: ${{{UNSET_NAME}}} is not set in the environment the scheduler was '
                 f"started with (a fallback: ${{{UNSET_NAME}:-default}})", id="unset-reference"),
])
@pytest.mark.usefixtures("scheduler_environment")
def test_invalid_env_is_a_problem_that_never_shows_a_value(
        write_config: WriteConfig, env: Any, message: str) -> None:
    path = write_config([shell_entry(env=env)])

    config = load_config(path)

    separator = ": " if message.startswith("expected") else ""
    assert problem_lines(config) == [f'{path}: task #1 "backup": env{separator}{message}']
    assert config.tasks == []
    assert "s3cret" not in problem_lines(config)[0]


@pytest.mark.usefixtures("scheduler_environment")
def test_every_unset_reference_of_an_env_value_is_reported(write_config: WriteConfig) -> None:
    path = write_config([shell_entry(env={"URL": "${CTS_USER}:${CTS_LOADER_A}@${CTS_LOADER_B}"})])

    assert problem_lines(load_config(path)) == [
        f'{path}: task #1 "backup": env.URL: ${{{name}}} is not set in the environment '
        f"the scheduler was started with (a fallback: ${{{name}:-default}})"
        for name in ("CTS_LOADER_A", "CTS_LOADER_B")]


def test_relative_cwd_is_resolved_against_the_config_directory(
        write_config: WriteConfig, tmp_path: Path) -> None:
    (tmp_path / "work" / "deeper").mkdir(parents=True)
    config = load_config(write_config([shell_entry(cwd="work/deeper"),
                                       shell_entry(task_id="abs", cwd=str(tmp_path))]))

    assert config.problems == []
    assert [task.cwd for task in config.tasks] == [str(tmp_path / "work" / "deeper"),
                                                   str(tmp_path)]


@pytest.mark.parametrize("cwd, message", [
    pytest.param("missing", 'cwd: no such directory "missing" (resolved to {dir}/missing)',
                 id="relative"),
    pytest.param("{dir}/missing", 'cwd: no such directory "{dir}/missing"', id="absolute"),
    pytest.param("tasks.json", 'cwd: no such directory "tasks.json" (resolved to '
                 "{dir}/tasks.json)", id="a-file"),
    pytest.param(5, "cwd: expected a string, found 5", id="number"),
    pytest.param(None, "cwd: expected a string, found null", id="null"),
])
def test_invalid_cwd_is_one_problem(write_config: WriteConfig, tmp_path: Path, cwd: Any,
                                    message: str) -> None:
    value = cwd.format(dir=tmp_path) if isinstance(cwd, str) else cwd
    path = write_config([shell_entry(cwd=value)])

    config = load_config(path)

    assert problem_lines(config) == [
        f'{path}: task #1 "backup": {message.format(dir=tmp_path)}']
    assert config.tasks == []


def test_cwd_on_a_python_task_is_a_problem(write_config: WriteConfig, tmp_path: Path) -> None:
    path = write_config([python_entry(cwd=str(tmp_path))])

    assert problem_lines(load_config(path)) == [
        f'{path}: task #1 "backup": cwd: only shell tasks take cwd; this is a python task']


def test_shell_only_fields_from_defaults_apply_to_shell_tasks_and_pass_python_tasks_by(
        write_config: WriteConfig, tmp_path: Path) -> None:
    path = write_config({"defaults": {"cwd": str(tmp_path), "shell": "/bin/sh",
                                      "inherit_environment": False},
                         "tasks": [shell_entry(task_id="sh"), python_entry(task_id="py"),
                                   shell_entry(task_id="list", entry_point=["true"])]})

    config = load_config(path)

    assert config.problems == []
    assert [(task.task_id, task.cwd, task.shell, task.inherit_environment)
            for task in config.tasks] == [("sh", str(tmp_path), "/bin/sh", False),
                                          ("py", None, "/bin/sh", None),
                                          ("list", str(tmp_path), "/bin/sh", False)]


def test_shell_only_fields_set_on_a_python_task_itself_are_problems(
        write_config: WriteConfig, tmp_path: Path) -> None:
    path = write_config([python_entry(task_id="py", cwd=str(tmp_path), shell="/bin/sh",
                                      inherit_environment=True),
                         shell_entry(task_id="list", entry_point=["true"], shell="/bin/sh")])

    assert problem_lines(load_config(path)) == [
        f'{path}: task #1 "py": inherit_environment: only shell tasks take '
        "inherit_environment; this is a python task",
        f'{path}: task #1 "py": shell: only shell tasks take shell; this is a python task',
        f'{path}: task #1 "py": cwd: only shell tasks take cwd; this is a python task',
        f'{path}: task #2 "list": shell: only a command string runs through a shell; '
        "this entry_point is a list"]


# --- Reloading: unchanged entries are not validated again -------------------------------------


def test_reload_gives_back_the_same_task_for_an_unchanged_entry(write_config: WriteConfig) -> None:
    first = [shell_entry(task_id="same"), shell_entry(task_id="edited")]
    path = write_config(first)
    previous = load_config(path)
    write_config([shell_entry(task_id="same"), shell_entry(task_id="edited", interval_seconds=7)])

    config = load_config(path, previous=previous)

    assert config.tasks[0] is previous.tasks[0]
    assert config.tasks[1] is not previous.tasks[1]
    assert config.tasks[1].schedule.describe() == "every 7 seconds"


def test_reload_validates_every_entry_again_when_defaults_change(
        write_config: WriteConfig) -> None:
    path = write_config({"defaults": {"timeout_seconds": 5}, "tasks": [shell_entry()]})
    previous = load_config(path)
    write_config({"defaults": {"timeout_seconds": 9}, "tasks": [shell_entry()]})

    config = load_config(path, previous=previous)

    assert config.tasks[0] is not previous.tasks[0]
    assert config.tasks[0].timeout_seconds == 9


@pytest.mark.parametrize("defaults, message", [
    ({"interval_seconds": 5, "cron": "@daily"},
     "defaults: expected at most one schedule (interval_seconds, cron, at), "
     "found interval_seconds, cron"),
    ({"align": True, "at": "2099-01-01T00:00:00"},
     "defaults: align: only an interval_seconds schedule can be aligned"),
], ids=["two-schedules", "aligned-one-shot"])
def test_defaults_that_no_task_could_use_are_a_problem_even_without_tasks(
        write_config: WriteConfig, defaults: dict[str, Any], message: str) -> None:
    path = write_config({"defaults": defaults, "tasks": []})

    assert config_error_lines(path) == [f"{path}: {message}"]
