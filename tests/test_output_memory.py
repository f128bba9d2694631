"""A task printing 200 MB costs the scheduler no more memory than one printing nothing.

Each measurement runs in a fresh interpreter: a small wrapper starts
`python3 main.py --run TASK` and, once it has exited, prints the peak resident
size of its waited-for children (`RUSAGE_CHILDREN`). The largest of those is
the scheduler itself; `head`, `tr` and `fold` are a few hundred KiB each. The
wrapper also reads the scheduler's log as it comes and counts the output
characters logged, which proves the 200 MB really went through the scheduler.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_cli import REPO_ROOT, environment

from configure_task_scheduler.execution.shell import MAX_LINE_BYTES

MIB = 1024  # ru_maxrss is in KiB on Linux
PRINTED_BYTES = 200_000_000
MAX_GROWTH_KIB = 20 * MIB

# Runs `main.py --run <task> --config <file>` and prints, as JSON, the peak RSS
# of the scheduler process and what its log showed of the task's output.
WRAPPER = r"""
import json, resource, subprocess, sys
task_id, config = sys.argv[1], sys.argv[2]
marker = f"task {task_id} | ".encode()
lines = characters = 0
command = [sys.executable, "main.py", "--run", task_id, "--config", config, "--log-level", "INFO"]
with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as scheduler:
    for line in scheduler.stderr:
        at = line.find(marker)
        if at >= 0:
            lines += 1
            characters += line.count(b"x", at + len(marker))
    printed = scheduler.stdout.read().decode()
print(json.dumps({"max_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "exit_status": scheduler.returncode, "printed": printed,
                  "logged_lines": lines, "logged_characters": characters}))
"""

TASKS = [
    {"task_id": "tiny", "task_type": "shell", "entry_point": "true", "interval_seconds": 60},
    {"task_id": "lines", "task_type": "shell", "interval_seconds": 60,
     "entry_point": f"head -c {PRINTED_BYTES} /dev/zero | tr '\\0' x | fold -w 4000"},
    {"task_id": "one-line", "task_type": "shell", "interval_seconds": 60,
     "entry_point": f"head -c {PRINTED_BYTES} /dev/zero | tr '\\0' x"},
]


def measure(task_id: str, config: Path) -> dict[str, Any]:
    """Run one task through `main.py --run` in a fresh interpreter; return the wrapper's report."""
    completed = subprocess.run([sys.executable, "-c", WRAPPER, task_id, str(config)],
                               cwd=REPO_ROOT, env=environment(), capture_output=True,
                               text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    report: dict[str, Any] = json.loads(completed.stdout)
    assert report["exit_status"] == 0, report
    assert report["printed"].startswith(f"task {task_id}: succeeded in "), report
    return report


@pytest.fixture
def config(write_config: Callable[..., Path]) -> Path:
    return write_config(TASKS)


@pytest.mark.parametrize("task_id, logged_lines", [
    pytest.param("lines", PRINTED_BYTES // 4000, id="lines-of-4000-characters"),
    pytest.param("one-line", None, id="no-newline-at-all"),
])
def test_printing_200_mb_grows_the_scheduler_peak_memory_by_less_than_20_mib(
        config: Path, task_id: str, logged_lines: int | None) -> None:
    baseline = measure("tiny", config)

    report = measure(task_id, config)

    if logged_lines is not None:
        assert (report["logged_lines"], report["logged_characters"]) == (
            logged_lines, PRINTED_BYTES)
    else:  # one line: its first 64 KiB are logged, with a marker saying it was cut
        assert (report["logged_lines"], report["logged_characters"]) == (1, MAX_LINE_BYTES)
    growth_kib = report["max_rss_kib"] - baseline["max_rss_kib"]
    print(f"{task_id}: peak RSS {report['max_rss_kib']} KiB, baseline "
          f"{baseline['max_rss_kib']} KiB, growth {growth_kib} KiB")
    assert growth_kib < MAX_GROWTH_KIB
