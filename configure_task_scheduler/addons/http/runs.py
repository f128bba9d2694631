"""Recent runs for the HTTP add-on: a bounded in-memory listener and the run-source seam.

`RecentRuns` listens to the engine's run events and keeps, in memory, the
last `MAX_RUNS` results (newest last) and, per task, the statuses of its last
`STRIP_RUNS` runs (the page's strip). Output tails are cut to
`TAIL_CHARS` so a thousand runs of a chatty task stay small. A `RunSource` is
what `/api/runs` reads: `RecentRuns` itself, or the run history plugged in
with an adapter. Never blocks a run: the listener only appends under a lock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from ...task import EventKind, RunEvent, RunResult

MAX_RUNS = 1000  # the largest `limit` of /api/runs
STRIP_RUNS = 20  # the page's strip of a task's last runs
TAIL_CHARS = 4096  # of each output tail kept in memory (the full tail is in the history)


class RunSource(Protocol):
    """Where `/api/runs` reads runs: memory, or the run history through an adapter."""

    name: str  # "memory" or "history", shown in /api/runs

    def recent_runs(self, task_id: str | None, status: str | None,
                    limit: int) -> list[dict[str, Any]]:
        """Return up to `limit` runs as JSON objects (`run_json`'s keys), newest first."""

    def dropped_total(self) -> int:
        """Return how many records were dropped (0 when nothing can be dropped)."""


class RecentRuns:
    """The last results of every task, in memory; a run listener and a `RunSource`."""

    name = "memory"

    def __init__(self, max_runs: int = MAX_RUNS, strip_runs: int = STRIP_RUNS) -> None:
        self._lock = threading.Lock()
        self._runs: deque[RunResult] = deque(maxlen=max_runs)
        self._strips: dict[str, deque[str]] = {}  # task_id -> statuses, oldest first
        self._strip_runs = strip_runs

    def __call__(self, event: RunEvent) -> None:
        """The listener: keep every final result (finished or skipped)."""
        result = event.result
        if result is None or event.kind is EventKind.RUN_STARTED:
            return
        if len(result.stdout_tail) > TAIL_CHARS or len(result.stderr_tail) > TAIL_CHARS:
            result = replace(result, stdout_tail=result.stdout_tail[-TAIL_CHARS:],
                             stderr_tail=result.stderr_tail[-TAIL_CHARS:])
        status = result.status.value
        with self._lock:
            self._runs.append(result)
            strip = self._strips.get(result.task_id)
            if strip is None:
                strip = self._strips[result.task_id] = deque(maxlen=self._strip_runs)
            strip.append(status)

    def strip(self, task_id: str) -> list[str]:
        """Return the statuses of the task's last runs, oldest first."""
        with self._lock:
            return list(self._strips.get(task_id, ()))

    def strips(self) -> dict[str, list[str]]:
        """Return every task's strip at once (one lock for a whole /api/tasks)."""
        with self._lock:
            return {task_id: list(strip) for task_id, strip in self._strips.items()}

    def recent_runs(self, task_id: str | None, status: str | None,
                    limit: int) -> list[dict[str, Any]]:
        """Return up to `limit` kept runs, newest first, filtered by task and status."""
        with self._lock:
            runs = list(self._runs)
        return [run_json(run) for run in _newest_matching(runs, task_id, status, limit)]

    def dropped_total(self) -> int:
        """Nothing is dropped in memory: older runs just make way."""
        return 0


RUN_KEYS = ("task_id", "run_number", "attempt", "status", "planned_at", "started_at",
            "ended_at", "duration_seconds", "exit_code", "error", "stdout_tail", "stderr_tail")


class RecordSource:
    """A `RunSource` over stored records, such as the run history's `RunRecord`s.

    Args:
        read: returns up to `limit` records of a task (None: all tasks), newest
            first; each has the attributes named in `RUN_KEYS`, times as text.
        dropped_total: how many records the store dropped.
        name: shown in /api/runs as "source".

    A status filter is applied to the newest `MAX_RUNS` records, so with one
    the answer may hold fewer than `limit` runs.
    """

    def __init__(self, read: Callable[[str | None, int], Sequence[Any]],
                 dropped_total: Callable[[], int], name: str = "history") -> None:
        self._read, self._dropped, self.name = read, dropped_total, name

    def recent_runs(self, task_id: str | None, status: str | None,
                    limit: int) -> list[dict[str, Any]]:
        """Return the latest `limit` runs (of one task, of one status) as JSON-ready dicts."""
        records = self._read(task_id, limit if status is None else MAX_RUNS)
        rows = [{key: getattr(record, key) for key in RUN_KEYS} for record in records]
        return [row for row in rows if status is None or row["status"] == status][:limit]

    def dropped_total(self) -> int:
        """Return how many runs the history could not keep."""
        return self._dropped()


def _newest_matching(runs: list[RunResult], task_id: str | None, status: str | None,
                     limit: int) -> Iterable[RunResult]:
    found = 0
    for run in reversed(runs):
        if found == limit:
            return
        if (task_id is None or run.task_id == task_id) and \
                (status is None or run.status.value == status):
            found += 1
            yield run


def run_json(result: RunResult) -> dict[str, Any]:
    """Return a run's result as the JSON API shows it (times in ISO 8601 with offset)."""
    return {
        "task_id": result.task_id, "run_number": result.run_number, "attempt": result.attempt,
        "status": result.status.value, "planned_at": result.planned_at.isoformat(),
        "started_at": result.started_at.isoformat(), "ended_at": result.ended_at.isoformat(),
        "duration_seconds": round(result.duration_seconds, 6), "exit_code": result.exit_code,
        "error": result.error, "stdout_tail": result.stdout_tail,
        "stderr_tail": result.stderr_tail,
    }
