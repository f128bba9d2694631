"""`PoolExecutor.cancel`: a task's shell runs in flight end like a timeout, as `cancelled`.

Real processes: the run's process group gets SIGTERM (then SIGKILL), its result
says so, and runs of other tasks go on. A Python run is only counted: it
cannot be killed from outside its thread.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timezone

from conftest import RecordingReporter, shell_task, wait_until

from configure_task_scheduler.execution import PoolExecutor
from configure_task_scheduler.schedules import IntervalSchedule
from configure_task_scheduler.task import Run, RunStatus, Task, TaskType

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_cancel_ends_the_tasks_shell_runs_as_cancelled_and_spares_others(
        executor: PoolExecutor, reporter: RecordingReporter) -> None:
    for task_id in ("doomed", "other"):
        task = replace(shell_task(task_id, 60), entry_point="sleep 30")
        executor.submit(Run(task, 1, START, 0.0), reporter)
    wait_until(lambda: sum(call[0] == "started" for call in reporter.calls) == 2)
    # Reported started just before its process exists: cancel finds it once it does.
    wait_until(lambda: executor.cancel("doomed") == (1, 0))
    result = reporter.result_of("doomed")
    assert (result.status, result.exit_code, result.error) == (
        RunStatus.CANCELLED, -15, "cancelled on request; process group terminated")
    assert ("finished", "other") not in reporter.calls
    wait_until(lambda: executor.cancel("other") == (1, 0))
    assert reporter.result_of("other").status is RunStatus.CANCELLED


def test_cancel_counts_a_python_run_it_cannot_stop(executor: PoolExecutor,
                                                   reporter: RecordingReporter) -> None:
    release = threading.Event()
    task = Task("python", TaskType.PYTHON, "tests:hold", IntervalSchedule(60),
                target=lambda: release.wait(10))
    executor.submit(Run(task, 1, START, 0.0), reporter)
    reporter.started.wait(10)
    try:
        assert executor.cancel("python") == (0, 1)
        assert executor.cancel("nothing") == (0, 0)
    finally:
        release.set()
    assert reporter.result_of("python").status is RunStatus.SUCCEEDED
