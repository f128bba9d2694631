"""The CLI and the config file, through real `python3 main.py` processes and real files.

Every problem of a file is reported in one pass and on one stream (--check:
stdout, its report; other modes: stderr, beside the log); a config whose every
task is invalid does not start; a config file deleted while the scheduler runs
is said once and picked up again when it comes back. Waits have deadlines.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_cli import BackgroundScheduler, log_messages

from configure_task_scheduler.config import load_config
from configure_task_scheduler.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEADLINE_SECONDS = 20.0  # only reached when something is broken
WriteConfig = Callable[..., Path]


def run_cli(*args: str | Path) -> tuple[int, str, str]:
    completed = subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=REPO_ROOT,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=DEADLINE_SECONDS)
    return completed.returncode, completed.stdout, completed.stderr


def shell(task_id: str, interval_seconds: Any = 60, **fields: Any) -> dict[str, Any]:
    return {"task_id": task_id, "task_type": "shell", "entry_point": "true",
            "interval_seconds": interval_seconds, **fields}


# A bad scheduler field, a bad defaults field, an unknown top-level key and two bad tasks.
EVERYTHING_WRONG = {
    "scheduler": {"max_workers": 0},
    "defaults": {"timeout": 5},
    "task": [],
    "tasks": [shell("first", interval_seconds="10"), shell("good"), shell("third", enabled=1)],
}


def everything_wrong_lines(path: Path) -> list[str]:
    return [
        f"{path}: scheduler: max_workers: expected an integer from 1 to 1000, found 0",
        f'{path}: defaults: "timeout": unknown key, did you mean "timeout_seconds"?',
        f'{path}: "task": unknown key, did you mean "tasks"?',
        f'{path}: task #1 "first": interval_seconds: expected a number > 0 and <= 315360000 (10 years), found "10" '
        "(a string)",
        f'{path}: task #3 "third": enabled: expected true or false, found 1',
    ]


def test_every_problem_of_a_file_is_raised_together_in_file_order(
        write_config: WriteConfig) -> None:
    path = write_config(EVERYTHING_WRONG)

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert [str(problem) for problem in caught.value.problems] == everything_wrong_lines(path)


def test_file_order_follows_the_keys_of_the_file(write_config: WriteConfig) -> None:
    path = write_config({"tasks": [shell("bad", interval_seconds=0)], "defaults": [],
                         "schedular": {}})

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value).splitlines() == [
        f'{path}: task #1 "bad": interval_seconds: expected a number > 0 and <= 315360000 (10 years), found 0',
        f"{path}: defaults: expected an object, found [] (a list)",
        f'{path}: "schedular": unknown key, did you mean "scheduler"?',
    ]


def test_check_prints_every_problem_of_the_file_on_stdout_and_exits_2(
        write_config: WriteConfig) -> None:
    path = write_config(EVERYTHING_WRONG)

    status, stdout, stderr = run_cli("--check", "--config", path)

    assert (status, stdout.splitlines(), stderr) == (2, everything_wrong_lines(path), "")


def test_running_prints_every_problem_of_the_file_on_stderr_and_exits_2(
        write_config: WriteConfig) -> None:
    path = write_config(EVERYTHING_WRONG)

    status, stdout, stderr = run_cli("--duration", "5", "--config", path)

    assert (status, stdout, stderr.splitlines()) == (2, "", everything_wrong_lines(path))


# -- a config that cannot run anything; a config file that goes away ----------------------


def test_a_config_whose_every_task_is_invalid_does_not_start_and_exits_2(
        write_config: WriteConfig) -> None:
    path = write_config({"tasks": [shell("a", interval_seconds=-1), shell("b", retries=-1)]})

    status, stdout, stderr = run_cli("--duration", "5", "--config", path)

    assert (status, stdout, stderr.splitlines()) == (2, "", [
        f'{path}: task #1 "a": interval_seconds: expected a number > 0 and <= 315360000 (10 years), found -1',
        f'{path}: task #2 "b": retries: expected an integer from 0 to 10000, found -1',
        f"{path}: no valid task to run (2 problems above); not starting",
    ])


def test_a_config_without_tasks_starts_and_says_it_is_idle(write_config: WriteConfig) -> None:
    path = write_config({"tasks": []})

    status, stdout, stderr = run_cli("--duration", "0.2", "--config", path)

    assert (status, stdout) == (0, "")
    assert log_messages(stderr) == [
        f"{path}: no tasks; running idle until a reload brings some",
        "scheduler started with 0 tasks (0 enabled)",
        "scheduler stopping: waiting up to 10s for runs in flight, then up to 3s to terminate "
        "what is left",
        "scheduler stopped",
    ]



def test_a_deleted_config_is_said_once_the_tasks_keep_running_and_it_is_read_when_back(
        write_config: WriteConfig, start_cli: Callable[..., BackgroundScheduler]) -> None:
    def document(*tasks: dict[str, Any]) -> dict[str, Any]:
        return {"scheduler": {"reload_interval_seconds": 0.05}, "tasks": list(tasks)}

    counter = write_config("0", name="runs")
    ticking = shell("a", 0.2, entry_point=(
        f"n=$(($(cat {counter}) + 1)); echo $n > {counter}; echo tick $n"))
    path = write_config(document(ticking))
    scheduler = start_cli(path)
    scheduler.wait_for_log(r"scheduler started with 1 task \(1 enabled\)")
    gone = (f"config {path} is gone (deleted or renamed); the tasks keep running as loaded, "
            "and the file is read again when it reappears")

    path.unlink()
    scheduler.wait_for_log(re.escape(gone))
    ticks = max((int(message.split()[-1]) for message in scheduler.messages
                 if message.startswith("task a | tick ")), default=0)
    # Three more runs: many polls of the missing file (every 0.05 s) have passed.
    scheduler.wait_for_log(rf"task a \| tick {ticks + 3}")
    write_config(document(ticking, shell("b")))
    scheduler.wait_for_log(r"reloaded config: 1 added \(b\), 0 removed, 0 changed, 1 unchanged")
    scheduler.send(signal.SIGTERM)

    assert scheduler.exit_status() == 0
    assert scheduler.messages.count(gone) == 1


# -- --check scales with the number of tasks ------------------------------------------------


class MeasuredCell(str):
    """A table cell that counts how often its width is measured."""

    measured = 0

    def __len__(self) -> int:
        MeasuredCell.measured += 1
        return super().__len__()


def test_check_measures_each_cell_of_its_table_once_not_once_per_row() -> None:
    from configure_task_scheduler.cli import format_rows

    rows = [[MeasuredCell(f"task{n}"), MeasuredCell("shell")] for n in range(200)]
    MeasuredCell.measured = 0

    lines = format_rows(rows)

    assert (lines[0], lines[-1], len(lines)) == ("task0    shell", "task199  shell", 200)
    assert MeasuredCell.measured == 2 * 200  # the widths; ljust does not call __len__
