"""Threads vs processes vs asyncio for running tasks, and what the GIL costs a scheduler.

Three measurements, standard library only, no scheduler involved:

1. Hand-off cost per run of a call that does nothing: a thread pool, a
   process pool (2 workers: the arguments and result are pickled), a new
   process per run (`python -c pass`, what every shell run costs at least),
   and asyncio tasks on one loop.
2. Four CPU-bound pure-Python calls (about 0.2 s each): one after another,
   on four threads (one GIL: no faster), on two processes (two cores).
3. The GIL's cost to the scheduler's own loop: a thread that sleeps 5 ms and
   measures how late it wakes, alone, beside two CPU-bound Python threads
   (it must win the GIL back: up to `sys.getswitchinterval()` = 5 ms each
   time), and beside two CPU-bound processes (only the cores are shared).

    python3 -m benchmarks.runners
    python3 benchmarks/run.py --scenario runners
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

HANDOFFS = 2000
SPAWNS = 20
BURN_LOOPS = 2_000_000  # about 0.2 s of pure Python on the test machine
WAKE_SECONDS = 0.005
WAKES = 200


def noop() -> None:
    """A task that does nothing."""


def burn(loops: int = BURN_LOOPS) -> int:
    """Pure-Python CPU work: holds the GIL except at switch intervals."""
    total = 0
    for number in range(loops):
        total += number
    return total


def per_run_microseconds(submit_all: Callable[[], object]) -> float:
    """µs per run of `submit_all`, which hands off and waits for HANDOFFS runs."""
    started = time.perf_counter()
    submit_all()
    return (time.perf_counter() - started) * 1e6 / HANDOFFS


def handoff_figures() -> dict[str, float]:
    """µs per no-op run, for each way of running it."""
    figures = {}
    with concurrent.futures.ThreadPoolExecutor(4) as threads:
        threads.submit(noop).result()  # workers started before timing
        figures["thread pool: µs per no-op run"] = per_run_microseconds(
            lambda: [future.result() for future in [threads.submit(noop)
                                                    for _ in range(HANDOFFS)]])
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as processes:
        list(processes.map(noop_with, range(4)))  # workers started before timing
        figures["process pool: µs per no-op run"] = per_run_microseconds(
            lambda: [future.result() for future in [processes.submit(noop)
                                                    for _ in range(HANDOFFS)]])
    started = time.perf_counter()
    for _ in range(SPAWNS):
        subprocess.run([sys.executable, "-S", "-c", "pass"], check=True)
    figures["new process per run: µs per no-op run"] = \
        (time.perf_counter() - started) * 1e6 / SPAWNS

    async def many() -> None:
        async def nothing() -> None:
            return None
        await asyncio.gather(*(asyncio.create_task(nothing()) for _ in range(HANDOFFS)))

    figures["asyncio task: µs per no-op run"] = per_run_microseconds(lambda: asyncio.run(many()))
    return figures


def noop_with(_: int) -> None:
    """A picklable no-op for the process pool's warm-up."""


def cpu_figures() -> dict[str, float]:
    """Wall seconds for four CPU-bound calls: in sequence, on threads, on processes."""
    figures = {}
    started = time.perf_counter()
    for _ in range(4):
        burn()
    figures["4 CPU-bound calls in sequence: s"] = time.perf_counter() - started
    with concurrent.futures.ThreadPoolExecutor(4) as threads:
        started = time.perf_counter()
        list(threads.map(burn, [BURN_LOOPS] * 4))
        figures["4 CPU-bound calls on 4 threads: s"] = time.perf_counter() - started
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as processes:
        list(processes.map(noop_with, range(2)))
        started = time.perf_counter()
        list(processes.map(burn, [BURN_LOOPS] * 4))
        figures["4 CPU-bound calls on 2 processes: s"] = time.perf_counter() - started
    return figures


def wake_lateness_ms() -> tuple[float, float]:
    """Median and 99th percentile of how late a 5 ms sleep wakes, in ms."""
    late = []
    for _ in range(WAKES):
        started = time.perf_counter()
        time.sleep(WAKE_SECONDS)
        late.append((time.perf_counter() - started - WAKE_SECONDS) * 1e3)
    late.sort()
    return statistics.median(late), late[int(len(late) * 0.99) - 1]


def busy_until(stop: threading.Event) -> None:
    """Burn CPU in small steps until told to stop."""
    while not stop.is_set():
        burn(10_000)


def busy_process() -> None:
    """Burn CPU until killed."""
    while True:
        burn(10_000)


def gil_figures() -> dict[str, float]:
    """A waking loop's lateness: alone, beside busy Python threads, beside busy processes."""
    figures = {}
    median, p99 = wake_lateness_ms()
    figures["loop wake-up late, alone: median ms"] = median
    figures["loop wake-up late, alone: p99 ms"] = p99
    stop = threading.Event()
    burners = [threading.Thread(target=busy_until, args=(stop,)) for _ in range(2)]
    for burner in burners:
        burner.start()
    median, p99 = wake_lateness_ms()
    stop.set()
    for burner in burners:
        burner.join()
    figures["loop late, 2 busy threads: median ms"] = median
    figures["loop late, 2 busy threads: p99 ms"] = p99
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=busy_process, daemon=True) for _ in range(2)]
    for process in processes:
        process.start()
    time.sleep(0.5)  # let them start burning
    median, p99 = wake_lateness_ms()
    for process in processes:
        process.terminate()
        process.join()
    figures["loop late, 2 busy processes: median ms"] = median
    figures["loop late, 2 busy processes: p99 ms"] = p99
    return figures


def measure() -> dict[str, float]:
    """Every figure of the three measurements."""
    return {**handoff_figures(), **cpu_figures(), **gil_figures()}


if __name__ == "__main__":
    for key, value in measure().items():
        print(f"{key:<44} {value:12.3f}")
