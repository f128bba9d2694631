"""Benchmark: `python3 main.py --check` on configs of 1,000 to 50,000 tasks.

Run as `python3 benchmarks/check_scale.py` from anywhere. Each line is one
real `--check` process (its output thrown away) on a config of N interval
shell tasks written to a temporary directory: seconds in all, and
microseconds per task beyond the empty config's time (the start-up). A flat
per-task figure means --check is linear in the number of tasks (it was
quadratic: every row measured every other row, and 5,000 tasks took 43 s).
Standard library only; nothing is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TASK_COUNTS = (0, 1_000, 10_000, 50_000)


def write_config(directory: Path, count: int) -> Path:
    """Write a config of `count` valid shell tasks; return its path."""
    tasks = [{"task_id": f"task{number}", "task_type": "shell", "entry_point": "true",
              "interval_seconds": 60 + number % 7} for number in range(count)]
    path = directory / f"tasks-{count}.json"
    path.write_text(json.dumps({"tasks": tasks}))
    path.chmod(0o600)
    return path


def check_seconds(config: Path) -> float:
    """Run `main.py --check` on `config`; return its wall-clock seconds."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "main.py", "--check", "--config", str(config)],
                   cwd=REPO_ROOT, stdout=subprocess.DEVNULL, check=True, timeout=900)
    return time.perf_counter() - started


def main() -> None:
    """Print one line per task count: seconds and microseconds per task."""
    print(f"{'tasks':>8} {'seconds':>10} {'µs per task':>12}")
    start_up = 0.0
    with tempfile.TemporaryDirectory() as directory:
        for count in TASK_COUNTS:
            seconds = check_seconds(write_config(Path(directory), count))
            per_task = f"{(seconds - start_up) / count * 1e6:>12.0f}" if count else f"{'-':>12}"
            start_up = start_up or seconds
            print(f"{count:>8,} {seconds:>10.2f} {per_task}")


if __name__ == "__main__":
    main()
