"""Failure notifications: start a task's `on_failure` or `on_success` task when a run ends.

Like cron's MAILTO or systemd's `OnFailure=`: when a run of a task ends for
good (after its last retry) `failed`, `timed_out` or `interrupted`, the task
named by its `on_failure` is started at once through the engine's run-now
path; `succeeded` starts its `on_success`. The started run carries a
`RunTrigger` (what ended): CTS_* variables for a shell task, `context.trigger`
for a Python one. That run follows its own task's policies (an overlapping
one is skipped, and logged as such). This add-on only listens to run events
and asks the engine; it subscribes only once some task names a notification,
so a scheduler without any pays nothing per run. The loader has already
refused unknown and disabled notifiers and cycles (`config.notifications`);
a notifier removed or paused since is logged and not started.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Protocol

from ..task import EventKind, Listener, RunEvent, RunStatus, RunTrigger, Task

# A stable public name (the JSON log's "logger" field).
logger = logging.getLogger("configure_task_scheduler.notify")

FAILURE_STATUSES = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.INTERRUPTED})


class NotifiedEngine(Protocol):
    """What the add-on needs of the engine (`Engine` satisfies it)."""

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(event)` on every run event."""

    def task(self, task_id: str) -> Task | None:
        """The task with this id, or None."""

    def run_now(self, task_id: str, trigger: RunTrigger | None = None) -> bool:
        """Start a run of the task now; False for an unknown id."""


def notifies(task: Task) -> bool:
    """True if the task names an `on_failure` or `on_success` task."""
    return task.on_failure is not None or task.on_success is not None


class Notifications:
    """Starts the notification tasks of the runs that end, once subscribed (`watch`).

    Args:
        engine: where run events come from and where notifiers are started.
    """

    def __init__(self, engine: NotifiedEngine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._subscribed = False

    def watch(self, tasks: Iterable[Task]) -> None:
        """Listen to run events from now on if one of `tasks` names a notification.

        Call it with every task before it is added (config, API, reload): a
        scheduler whose tasks name none never builds a run event for this add-on.
        """
        if self._subscribed or not any(notifies(task) for task in tasks):
            return
        with self._lock:
            if not self._subscribed:
                self._engine.subscribe(self.on_run_event)
                self._subscribed = True

    def on_run_event(self, event: RunEvent) -> None:
        """A run event: start the notifier of a run that ended for good."""
        if event.kind is not EventKind.RUN_FINISHED or event.retry_in_seconds is not None:
            return  # not a final result: an attempt that will be retried, or no result
        task, result = event.run.task, event.result
        if result is None or not notifies(task):
            return
        if result.status is RunStatus.SUCCEEDED:
            field, notifier_id = "on_success", task.on_success
        elif result.status in FAILURE_STATUSES:
            field, notifier_id = "on_failure", task.on_failure
        else:
            return
        if notifier_id is not None:
            self._start(notifier_id, field, RunTrigger.of(result))

    def _start(self, notifier_id: str, field: str, trigger: RunTrigger) -> None:
        """Ask the engine to start the notifier now, or log why it cannot."""
        what = f"task {trigger.task_id} run {trigger.run_number} {trigger.status.value}"
        notifier = self._engine.task(notifier_id)
        if notifier is not None and not notifier.enabled:
            logger.warning("%s: its %s task %s is not started: it is disabled (paused)",
                           what, field, notifier_id)
            return
        if notifier is not None:
            logger.info("%s: starting its %s task %s", what, field, notifier_id)
        if notifier is None or not self._engine.run_now(notifier_id, trigger):
            logger.warning("%s: its %s task %s is not started: no task has that id "
                           "(removed since it was named)", what, field, notifier_id)
