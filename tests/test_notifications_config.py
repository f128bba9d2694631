"""The config checks of `on_failure` / `on_success` (`config/notifications.py`).

An unknown id, a task naming itself, a cycle and a disabled notifier make a
file unusable: the loader raises every problem in file order, `--check` and
a normal start exit 2, a reload keeps the tasks as they were, and the library
API refuses such a task with the same message.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from configure_task_scheduler import Scheduler
from configure_task_scheduler.config import load_config
from configure_task_scheduler.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEADLINE_SECONDS = 20.0  # only reached when something is broken
WriteConfig = Callable[..., Path]


def shell(task_id: str, **fields: Any) -> dict[str, Any]:
    return {"task_id": task_id, "task_type": "shell", "entry_point": "true",
            "interval_seconds": 3600, **fields}


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    return [str(problem) for problem in raised.value.problems]


CASES = {
    "unknown-id-with-suggestion": (
        [shell("alert"), shell("backup", on_failure="alrt")],
        ['task #2 "backup": on_failure: expected the id of another task, found "alrt" '
         '(no task has that id); did you mean "alert"?']),
    "unknown-id": (
        [shell("backup", on_success="pager")],
        ['task #1 "backup": on_success: expected the id of another task, found "pager" '
         "(no task has that id)"]),
    "self-reference": (
        [shell("backup", on_failure="backup")],
        ['task #1 "backup": on_failure: expected the id of another task, found "backup" '
         "(the task itself)"]),
    "cycle-of-two": (
        [shell("a", on_failure="b"), shell("b", on_failure="a")],
        ['task #1 "a": on_failure: expected a task that does not lead back to this one, '
         'found "b" (a cycle: a -> b -> a)',
         'task #2 "b": on_failure: expected a task that does not lead back to this one, '
         'found "a" (a cycle: b -> a -> b)']),
    "cycle-of-three-through-on_success": (
        [shell("a", on_failure="b"), shell("b", on_success="c"), shell("c", on_failure="a"),
         shell("d", on_failure="a")],
        ['task #1 "a": on_failure: expected a task that does not lead back to this one, '
         'found "b" (a cycle: a -> b -> c -> a)',
         'task #2 "b": on_success: expected a task that does not lead back to this one, '
         'found "c" (a cycle: b -> c -> a -> b)',
         'task #3 "c": on_failure: expected a task that does not lead back to this one, '
         'found "a" (a cycle: c -> a -> b -> c)']),
    "disabled-notifier": (
        [shell("backup", on_failure="alert"), shell("alert", enabled=False)],
        ['task #1 "backup": on_failure: expected the id of an enabled task, found "alert" '
         '(that task has "enabled": false)']),
    "notifier-skipped-for-its-own-problem": (
        [shell("backup", on_failure="alert"), shell("alert", timeout_seconds="5")],
        ['task #1 "backup": on_failure: expected the id of a valid task, found "alert" '
         "(that task is skipped for its own problem)",
         'task #2 "alert": timeout_seconds: expected a number > 0 and <= 315360000 '
         '(10 years), or null, found "5" (a string)']),
}


@pytest.mark.parametrize("tasks, messages", CASES.values(), ids=CASES.keys())
def test_a_broken_notification_makes_the_file_unusable_with_one_line_per_task(
        write_config: WriteConfig, tasks: list[dict[str, Any]], messages: list[str]) -> None:
    path = write_config({"tasks": tasks})

    assert problems_of(path) == [f"{path}: {message}" for message in messages]


def test_a_value_that_is_not_an_id_is_a_problem_of_that_task_only(
        write_config: WriteConfig) -> None:
    path = write_config({"tasks": [shell("backup", on_failure=["alert"]), shell("alert")]})

    config = load_config(path)

    assert [str(problem) for problem in config.problems] == [
        f'{path}: task #1 "backup": on_failure: expected the id of another task (1-64 '
        'letters, digits, "_", "-" or "."), or null, found ["alert"] (a list)']
    assert [task.task_id for task in config.tasks] == ["alert"]


def test_problems_come_in_file_order_with_the_other_problems_of_the_file(
        write_config: WriteConfig) -> None:
    path = write_config({"scheduler": {"max_workers": 0}, "tasks": [
        shell("a", on_failure="nope"), shell("b", interval_seconds=0), shell("c")]})

    assert problems_of(path) == [
        f"{path}: scheduler: max_workers: expected an integer from 1 to 1000, found 0",
        f'{path}: task #1 "a": on_failure: expected the id of another task, found "nope" '
        "(no task has that id)",
        f'{path}: task #2 "b": interval_seconds: expected a number > 0 and <= 315360000 '
        "(10 years), found 0"]


def test_a_default_notifier_is_opted_out_of_with_null(write_config: WriteConfig) -> None:
    path = write_config({"defaults": {"on_failure": "alert"},
                         "tasks": [shell("alert", on_failure=None), shell("backup")]})

    config = load_config(path)

    assert [(task.task_id, task.on_failure, task.on_success) for task in config.tasks] == [
        ("alert", None, None), ("backup", "alert", None)]


def test_a_chain_of_notifiers_is_valid(write_config: WriteConfig) -> None:
    path = write_config({"tasks": [shell("page"), shell("alert", on_failure="page"),
                                   shell("backup", on_failure="alert", on_success="page")]})

    assert [task.on_failure for task in load_config(path).tasks] == [None, "page", "alert"]


def run_cli(*args: str | Path) -> tuple[int, str, str]:
    completed = subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=REPO_ROOT,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=DEADLINE_SECONDS)
    return completed.returncode, completed.stdout, completed.stderr


CYCLE = {"tasks": [shell("a", on_failure="b"), shell("b", on_failure="a"), shell("c")]}


def test_check_prints_the_cycle_and_exits_2(write_config: WriteConfig) -> None:
    path = write_config(CYCLE)

    assert run_cli("--check", "--config", path) == (2, (
        f'{path}: task #1 "a": on_failure: expected a task that does not lead back to this '
        'one, found "b" (a cycle: a -> b -> a)\n'
        f'{path}: task #2 "b": on_failure: expected a task that does not lead back to this '
        'one, found "a" (a cycle: b -> a -> b)\n'), "")


def test_the_scheduler_does_not_start_on_an_unknown_notifier(write_config: WriteConfig) -> None:
    path = write_config({"tasks": [shell("backup", on_failure="alrt"), shell("alert")]})

    assert run_cli("--config", path, "--duration", "5") == (2, "", (
        f'{path}: task #1 "backup": on_failure: expected the id of another task, found '
        '"alrt" (no task has that id); did you mean "alert"?\n'))


def test_a_reload_that_brings_a_cycle_keeps_the_tasks_as_they_were(
        write_config: WriteConfig, caplog: pytest.LogCaptureFixture) -> None:
    path = write_config({"tasks": [shell("a", on_failure="b"), shell("b")]})
    scheduler = Scheduler.from_config(str(path))
    before = [(snapshot.task_id, snapshot.task.on_failure) for snapshot in scheduler.tasks()]
    write_config(CYCLE)

    assert scheduler.reload() is None
    assert [(snapshot.task_id, snapshot.task.on_failure) for snapshot in scheduler.tasks()] == before
    assert [record.getMessage() for record in caplog.records] == [
        "config not reloaded, the tasks keep running as before: "
        f'{path}: task #1 "a": on_failure: expected a task that does not lead back to this '
        'one, found "b" (a cycle: a -> b -> a)',
        "config not reloaded, the tasks keep running as before: "
        f'{path}: task #2 "b": on_failure: expected a task that does not lead back to this '
        'one, found "a" (a cycle: b -> a -> b)']


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    scheduler = Scheduler()
    yield scheduler
    scheduler.stop()


@pytest.mark.parametrize("setup, fields, message", [
    ([], {"on_failure": "alrt"},
     'task "backup": on_failure: expected the id of another task, found "alrt" '
     "(no task has that id)"),
    ([("alert", {})], {"on_failure": "alrt"},
     'task "backup": on_failure: expected the id of another task, found "alrt" '
     '(no task has that id); did you mean "alert"?'),
    ([], {"on_success": "backup"},
     'task "backup": on_success: expected the id of another task, found "backup" '
     "(the task itself)"),
    ([("alert", {"enabled": False})], {"on_failure": "alert"},
     'task "backup": on_failure: expected the id of an enabled task, found "alert" '
     '(that task has "enabled": false)'),
], ids=["unknown", "unknown-with-suggestion", "self", "disabled"])
def test_the_library_api_refuses_a_broken_notification_with_the_same_message(
        scheduler: Scheduler, setup: list[tuple[str, dict[str, Any]]], fields: dict[str, Any],
        message: str) -> None:
    for task_id, options in setup:
        scheduler.every(60, "true", task_id=task_id, **options)

    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        scheduler.every(60, "true", task_id="backup", **fields)
    assert [snapshot.task_id for snapshot in scheduler.tasks()] == [
        task_id for task_id, _ in setup]


def test_check_says_a_past_one_shot_notifier_runs_only_when_notified(
        write_config: WriteConfig) -> None:
    path = write_config({"tasks": [
        {"task_id": "alert", "task_type": "shell", "entry_point": "true",
         "at": "2000-01-01T00:00:00+00:00"},
        {"task_id": "old", "task_type": "shell", "entry_point": "true",
         "at": "2000-01-01T00:00:00+00:00"},
        shell("backup", on_failure="alert")]})

    status, stdout, stderr = run_cli("--check", "--config", path)

    assert (status, stderr) == (0, "")
    assert stdout.splitlines()[-2:] == [
        f'{path}: task "alert": once at 2000-01-01 00:00:00+00:00 is in the past; it runs only '
        "when notified (on_failure, on_success)",
        f'{path}: task "old": once at 2000-01-01 00:00:00+00:00 is in the past; it will not run']
