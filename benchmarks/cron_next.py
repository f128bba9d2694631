"""Benchmark: microseconds per `CronSchedule.next_after` call, one line per expression.

Run as `python3 benchmarks/cron_next.py` from anywhere. Each figure is the median of
several timeit repeats; each repeat walks a schedule forward by chaining calls
(next = next_after(previous)), as the engine does, from a fixed start. Columns:
UTC (no daylight saving) and Europe/Berlin (wall-clock and elapsed-time rules).
Uses only the standard library and never touches the network or the clock's zone.
"""

from __future__ import annotations

import statistics
import sys
import timeit
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from configure_task_scheduler.schedules.cron import CronSchedule  # noqa: E402

EXPRESSIONS = (
    "* * * * *", "*/5 * * * *", "0 0 * * *", "30 2 * * 1-5", "0 9 1,15 * MON",
    "0 23 L * *", "0 12 * * FRI#2", "0 12 * * 5L", "@hourly", "0 0 29 2 *",
)
ZONES = ("UTC", "Europe/Berlin")
START = datetime(2024, 1, 1, 0, 7, 30, tzinfo=timezone.utc)
CALLS = 2_000  # per repeat: enough that timer resolution is noise
REPEATS = 7


def microseconds_per_call(expression: str, zone: str) -> float:
    """Return the median time of one `next_after` call, in microseconds.

    Args:
        expression: the cron expression to walk.
        zone: the IANA zone the schedule is read in.

    Returns:
        The median over REPEATS runs of CALLS chained calls, divided by CALLS.
    """
    schedule = CronSchedule(expression, zone)

    def walk() -> None:
        when = START
        for _ in range(CALLS):
            following = schedule.next_after(when)
            # A schedule that ends (never in this set) restarts, so every call does work.
            when = following if following is not None else START

    totals = timeit.repeat(walk, number=1, repeat=REPEATS)
    return statistics.median(totals) / CALLS * 1e6


def main() -> None:
    """Print the table: expression, then one microseconds column per zone."""
    print(f"{'expression':<18}" + "".join(f"{zone + ' µs':>18}" for zone in ZONES))
    for expression in EXPRESSIONS:
        figures = [microseconds_per_call(expression, zone) for zone in ZONES]
        print(f"{expression:<18}" + "".join(f"{figure:>18.2f}" for figure in figures))


if __name__ == "__main__":
    main()
