"""The queue structures alone: a heap (`sched`, through the engine's EventQueue), a timing wheel,
and polling every task once a second, at 1k, 10k and 100k tasks.

No engine, no threads, no clock: each structure is driven the way a scheduler
would drive it over a simulated span, and the CPU time it takes is measured.
Every task runs every 60, 300 or 3,600 seconds (seeded, so each structure
gets the same workload), from a random whole-second offset (so all three
agree on which runs fall in the span). The heap is passed at each
next event time, as the engine does; the wheel and the poller are passed
every second, as they must be. The figure: CPU milliseconds per simulated
minute (what each structure costs the machine). "bare heapq" is the heap
without `sched`'s lock, Event tuples and the engine's guard, to separate the
data structure's cost from the machinery around it.

    python3 -m benchmarks.queues            # prints the table
    python3 benchmarks/run.py --scenario queues
"""

from __future__ import annotations

import heapq
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from configure_task_scheduler.engine.event_queue import EventQueue  # noqa: E402

# "dense": a third of the tasks due every minute; "sparse": every task hourly, so
# in the span only one in twelve comes due (what polling pays for regardless).
WORKLOADS = {"dense": (60.0, 300.0, 3600.0), "sparse": (3600.0,)}
SPAN_SECONDS = 300.0
SIZES = (1_000, 10_000, 100_000)


def workload(tasks: int, intervals: tuple[float, ...]) -> list[tuple[float, float]]:
    """(first run, interval) per task, the same for every structure."""
    chooser = random.Random(tasks)
    plans = []
    for _ in range(tasks):
        interval = chooser.choice(intervals)
        plans.append((float(chooser.randrange(int(interval))), interval))
    return plans


def run_heap(plans: list[tuple[float, float]]) -> int:
    """The engine's EventQueue (a sched heap): each fired run re-enters its next one."""
    queue = EventQueue()
    fired = 0

    def due(when: float, interval: float) -> None:
        nonlocal fired
        fired += 1
        queue.enter(when + interval, action, when + interval, interval)

    action: Callable[..., None] = due
    for first, interval in plans:
        queue.enter(first, action, first, interval)
    next_at: float | None = 0.0
    while next_at is not None and next_at <= SPAN_SECONDS:
        next_at = queue.run_due(next_at)
    return fired


def run_heapq(plans: list[tuple[float, float]]) -> int:
    """A bare `heapq` of (when, sequence, interval): the heap without sched's machinery."""
    heap = [(first, number, interval) for number, (first, interval) in enumerate(plans)]
    heapq.heapify(heap)
    sequence = len(heap)
    fired = 0
    while heap and heap[0][0] <= SPAN_SECONDS:
        when, _, interval = heap[0]
        fired += 1
        sequence += 1
        heapq.heapreplace(heap, (when + interval, sequence, interval))
    return fired


def run_wheel(plans: list[tuple[float, float]], slots: int = 4096) -> int:
    """A hashed timing wheel with 1-second ticks: each slot holds (round, when, interval)."""
    wheel: list[list[tuple[int, float, float]]] = [[] for _ in range(slots)]

    def enter(when: float, interval: float) -> None:
        tick = int(when)
        wheel[tick % slots].append((tick // slots, when, interval))

    for first, interval in plans:
        enter(first, interval)
    fired = 0
    for tick in range(int(SPAN_SECONDS) + 1):
        bucket = wheel[tick % slots]
        if not bucket:
            continue
        turn = tick // slots
        wheel[tick % slots] = [entry for entry in bucket if entry[0] != turn]
        for _, when, interval in sorted(entry for entry in bucket if entry[0] == turn):
            fired += 1
            enter(when + interval, interval)
    return fired


def run_polling(plans: list[tuple[float, float]]) -> int:
    """Every second, look at every task: is it due? (How a naive loop does it.)"""
    next_runs = [first for first, _ in plans]
    intervals = [interval for _, interval in plans]
    fired = 0
    for second in range(int(SPAN_SECONDS) + 1):
        now = float(second)
        for index, when in enumerate(next_runs):
            if when <= now:
                fired += 1
                next_runs[index] = when + intervals[index]
    return fired


STRUCTURES: dict[str, Callable[[list[tuple[float, float]]], int]] = {
    "sched heap": run_heap, "bare heapq": run_heapq, "wheel": run_wheel, "poll": run_polling}


def measure() -> dict[str, float]:
    """CPU ms per simulated minute, per workload, size and structure."""
    figures: dict[str, float] = {}
    for kind, intervals in WORKLOADS.items():
        for tasks in SIZES:
            plans = workload(tasks, intervals)
            counts = set()
            for name, run in STRUCTURES.items():
                started = time.process_time()
                counts.add(run(plans))
                cpu = time.process_time() - started
                figures[f"{kind} {tasks // 1000}k {name} CPU ms/sim min"] = \
                    cpu * 1e3 * 60 / SPAN_SECONDS
            assert len(counts) == 1, f"the structures disagree on the runs fired: {counts}"
    return figures


if __name__ == "__main__":
    for key, value in measure().items():
        print(f"{key:<40} {value:10.2f}")
