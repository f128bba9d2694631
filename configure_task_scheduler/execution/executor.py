"""The executor: runs task code on a thread pool and reports what happened.

The engine hands it a `Run`; a pool thread runs the Python callable or the
shell command (see `python_call` and `shell`) and tells the engine's `RunReporter` when the run
started, when its result is known and when its thread is free again. The
executor never schedules anything and never raises into the engine: every
failure of task code becomes a `RunResult`.

A Python callable cannot be killed from outside its thread. When one exceeds
its timeout, its result is reported as `timed_out` at once, but the run is
only released (and counted as no longer running) when the call really returns.
Its thread is abandoned to the call: it no longer counts against `max_workers`
and a new worker takes its place (up to `MAX_ABANDONED_THREADS`), so one hung
callable cannot starve the other tasks. Worker threads are daemon threads: an
abandoned one never keeps the interpreter from exiting.
A callable whose signature has a `context` parameter receives a `RunContext`.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import subprocess
import threading
from datetime import datetime
from typing import Any, Protocol

from ..clock import Clock, RealClock
from ..task import Run, RunResult, RunStatus, TaskType, log_fields
from .capture import level_number
from .python_call import run_python
from .reporting import RunReporter, finish, make_result
from .shell import (
    DRAIN_SECONDS,
    KILL_GRACE_SECONDS,
    exit_summary,
    redactor_for,
    start_command,
    task_environment,
    terminate_groups,
    watch_command,
)

# A stable public name (the JSON log's "logger" field), kept from before the stage packages.
logger = logging.getLogger("configure_task_scheduler.executor")

# The most threads left to timed-out Python calls at once. Each costs little
# (a blocked thread and its stack), but a task that hangs on every run would
# otherwise add a thread per run for ever; past the cap a timed-out call keeps
# its worker, as if the pool had one worker less, until a call returns.
MAX_ABANDONED_THREADS = 16
# After the process groups are killed, how long their workers get to read the
# last output and report: the pipes close with the processes, so this is slack.
REPORT_SECONDS = 0.5
# What a shutdown adds to its timeout at most: the kill grace of the process
# groups still running, then their workers' drain and report.
TERMINATE_SECONDS = KILL_GRACE_SECONDS + DRAIN_SECONDS + REPORT_SECONDS

_this_thread = threading.local()  # .pool: the PoolExecutor a worker thread belongs to


def is_pool_thread(executor: object) -> bool:
    """True if the calling thread is one of `executor`'s workers (task code runs there).

    Such a thread must not wait for the pool's shutdown: the shutdown waits for it.
    """
    return getattr(_this_thread, "pool", None) is executor


class Executor(Protocol):
    """The seam between the engine and whatever runs task code."""

    def submit(self, run: Run, reporter: RunReporter) -> None:
        """Start `run` in the background; never blocks on task code, never raises."""

    def shutdown(self, timeout_seconds: float) -> list[Run]:
        """Wait up to `timeout_seconds` for runs in flight, then cut the rest short.

        Returns:
            The runs that were cut short (terminated, or still running).
        """


class PoolExecutor:
    """Runs each `Run` on one of up to `max_workers` threads.

    The hand-off is a `queue.SimpleQueue`: `submit` puts the run, which wakes a
    worker only if one is waiting; a new worker thread starts only when none
    is idle. (This is `ThreadPoolExecutor`'s design without the per-run
    `Future`, which the engine has no use for: it learns about a run through
    its `RunReporter`.) A run crosses threads with no other shared state: the
    executor's lock is taken by `submit` and by a worker only as it runs out
    of work (or leaves a call that outlived its timeout), so the engine's loop
    and busy workers do not contend for it.

    Args:
        max_workers: how many runs may execute at the same time.
        clock: where start and end times come from.
    """

    def __init__(self, max_workers: int = 4, clock: Clock | None = None) -> None:
        self._clock = clock or RealClock()
        self._max_workers = max_workers
        self._jobs: queue.SimpleQueue[tuple[Run, RunReporter] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        # The hand-off's invariant: `_idle` counts the workers that found the
        # queue empty and wait in `_jobs.get()` for a job no submit has claimed.
        # Both sides change it under `_lock`, and every put happens under
        # `_lock`: a submit that claims an idle worker (`_idle -= 1`) knows its
        # job will be taken, and one that finds none starts a worker (up to
        # max_workers live ones). A busy worker takes its next job without the lock.
        self._idle = 0
        self._all_left = threading.Condition(self._lock)
        self._workers: list[threading.Thread] = []
        self._working = 0  # worker threads that have not left
        self._live = 0  # workers that count against max_workers: not abandoned, not left
        self._abandoned: set[int] = set()  # workers left to a timed-out call, by number
        # Worker n's run in progress, or None, and since when (monotonic); only
        # worker n writes slot n.
        self._running: list[Run | None] = []
        self._since: list[float] = []
        # True from a run finding every worker busy until a worker finds no run
        # waiting (under `_lock`): "all workers busy" is logged once per episode.
        self._all_busy = False
        self._processes: dict[int, tuple[subprocess.Popen[bytes], Run]] = {}
        self._cancelled: set[int] = set()  # pids that cancel() terminated
        self._closed = False
        self._terminating = False  # set once: a process started from now on is killed at once
        self._starting = 0  # commands being started, not registered in _processes yet
        self._started = threading.Condition(self._lock)  # notified as each start ends

    def submit(self, run: Run, reporter: RunReporter) -> None:
        """Queue `run` for a worker thread."""
        all_busy_now = False
        with self._lock:
            closed = self._closed
            if not closed:  # put under the lock: nothing slips in behind shutdown's sentinels
                self._jobs.put((run, reporter))
                if self._idle:
                    self._idle -= 1
                elif self._live < self._max_workers:
                    self._add_worker()
                else:
                    all_busy_now, self._all_busy = not self._all_busy, True
        if closed:  # the scheduler is stopping
            release_unstarted(run, reporter)
        elif all_busy_now:
            self._log_all_busy()

    def shutdown(self, timeout_seconds: float) -> list[Run]:
        """Stop taking runs, wait for those in flight, then terminate what is left.

        It takes at most `timeout_seconds + TERMINATE_SECONDS`, and no more than
        `timeout_seconds` when no process group is left to terminate: it never
        waits for a thread abandoned to a timed-out Python call.

        Returns:
            The runs cut short: shell runs whose process group was terminated,
            and Python calls still running (their threads cannot be stopped).
        """
        self._close()
        self._release_queued()
        cut_short = self._join_workers(timeout_seconds)
        if self._terminate_processes():
            # Their workers report the terminated runs; only a callable that never
            # returns keeps its thread past this.
            self._join_workers(DRAIN_SECONDS + REPORT_SECONDS)
        return cut_short

    def terminate_now(self) -> int:
        """Take no more runs and terminate every process group of a run in flight now.

        For an exit that cannot wait (a second Ctrl-C): SIGTERM to every group
        at once, SIGKILL after `KILL_GRACE_SECONDS`. Call it from a thread that
        is not one of the pool's; a graceful `shutdown` on another thread then
        finds the runs ended.

        Returns:
            How many process groups were terminated.
        """
        self._close()
        self._release_queued()
        return self._terminate_processes()

    def cancel(self, task_id: str) -> tuple[int, int]:
        """Terminate the shell runs in flight of a task the way a timeout does.

        Each process group gets SIGTERM, then SIGKILL after KILL_GRACE_SECONDS;
        the runs end `cancelled` (never retried). A Python call cannot be
        killed from outside its thread: such runs are only counted. A run
        reported started whose process is not spawned yet is not found.

        Returns:
            (shell runs terminated, Python runs in flight that cannot be cancelled).
        """
        with self._lock:
            processes = [process for process, run in self._processes.values()
                         if run.task.task_id == task_id]
            self._cancelled.update(process.pid for process in processes)
            python_runs = sum(1 for run in self._running if run is not None
                              and run.task.task_id == task_id
                              and run.task.task_type is TaskType.PYTHON)
        for process in processes:
            logger.warning("task %s: cancelling its run in flight (process group %d)",
                           task_id, process.pid)
        terminate_groups(processes, KILL_GRACE_SECONDS, self._clock)
        return len(processes), python_runs

    def _close(self) -> None:
        """Phase 1 of shutdown: take no more runs; each worker leaves at its sentinel."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for _ in self._workers:
                self._jobs.put(None)

    def _terminate_processes(self) -> int:
        """Phase 4 of shutdown: terminate the process groups still running; return how many."""
        with self._lock:
            self._terminating = True
            # A command whose process is being created now is waited for and terminated too
            # (bounded: if fork() itself hangs, that start terminates its own process).
            self._started.wait_for(lambda: not self._starting, timeout=KILL_GRACE_SECONDS)
            running = list(self._processes.values())
            self._processes.clear()  # terminated once: a later shutdown phase skips them
        if running:
            names = ", ".join(f"{run.task.task_id} run {run.run_number} (pgid {process.pid})"
                              for process, run in running)
            logger.warning("terminating %d process group%s still running: %s; SIGTERM, then "
                           "SIGKILL after %gs", len(running), "" if len(running) == 1 else "s",
                           names, KILL_GRACE_SECONDS)
            terminate_groups([process for process, _ in running], KILL_GRACE_SECONDS,
                             self._clock)
        return len(running)

    def _add_worker(self) -> None:
        """Start one more worker thread (the caller holds the lock)."""
        number = len(self._workers)
        worker = threading.Thread(target=self._work, args=(number,), daemon=True,
                                  name=f"cts-worker-{number}")
        self._workers.append(worker)
        self._running.append(None)
        self._since.append(0.0)
        self._working += 1
        self._live += 1
        worker.start()

    def _work(self, number: int) -> None:
        _this_thread.pool = self
        abandoned = False
        while not abandoned and (job := self._next_job()) is not None:
            run, reporter = job
            self._running[number], self._since[number] = run, self._clock.monotonic()
            try:
                if self._closed:  # taken from the queue as the shutdown began
                    release_unstarted(run, reporter)
                else:
                    abandoned = self._execute(number, run, reporter)
            except Exception:  # a bug here must not cost the pool a worker
                logger.exception("task %s run %d: executor error", run.task.task_id,
                                 run.run_number)
            self._running[number] = None
        with self._lock:
            self._working -= 1
            self._all_left.notify_all()

    def _next_job(self) -> tuple[Run, RunReporter] | None:
        """Take the next job; a worker about to wait counts itself idle first."""
        try:
            return self._jobs.get_nowait()  # busy: no lock, no wait
        except queue.Empty:
            pass
        with self._lock:
            try:  # again under the lock, which every put holds: a job that came
                return self._jobs.get_nowait()  # in meanwhile is not missed, and
            except queue.Empty:  # an idle worker is never counted twice
                self._idle += 1
                self._all_busy = False
        return self._jobs.get()

    def _abandon(self, number: int, run: Run) -> None:
        """Worker `number`'s call timed out: leave the thread to it, start another worker."""
        with self._lock:
            refused = len(self._abandoned) >= MAX_ABANDONED_THREADS
            if not refused:
                self._abandoned.add(number)
                self._live -= 1
                if not self._closed:  # a closing pool starts no workers
                    self._add_worker()
                self._all_left.notify_all()  # a shutdown does not wait for this thread
            abandoned = len(self._abandoned)
        task_id, fields = run.task.task_id, log_fields(run, "worker_abandoned")
        if refused:
            logger.error("task %s run %d: its worker is not replaced: %d thread%s already "
                         "abandoned to a timed-out call (the most kept); the pool has one "
                         "worker less until a call returns", task_id, run.run_number, abandoned,
                         " is" if abandoned == 1 else "s are", extra=fields)
        else:
            logger.warning("task %s run %d: its worker thread is abandoned to the call (%d of "
                           "at most %d abandoned threads); a new worker takes its place",
                           task_id, run.run_number, abandoned, MAX_ABANDONED_THREADS,
                           extra=fields)

    def _leave_if_abandoned(self, number: int) -> bool:
        """A late call returned on worker `number`: True if the thread must leave the pool."""
        with self._lock:
            abandoned = number in self._abandoned
            self._abandoned.discard(number)
        return abandoned

    def _log_all_busy(self) -> None:
        """Say once, as runs start to wait for a worker, what keeps the workers busy."""
        now = self._clock.monotonic()
        busy = [(since, run) for run, since in zip(self._running, self._since) if run is not None]
        longest = ""
        if busy:
            since, run = min(busy, key=lambda pair: pair[0])
            longest = (f" (longest: {run.task.task_id} run {run.run_number} for "
                       f"{describe_age(now - since)})")
        waiting = self._jobs.qsize()
        logger.warning("all %d workers busy%s; %d run%s waiting", self._max_workers, longest,
                       waiting, "" if waiting == 1 else "s")

    def _release_queued(self) -> None:
        """Phase 2 of shutdown: runs still waiting for a worker never start."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                release_unstarted(*job)
            else:  # a worker's sentinel: it still needs it
                self._jobs.put(None)
                return

    def _join_workers(self, seconds: float) -> list[Run]:
        """Phase 3 (and 5) of shutdown: wait up to `seconds` for the workers to leave.

        Threads abandoned to timed-out calls are not waited for.

        Returns:
            The runs still running (an abandoned thread's run included).
        """
        with self._all_left:
            all_left = self._all_left.wait_for(
                lambda: self._working == len(self._abandoned), timeout=seconds)
            waited = [worker for number, worker in enumerate(self._workers)
                      if number not in self._abandoned]
        if all_left:
            for worker in waited:
                worker.join()  # it has left its loop: this returns at once
        return [run for run in self._running if run is not None]

    def _execute(self, number: int, run: Run, reporter: RunReporter) -> bool:
        """Run `run` on worker `number`; True if the thread was abandoned meanwhile."""
        started_at, started = self._clock.wall(), self._clock.monotonic()
        if not reporter.run_started(run, started_at, started):
            reporter.run_released(run)
            return False
        if run.task.task_type is TaskType.SHELL:
            finish(run, reporter, self._run_shell(run, started_at, started))
            return False
        # Only a call with a timeout can be abandoned to: no partial per run otherwise.
        abandon = _never if run.task.timeout_seconds is None else \
            functools.partial(self._abandon, number, run)
        late = run_python(run, reporter, self._clock, started_at, started, abandon)
        return late and self._leave_if_abandoned(number)

    def _run_shell(self, run: Run, started_at: datetime, started: float) -> RunResult:
        task, redact = run.task, redactor_for(run.task, run.secrets)
        try:
            process = self._start_process(run)
        except (OSError, ValueError) as error:  # ValueError: "=" or NUL in an env name
            message = redact(str(error))
            logger.error("task %s run %d could not start: %s", task.task_id, run.run_number,
                         message, extra=log_fields(run, "run_error"))
            return make_result(run, self._clock, started_at, started, RunStatus.FAILED,
                               error=message)
        try:
            outcome = watch_command(process, task.task_id, task.timeout_seconds, self._clock,
                                    redact, level_number(task.stderr_level), run.run_number,
                                    run.attempt)
        finally:
            with self._lock:
                self._processes.pop(process.pid, None)
                cancelled = process.pid in self._cancelled
                self._cancelled.discard(process.pid)
        status = _shell_status(run, outcome, cancelled)
        return make_result(run, self._clock, started_at, started, *status,
                           stdout_tail=outcome.stdout_tail, stderr_tail=outcome.stderr_tail)

    def _start_process(self, run: Run) -> subprocess.Popen[bytes]:
        """Start the run's command and register its process group, so that it can be terminated.

        A process exists before `Popen` returns: `_starting` counts the starts
        under way, and a termination waits for them, so none slips through.
        """
        task = run.task
        with self._lock:
            self._starting += 1
        process = None
        try:
            environment = task_environment(task, run.secrets, os.environ)
            if run.trigger is not None:  # a notification: what ended, as CTS_* variables
                environment.update(run.trigger.environment())
            process = start_command(task, environment)
        finally:
            with self._lock:
                self._starting -= 1
                if process is not None:
                    self._processes[process.pid] = (process, run)
                terminating = self._terminating
                self._started.notify_all()
        if process is not None and terminating:  # started as the others were terminated
            terminate_groups([process], KILL_GRACE_SECONDS, self._clock)
        assert process is not None
        return process


def _shell_status(run: Run, outcome: Any, cancelled: bool) -> tuple[RunStatus, int, str]:
    """Return (status, exit code, error summary) of a finished command."""
    if cancelled:
        return (RunStatus.CANCELLED, outcome.exit_code,
                "cancelled on request; process group terminated")
    if outcome.timed_out:
        error = f"timed out after {run.task.timeout_seconds:g}s; process group terminated"
        return RunStatus.TIMED_OUT, outcome.exit_code, error
    if outcome.exit_code != 0:
        return RunStatus.FAILED, outcome.exit_code, exit_summary(outcome.exit_code)
    return RunStatus.SUCCEEDED, outcome.exit_code, ""


def describe_age(seconds: float) -> str:
    """Return a duration the way a log line says it: "42s", "12m", "3h05m"."""
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m"
    return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"


def _never() -> None:
    """The `abandon` of a call without a timeout: it is never called."""


def release_unstarted(run: Run, reporter: RunReporter) -> None:
    """Release a run that never started because the scheduler is stopping."""
    logger.warning("task %s run %d not started: the scheduler is stopping",
                   run.task.task_id, run.run_number, extra=log_fields(run, "run_cancelled"))
    reporter.run_released(run)
