"""Exercise 10: a Python task run in a child process (`"task_type": "python_process"`): it may
crash or hang without touching the scheduler, and a timeout really stops it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import exercise_support as support

from configure_task_scheduler.task import TaskType

support.attempt(10, "PYTHON_PROCESS" in TaskType.__members__,
                "TaskType has no PYTHON_PROCESS member")

REPO_ROOT = Path(__file__).resolve().parents[3]


def run_task(tmp_path: Path, task: dict[str, object]) -> subprocess.CompletedProcess[str]:
    """`main.py --run` the one task of a config written to tmp_path."""
    config = tmp_path / "tasks.json"
    config.write_text(json.dumps({"tasks": [{"task_type": "python_process",
                                             "interval_seconds": 60, **task}]}))
    config.chmod(0o600)
    return subprocess.run([sys.executable, "main.py", "--config", str(config), "--run",
                           str(task["task_id"])], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)


def test_a_call_that_exits_the_interpreter_fails_its_run_and_nothing_else(
        tmp_path: Path) -> None:
    # In a worker thread, os._exit(3) would end the whole scheduler.
    result = run_task(tmp_path, {"task_id": "crash", "entry_point": "os:_exit", "args": [3]})

    assert result.returncode == 1, result.stderr
    assert re.fullmatch(r"task crash: failed in \d+\.\d\ds: exit code 3\n", result.stdout)


def test_a_call_past_its_timeout_is_stopped_not_abandoned(tmp_path: Path) -> None:
    result = run_task(tmp_path, {"task_id": "sleepy", "entry_point": "time:sleep",
                                 "args": [30], "timeout_seconds": 1})

    assert result.returncode == 1, result.stderr
    assert re.fullmatch(r"task sleepy: timed_out in \d+\.\d\ds: timed out after 1s; "
                        r"process terminated\n", result.stdout)
