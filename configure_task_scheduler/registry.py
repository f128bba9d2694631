"""The registry: a thread-safe map from task_id to the current `Task`.

The loader fills it, the engine reads from it when a run is due, and the API
or a reload replace entries while the engine runs. It knows nothing about time
or execution; because tasks are frozen, readers get consistent snapshots
without holding the lock. It also keeps the union of the tasks' secrets,
which every run carries (a task's secret is hidden in every task's output).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .task import NO_SECRETS, Secrets, Task


class Registry:
    """Tasks by id, in the order they were added."""

    def __init__(self, tasks: Iterable[Task] = ()) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._secrets: Secrets | None = NO_SECRETS  # None: to be computed again
        for task in tasks:
            self.put(task)

    def put(self, task: Task) -> Task | None:
        """Add or replace a task.

        Returns:
            The task it replaced, or None if the id is new.
        """
        with self._lock:
            previous = self._tasks.get(task.task_id)
            self._tasks[task.task_id] = task
            self._note_secrets(previous, task)
            return previous

    def remove(self, task_id: str) -> Task | None:
        """Remove a task. Returns it, or None if there was no such id."""
        with self._lock:
            task = self._tasks.pop(task_id, None)
            self._note_secrets(task, None)
            return task

    def secrets(self) -> Secrets:
        """Return the union of every task's secrets (computed once per change)."""
        secrets = self._secrets  # one attribute read: the engine asks for every run
        if secrets is not None:
            return secrets
        with self._lock:
            if self._secrets is None:
                self._secrets = Secrets.of(self._tasks.values())
            return self._secrets

    def _note_secrets(self, old: Task | None, new: Task | None) -> None:
        # Most tasks have no secret: adding 100,000 of them must not recompute the union.
        if any(task is not None and (task.secret_names or task.secret_values)
               for task in (old, new)):
            self._secrets = None

    def get(self, task_id: str) -> Task | None:
        """Return the task with this id, or None."""
        with self._lock:
            return self._tasks.get(task_id)

    def tasks(self) -> list[Task]:
        """Return a snapshot of all tasks, in the order they were added."""
        with self._lock:
            return list(self._tasks.values())

    def ids(self) -> list[str]:
        """Return all task ids, in the order they were added."""
        with self._lock:
            return list(self._tasks)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tasks)

    def __contains__(self, task_id: object) -> bool:
        with self._lock:
            return task_id in self._tasks
