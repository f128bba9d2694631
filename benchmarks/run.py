"""Benchmarks: lateness, throughput, idle cost, scale, reload, cron, long-run memory, history, HTTP,
the queue structures alone (`queues.py`) and threads vs processes vs asyncio (`runners.py`).

    python3 benchmarks/run.py                      # every scenario once
    python3 benchmarks/run.py --repeat 3           # medians of 3, with min-max
    python3 benchmarks/run.py --scenario scale     # one scenario
    python3 benchmarks/run.py --compare            # also APScheduler / schedule, if installed

Each scenario runs in a fresh interpreter (so memory figures are its own) and
prints JSON; this script collects them into one table. Where a scenario has
one, the floor (`floor.py`: a bare `sched` + `SimpleQueue` + workers loop) runs
in the same table, and the last columns are ratios of medians from this run:
this / floor and this / apscheduler. Standard library only: APScheduler and
`schedule` are used only if they happen to be importable, and the project
never depends on them. Figures are wall-clock and CPU times on a shared
machine: read them with their min-max spread and the load in the header.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import scenarios  # noqa: E402

SCENARIOS = ("lateness", "throughput", "listener", "spread", "saturation", "ramp", "idle", "scale",
             "reload", "cron", "memory", "history", "http", "queues", "runners")
# The ratio columns: this scheduler's median over another subject's, same run.
RATIOS = ("floor", "apscheduler")
# Every scenario run notes the 1-minute load average before it starts.
LOADS: list[float] = []


def run_scenario(name: str, subject: str) -> dict[str, float] | None:
    """Run one scenario in a fresh interpreter; return its figures (None: not available)."""
    LOADS.append(os.getloadavg()[0])
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.scenarios", name, subject],
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
        timeout=900)
    if completed.returncode != 0:
        print(f"{name} ({subject}) failed:\n{completed.stderr}", file=sys.stderr)
        return None
    figures: dict[str, float] | None = json.loads(completed.stdout.splitlines()[-1])
    return figures


def collect(name: str, subject: str, repeat: int) -> dict[str, list[float]]:
    """Run a scenario `repeat` times; return every figure's values."""
    values: dict[str, list[float]] = {}
    for _ in range(repeat):
        figures = run_scenario(name, subject)
        if figures is None:
            return {}
        for key, value in figures.items():
            values.setdefault(key, []).append(value)
    return values


def number(value: float) -> str:
    """Four significant digits (three below 0.01): 0.000123, 5.678, 19,950."""
    if value == 0 or abs(value) >= 1000:
        return f"{value:,.0f}"
    digits = 3 if abs(value) >= 0.01 else 2
    return f"{value:.{max(digits - math.floor(math.log10(abs(value))), 0)}f}"


def show(values: list[float]) -> str:
    """Median, with min-max when there is more than one value."""
    text = number(statistics.median(values))
    if len(values) > 1:
        text += f" ({number(min(values))}-{number(max(values))})"
    return text


def ratio(columns: dict[str, dict[str, list[float]]], key: str, other: str) -> str:
    """this / other, of the medians ("-" where either is missing or other's is 0)."""
    if key not in columns.get(other, {}) or key not in columns.get("this", {}):
        return "-"
    below = statistics.median(columns[other][key])
    return f"{statistics.median(columns['this'][key]) / below:.2f}x" if below else "-"


def print_row(name: str, key: str, cells: list[str]) -> None:
    print(f"{name:<11} {key:<38} " + "".join(f"{cell:>32}" for cell in cells[:-2])
          + "".join(f"{cell:>18}" for cell in cells[-2:]))


def main() -> None:
    """Parse arguments, run the scenarios, print one table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=SCENARIOS, action="append")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--compare", action="store_true",
                        help="also run APScheduler and schedule where installed")
    args = parser.parse_args()
    subjects = ["this", "floor"] + (scenarios.available_others() if args.compare else [])
    rows: list[tuple[str, str, list[str]]] = []
    for name in args.scenario or SCENARIOS:
        columns = {subject: collect(name, subject, args.repeat) for subject in subjects
                   if scenarios.supports(name, subject)}
        for key in columns["this"]:
            cells = [show(columns[s][key]) if key in columns.get(s, {}) else "-"
                     for s in subjects]
            rows.append((name, key, cells + [ratio(columns, key, other) for other in RATIOS]))
    print(f"load average (1 min) before each run: {number(statistics.median(LOADS))} "
          f"({number(min(LOADS))}-{number(max(LOADS))}), on {os.cpu_count()} cores")
    print_row("scenario", "figure", subjects + [f"this/{other}" for other in RATIOS])
    for name, key, cells in rows:
        print_row(name, key, cells)


if __name__ == "__main__":
    main()
