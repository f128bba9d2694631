"""The state database of one running scheduler: its lock, its writer and its catch-up.

`StateDatabase.open(engine)` is what a scheduler does at start-up with a
`state_path`: take the single-instance lock, open (create, migrate) the
history, close the runs an earlier process left in flight, catch up what was
missed, then listen to the engine's run events. `close()` writes what is
queued and lets the lock go. Uses only the engine's public face (`tasks`,
`run_now`, `subscribe`); the engine knows nothing of it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from ...clock import Clock
from ...engine import Engine
from . import catch_up, store
from .lock import InstanceLock, lock_path_for
from .writer import QUEUE_CAPACITY, HistoryWriter

logger = logging.getLogger("configure_task_scheduler.history")

MISSED_REASON = "planned while the scheduler was not running (no catch_up)"


class StateDatabase:
    """The history, the lock and catch-up, for a scheduler given a `state_path`.

    Args:
        path: the SQLite file.
        clock: the scheduler's clock.
        history_days, max_rows_per_task: retention (see `HistoryWriter`).
        guards: what the lock protects, for its message (the config file, or `path`).
        capacity: run events held in memory at most.
    """

    def __init__(self, path: str, clock: Clock, *, history_days: float = 30.0,
                 max_rows_per_task: int = 100_000, guards: str | None = None,
                 capacity: int = QUEUE_CAPACITY) -> None:
        self.path = path
        self._clock = clock
        self.writer = HistoryWriter(path, clock, history_days=history_days,
                                    max_rows_per_task=max_rows_per_task, capacity=capacity)
        self._lock = InstanceLock(lock_path_for(path, None), guards or path)
        self._open = False

    @property
    def is_open(self) -> bool:
        """True between `open` and `close`."""
        return self._open

    def guard(self, config_path: str) -> None:
        """Name the config in the lock's message ("already running with config/tasks.json")."""
        self._lock.what = config_path

    def open(self, engine: Engine) -> None:
        """Lock, open the history, catch up, and start recording the engine's runs.

        Raises:
            LockError: another scheduler runs on this state database.
            StateError: the file cannot be used (it is left untouched).
        """
        self._lock.acquire()
        try:
            tasks = engine.tasks()
            self.writer.open([task.task_id for task in tasks])
            self._catch_up(engine, self._clock.wall())
        except BaseException:
            self.writer.close(0)
            self._lock.release()
            raise
        engine.subscribe(self.writer)
        self.writer.start()
        self._open = True

    def close(self, timeout_seconds: float = 10.0) -> None:
        """Write what is queued (up to `timeout_seconds`), close the file, release the lock."""
        if self._open:
            self._open = False
            self.writer.close(timeout_seconds)
            self._lock.release()

    def records(self, task_id: str | None = None, limit: int = 20) -> list[store.RunRecord]:
        """Return the latest run attempts, newest first, after writing what is queued."""
        if self._open:
            self.writer.flush()
        db = store.connect(self.path, read_only=True)
        try:
            return store.recent_runs(db, task_id, limit)
        finally:
            db.close()

    def _catch_up(self, engine: Engine, now: datetime) -> None:
        db = store.connect(self.path)
        try:
            histories = store.task_histories(db)
            for missed in catch_up.plan_catch_up(engine.tasks(), histories, now):
                if missed.catch_up:
                    catch_up.log_catch_up(missed)
                    engine.run_now(missed.task.task_id)
                elif catch_up.is_one_shot(missed.task):
                    catch_up.log_catch_up(missed)
                    store.record_missed(db, missed.task.task_id, missed.first_missed, now,
                                        MISSED_REASON)
        finally:
            db.close()
