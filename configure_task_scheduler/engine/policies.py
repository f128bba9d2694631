"""Execution policies: may this run start, and should a failed one be retried?

Pure functions of a task's settings and plain numbers, used by the engine
when a run becomes due, when its code is about to start and when it ends:
overlap (`max_instances`), misfire (`misfire_grace_seconds`) and retries
with exponential backoff. Nothing here touches a clock, a lock or a thread.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from ..task import RunStatus, Task

# Lateness worth a warning even without a misfire grace: a second means the
# machine or the pool was too busy to start the run on time.
LATE_WARNING_SECONDS = 1.0

RETRYABLE = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT})


def overlap_reason(task: Task, running_since: Collection[datetime],
                   queued_since: Collection[datetime] = ()) -> str:
    """Return why a due run must be skipped because of runs in flight, or "".

    Args:
        task: the task, for its `max_instances`.
        running_since: when each of its runs in flight started running.
        queued_since: when each of its runs waiting for a free worker was planned.
    """
    count = len(running_since) + len(queued_since)
    if count < task.max_instances:
        return ""
    since = _clock_time(min((*running_since, *queued_since)))
    if task.max_instances == 1 and running_since:
        return f"previous run still running since {_clock_time(min(running_since))}"
    if task.max_instances == 1:
        return f"previous run still waiting for a free worker since {since}"
    if not queued_since:
        return f"{count} runs still running, the oldest since {since}"
    return (f"{count} runs in flight ({len(running_since)} running, {len(queued_since)} "
            f"waiting for a free worker), the oldest since {since}")


def _clock_time(when: datetime) -> str:
    return when.astimezone().strftime("%H:%M:%S")


def misfire_reason(task: Task, lateness_seconds: float) -> str:
    """Return why a run that would start this late is `missed`, or "" if it may start."""
    grace = task.misfire_grace_seconds
    if grace is None or lateness_seconds <= grace:
        return ""
    return f"{lateness_seconds:.3f}s late, more than misfire_grace_seconds={grace:g}"


def retry_delay(task: Task, status: RunStatus, attempt: int) -> float | None:
    """Return the wait before the attempt after `attempt`, or None for no retry.

    The first retry waits retry_delay_seconds; each later one waits
    retry_backoff times longer, at most retry_max_delay_seconds.
    """
    if status not in RETRYABLE or attempt > task.retries:
        return None
    delay = task.retry_delay_seconds * task.retry_backoff ** (attempt - 1)
    return float(min(delay, task.retry_max_delay_seconds))
