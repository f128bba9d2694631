"""`--run TASK`: one run of one task in the foreground, on a pool of one worker.

The CLI calls `execute_now` and prints the result. A stop signal ends the
run the way a shutdown would (a shell command's process group is
terminated; a Python call cannot be stopped and is left). It never plans or
retries: exactly one attempt runs.
"""

from __future__ import annotations

import logging
import threading

from .clock import RealClock
from .execution import TERMINATE_SECONDS, PoolExecutor
from .signals import SignalActions, handling, run_awake_to_signals
from .task import Run, RunResult, Secrets, Task, log_fields

# The CLI's logger: "task X started" stays a line of the CLI's, as before.
logger = logging.getLogger("configure_task_scheduler.cli")


def execute_now(task: Task, secrets: Secrets) -> tuple[RunResult | None, int | None]:
    """Run `task` on a pool of one; return its result (None if cut short) and the stop signal."""
    clock = RealClock()
    executor = PoolExecutor(max_workers=1, clock=clock)
    reporter = _OneResult()
    received: list[int] = []

    # The handler only notes the signal and wakes the wait: it runs in the main
    # thread, which may be inside submit() holding the executor's lock.
    def interrupt(signum: int) -> None:
        if not received:
            received.append(signum)
            reporter.done.set()

    actions = SignalActions(stop=interrupt, reload=None, quit_now=interrupt,
                            status_lines=lambda: [f"{task.task_id}: running (--run)"])
    with handling(actions):
        executor.submit(Run(task, 1, clock.wall(), clock.monotonic(), secrets=secrets), reporter)
        run_awake_to_signals(reporter.done.wait)
        if received and executor.terminate_now():  # a shell run's worker reports its end
            reporter.finished.wait(TERMINATE_SECONDS)
    executor.shutdown(0)
    return reporter.result, (received[0] if received else None)


class _OneResult:
    """A `RunReporter` that keeps the result of a single run."""

    def __init__(self) -> None:
        self.done = threading.Event()  # the result is known, or a stop signal came
        self.finished = threading.Event()  # the result is known
        self.result: RunResult | None = None

    def run_started(self, run: Run, started_at: object, started_monotonic: float) -> bool:
        logger.info("task %s started", run.task.task_id, extra=log_fields(run, "run_started"))
        return True

    def run_finished(self, run: Run, result: RunResult) -> None:
        self.result = result
        self.finished.set()
        self.done.set()

    def run_released(self, run: Run) -> None:
        pass
