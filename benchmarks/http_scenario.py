"""The `http` benchmark scenario: what the HTTP add-on costs the scheduler.

1. The lateness scenario (100 tasks every 0.5 s for 10 s) among 1,000 tasks,
   once without and once with a client polling `/api/tasks` 20 times a
   second: the lateness p99 of both, and how much the polling added.
2. One `/api/tasks` answer for 10,000 tasks, over a real socket (median of 5),
   built afresh, and shared (an answer is reused for up to 1 s).

Run through `python benchmarks/run.py --scenario http`.
"""

from __future__ import annotations

import http.client
import resource
import statistics
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from configure_task_scheduler import Scheduler
from configure_task_scheduler.addons.http.api import TASKS_ANSWER_SECONDS

POLLS_PER_SECOND = 20
SECONDS = 10.0


def noop() -> None:
    """An hourly task that never runs during the scenario."""


def fetch(url: str, path: str) -> bytes:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200, response.status
        return body
    finally:
        connection.close()


def lateness_p99_ms(poll: bool) -> tuple[float, int]:
    """Run the lateness scenario among 1,000 tasks; return (p99 ms, polls answered)."""
    late: list[float] = []

    def task(context: Any) -> None:
        late.append(time.time() - context.planned_at.timestamp())

    scheduler = Scheduler(max_workers=4, http="0")
    for n in range(100):
        scheduler.every(0.5, task, task_id=f"t{n}")
    for n in range(900):
        scheduler.every(3600, noop, task_id=f"idle{n}")
    stop, polls = threading.Event(), [0]

    def poller() -> None:
        while not stop.wait(1 / POLLS_PER_SECOND):
            fetch(scheduler.http_url, "/api/tasks")
            polls[0] += 1

    scheduler.start()
    thread = threading.Thread(target=poller) if poll else None
    if thread is not None:
        thread.start()
    time.sleep(SECONDS)
    stop.set()
    if thread is not None:
        thread.join()
    scheduler.stop()
    ordered = sorted(late)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1e3, polls[0]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def tasks_answer_ms(tasks: int = 10_000, shared: bool = False) -> tuple[float, float, int]:
    """GET /api/tasks with `tasks` tasks (nothing due): median (wall ms, CPU ms), body bytes.

    Each answer is built afresh (the shared one has expired), unless `shared`.

    The CPU time is the whole process's (server and client): on a shared
    machine it says more than the wall time, which includes waiting for a core.
    """
    scheduler = Scheduler(http="0")
    for n in range(tasks):
        scheduler.every(3600, noop, task_id=f"task{n}")
    scheduler.start()
    try:
        size = len(fetch(scheduler.http_url, "/api/tasks"))  # warm: descriptions cached
        walls, cpus = [], []
        for _ in range(5):
            if not shared:
                time.sleep(TASKS_ANSWER_SECONDS)
            start, cpu = time.perf_counter(), cpu_seconds()
            fetch(scheduler.http_url, "/api/tasks")
            walls.append(time.perf_counter() - start)
            cpus.append(cpu_seconds() - cpu)
    finally:
        scheduler.stop()
    return statistics.median(walls) * 1e3, statistics.median(cpus) * 1e3, size


def http_this() -> dict[str, float]:
    quiet, _ = lateness_p99_ms(poll=False)
    polled, polls = lateness_p99_ms(poll=True)
    wall_ms, cpu_ms, size = tasks_answer_ms()
    shared_ms, _, _ = tasks_answer_ms(shared=True)
    return {"lateness p99 ms, 1,000 tasks, no polling": quiet,
            "lateness p99 ms, polling /api/tasks 20/s": polled,
            "polling added to lateness p99 %": (polled / quiet - 1) * 100,
            "polls answered per second": polls / SECONDS,
            "GET /api/tasks, 10,000 tasks, ms": wall_ms,
            "GET /api/tasks, 10,000 tasks, CPU ms": cpu_ms,
            "GET /api/tasks, 10,000 tasks, KB": size / 1024,
            "GET /api/tasks, 10,000 tasks, shared answer, ms": shared_ms}
