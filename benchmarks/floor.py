"""The floor: the least a fixed-rate scheduler can cost in pure Python, as a benchmark subject.

A bare `sched.scheduler` on the monotonic clock, a `queue.SimpleQueue` and N
worker threads: each due event hands its task to the queue and enters the
task's next run at `planned + interval` (fixed rate, never from completion),
skipping to the first slot after now when it is behind (coalescing, as the
scheduler does). No validation, no records, no policies, no logging, no
stop signal: what is left is what every Python scheduler pays. It lives in
`benchmarks/` only; the package never imports it.
"""

from __future__ import annotations

import math
import queue
import sched
import threading
import time
from collections.abc import Callable

# A task of the floor is called with its planned time (monotonic seconds).
FloorTask = Callable[[float], object]


def _sleep(seconds: float) -> None:
    # sched calls delayfunc(0) after every event; time.sleep(0) would be a system
    # call that hands the GIL to a worker each time (the scheduler skips it too).
    if seconds > 0:
        time.sleep(seconds)


class Floor:
    """Fixed-rate interval tasks on `sched` with a pool of `max_workers` threads."""

    def __init__(self, max_workers: int = 4) -> None:
        self._max_workers = max_workers
        self._tasks: list[tuple[float, FloorTask]] = []
        self._queue: queue.SimpleQueue[tuple[FloorTask, float] | None] = queue.SimpleQueue()
        self._sched = sched.scheduler(time.monotonic, _sleep)
        self._end = 0.0

    def every(self, interval_seconds: float, task: FloorTask) -> None:
        """Run `task(planned)` every `interval_seconds`, the first run one interval after start."""
        self._tasks.append((interval_seconds, task))

    def run_for(self, duration_seconds: float) -> None:
        """Run every task from now for `duration_seconds`; return when the workers are done."""
        workers = [threading.Thread(target=self._work, name=f"floor-{n}")
                   for n in range(self._max_workers)]
        for worker in workers:
            worker.start()
        start = time.monotonic()
        self._end = start + duration_seconds
        for interval_seconds, task in self._tasks:  # all in phase, like the other subjects
            self._sched.enterabs(start + interval_seconds, 0, self._due,
                                 (task, interval_seconds, start + interval_seconds))
        self._sched.run()  # returns when no run is left before the end
        for _ in workers:
            self._queue.put(None)
        for worker in workers:
            worker.join()

    def _due(self, task: FloorTask, interval_seconds: float, planned: float) -> None:
        self._queue.put((task, planned))
        following = planned + interval_seconds
        now = time.monotonic()
        if following <= now:  # behind: coalesce the missed runs into the next one
            following += math.ceil((now - following) / interval_seconds) * interval_seconds
        if following < self._end:
            self._sched.enterabs(following, 0, self._due, (task, interval_seconds, following))

    def _work(self) -> None:
        get = self._queue.get
        while (item := get()) is not None:
            task, planned = item
            task(planned)
