"""The executor: runs task code on a thread pool and reports what happened.

The engine hands it a `Run`; a pool thread runs the Python callable or the
shell command and tells the engine's `RunReporter` when the run started, when
its result is known and when its thread is free again. The executor never
schedules anything and never raises into the engine: every failure of task
code becomes a `RunResult`.

Shell commands run in their own process group, so a timeout or a shutdown
terminates the whole group (grandchildren included): SIGTERM, then SIGKILL
after `KILL_GRACE_SECONDS`. Their output is read as it comes and logged line by
line; only the last `OUTPUT_TAIL_BYTES` of each stream are kept in memory.

A Python callable cannot be killed from outside its thread. When one exceeds
its timeout, its result is reported as `timed_out` at once, but the run is
only released (and counted as no longer running) when the call really returns.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import subprocess
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime
from typing import IO, Protocol

from .clock import Clock, RealClock
from .task import Run, RunResult, RunStatus, TaskType

logger = logging.getLogger(__name__)

# Long enough for a well-behaved program to clean up, short enough that a
# shutdown or a timeout is not held up by one that ignores SIGTERM.
KILL_GRACE_SECONDS = 2.0
# What the result record keeps of each output stream; older output is dropped.
OUTPUT_TAIL_BYTES = 64 * 1024
# After the command exits, how long to keep reading output held open by
# background processes it started.
DRAIN_SECONDS = 0.5
# The longest a pool thread waits before checking again whether its process
# exited; an exit normally wakes it at once by closing the pipes.
POLL_SECONDS = 0.5


class RunReporter(Protocol):
    """Who the executor tells about a run; the engine implements this."""

    def run_started(self, run: Run, started_at: datetime, started_monotonic: float) -> None:
        """The run's code is about to start."""

    def run_finished(self, run: Run, result: RunResult) -> None:
        """The run's result is known (for a timed-out callable: before it returns)."""

    def run_released(self, run: Run) -> None:
        """The run's thread is free: the run no longer counts as running."""


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
    """Runs each `Run` on a `ThreadPoolExecutor`.

    Args:
        max_workers: how many runs may execute at the same time.
        clock: where start and end times come from.
    """

    def __init__(self, max_workers: int = 4, clock: Clock | None = None) -> None:
        self._clock = clock or RealClock()
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="task-worker")
        self._lock = threading.Lock()
        self._in_flight: dict[Future[None], Run] = {}
        self._processes: dict[int, subprocess.Popen[bytes]] = {}

    def submit(self, run: Run, reporter: RunReporter) -> None:
        """Queue `run` for a pool thread."""
        try:
            future = self._pool.submit(self._execute, run, reporter)
        except RuntimeError:  # the pool is shut down: the scheduler is stopping
            release_unstarted(run, reporter)
            return
        with self._lock:
            self._in_flight[future] = run
        future.add_done_callback(lambda done: self._forget(done, reporter))

    def shutdown(self, timeout_seconds: float) -> list[Run]:
        """Stop taking runs, wait for those in flight, then terminate what is left."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            futures = list(self._in_flight)
        _, not_done = wait(futures, timeout=timeout_seconds)
        with self._lock:
            cut_short = [self._in_flight[f] for f in not_done if f in self._in_flight]
            processes = list(self._processes.values())
        for process in processes:
            terminate_group(process, KILL_GRACE_SECONDS)
        _, still_running = wait(not_done, timeout=KILL_GRACE_SECONDS + DRAIN_SECONDS + 1)
        if not still_running:  # only callables that never return could keep a thread
            self._pool.shutdown(wait=True)
        return cut_short

    def _forget(self, future: Future[None], reporter: RunReporter) -> None:
        with self._lock:
            run = self._in_flight.pop(future, None)
        if run is not None and future.cancelled():  # still queued when shutdown began
            release_unstarted(run, reporter)

    def _execute(self, run: Run, reporter: RunReporter) -> None:
        started_at, started = self._clock.wall(), self._clock.monotonic()
        reporter.run_started(run, started_at, started)
        if run.task.task_type is TaskType.SHELL:
            result = self._run_shell(run, started_at, started)
            reporter.run_released(run)
            reporter.run_finished(run, result)
        else:
            run_python(run, reporter, self._clock, started_at, started)

    def _run_shell(self, run: Run, started_at: datetime, started: float) -> RunResult:
        task = run.task
        try:
            process = start_shell(task.entry_point)
        except OSError as error:
            logger.error("task %s run %d could not start: %s", task.task_id, run.run_number, error)
            return self._result(run, started_at, started, RunStatus.FAILED, error=str(error))
        with self._lock:
            self._processes[process.pid] = process
        try:
            timed_out = watch_process(process, task.task_id, task.timeout_seconds, self._clock)
        finally:
            with self._lock:
                self._processes.pop(process.pid, None)
        return self._shell_result(run, started_at, started, process.returncode, timed_out)

    def _shell_result(self, run: Run, started_at: datetime, started: float,
                      exit_code: int, timed_out: bool) -> RunResult:
        if timed_out:
            error = f"timed out after {run.task.timeout_seconds:g}s; process group terminated"
            return self._result(run, started_at, started, RunStatus.TIMED_OUT, exit_code, error)
        if exit_code != 0:
            return self._result(run, started_at, started, RunStatus.FAILED, exit_code,
                                describe_exit(exit_code))
        return self._result(run, started_at, started, RunStatus.SUCCEEDED, exit_code)

    def _result(self, run: Run, started_at: datetime, started: float, status: RunStatus,
                exit_code: int | None = None, error: str = "") -> RunResult:
        return make_result(run, self._clock, started_at, started, status, exit_code, error)


def release_unstarted(run: Run, reporter: RunReporter) -> None:
    """Release a run that never started because the scheduler is stopping."""
    logger.warning("task %s run %d not started: the scheduler is stopping",
                   run.task.task_id, run.run_number)
    reporter.run_released(run)


def make_result(run: Run, clock: Clock, started_at: datetime, started: float,
                status: RunStatus, exit_code: int | None = None, error: str = "") -> RunResult:
    """Build the result record of a run that started at `started_at` and ends now."""
    return RunResult(
        task_id=run.task.task_id, run_number=run.run_number, planned_at=run.planned_at,
        started_at=started_at, ended_at=clock.wall(),
        duration_seconds=clock.monotonic() - started, status=status,
        exit_code=exit_code, error=error,
    )


def run_python(run: Run, reporter: RunReporter, clock: Clock,
               started_at: datetime, started: float) -> None:
    """Call the task's callable in this thread, reporting its result exactly once.

    With a timeout, a timer reports `timed_out` if the call has not returned
    by then; the call's own outcome is then only logged.
    """
    task = run.task
    claim = _FirstClaim()
    timer = _start_timeout_timer(run, reporter, clock, started_at, started, claim)
    try:
        assert task.target is not None, "python tasks are resolved by the loader"
        task.target(*task.args, **task.kwargs)
        result = make_result(run, clock, started_at, started, RunStatus.SUCCEEDED)
    except Exception as error:  # a task's failure must never reach the scheduler
        logger.error("task %s run %d raised %s", task.task_id, run.run_number,
                     type(error).__name__, exc_info=True)
        result = make_result(run, clock, started_at, started, RunStatus.FAILED,
                             error=f"{type(error).__name__}: {error}")
    if timer is not None:
        timer.cancel()
    reporter.run_released(run)
    if claim.take():
        reporter.run_finished(run, result)
    else:
        logger.warning("task %s run %d returned %.2fs after it timed out: %s",
                       task.task_id, run.run_number,
                       result.duration_seconds - (task.timeout_seconds or 0), result.status.value)


class _FirstClaim:
    """A flag that exactly one of two racing threads can take."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken = False

    def take(self) -> bool:
        with self._lock:
            taken, self._taken = self._taken, True
            return not taken


def _start_timeout_timer(run: Run, reporter: RunReporter, clock: Clock, started_at: datetime,
                         started: float, claim: _FirstClaim) -> threading.Timer | None:
    timeout = run.task.timeout_seconds
    if timeout is None:
        return None

    def report_timeout() -> None:
        if claim.take():
            logger.error("task %s run %d timed out after %gs; a Python callable cannot be "
                         "killed, it keeps its thread until it returns",
                         run.task.task_id, run.run_number, timeout)
            error = f"timed out after {timeout:g}s (the call is still running)"
            reporter.run_finished(run, make_result(run, clock, started_at, started,
                                                   RunStatus.TIMED_OUT, error=error))

    timer = threading.Timer(timeout, report_timeout)
    timer.name = f"timeout-{run.task.task_id}"
    timer.daemon = True
    timer.start()
    return timer


def start_shell(entry_point: str | tuple[str, ...]) -> subprocess.Popen[bytes]:
    """Start a command in a new session (so its process group can be killed as one).

    A string runs through /bin/sh -c, like cron; a tuple is executed directly.
    """
    return subprocess.Popen(
        entry_point if isinstance(entry_point, str) else list(entry_point),
        shell=isinstance(entry_point, str), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )


def watch_process(process: subprocess.Popen[bytes], task_id: str,
                  timeout_seconds: float | None, clock: Clock) -> bool:
    """Log the process's output line by line until it exits; enforce the timeout.

    Returns:
        True if the process group was terminated because of the timeout.
    """
    assert process.stdout is not None and process.stderr is not None
    streams = {process.stdout: logging.INFO, process.stderr: logging.WARNING}
    watch = _OutputWatch(task_id, streams, clock)
    timed_out = not watch.read_until(process, timeout_seconds)
    if timed_out:
        logger.error("task %s timed out after %gs; terminating its process group",
                     task_id, timeout_seconds)
        terminate_group(process, KILL_GRACE_SECONDS, watch)
    watch.close()
    return timed_out


class _OutputWatch:
    """Reads a process's pipes without blocking, logging each complete line."""

    def __init__(self, task_id: str, streams: dict[IO[bytes], int], clock: Clock) -> None:
        self._task_id = task_id
        self._now = clock.monotonic
        self._selector = selectors.DefaultSelector()
        self._partial: dict[IO[bytes], bytearray] = {}
        self._levels = dict(streams)
        for stream, level in streams.items():
            self._selector.register(stream, selectors.EVENT_READ, level)
            self._partial[stream] = bytearray()

    def read_until(self, process: subprocess.Popen[bytes], seconds: float | None) -> bool:
        """Read output until the process has exited and its pipes are drained.

        Returns:
            False if `seconds` ran out first.
        """
        deadline = None if seconds is None else self._now() + seconds
        while process.poll() is None:
            remaining = POLL_SECONDS if deadline is None else deadline - self._now()
            if remaining <= 0:
                return False
            self._read_ready(process, min(remaining, POLL_SECONDS))
        self._drain(process)
        return True

    def _drain(self, process: subprocess.Popen[bytes]) -> None:
        deadline = self._now() + DRAIN_SECONDS
        while self._selector.get_map() and self._now() < deadline:
            self._read_ready(process, deadline - self._now())

    def _read_ready(self, process: subprocess.Popen[bytes], seconds: float) -> None:
        if not self._selector.get_map():  # both pipes closed: only the exit is left
            _wait(process, seconds)
            return
        for key, _ in self._selector.select(seconds):
            stream: IO[bytes] = key.fileobj  # type: ignore[assignment]
            chunk = os.read(stream.fileno(), 65536)
            if chunk:
                self._take(stream, chunk, key.data)
            else:
                self._flush(stream, key.data)
                self._selector.unregister(stream)

    def _take(self, stream: IO[bytes], chunk: bytes, level: int) -> None:
        partial = self._partial[stream]
        partial += chunk
        *lines, rest = partial.split(b"\n")
        for line in lines:
            self._log(line, level)
        # A line longer than the tail bound is flushed in pieces to bound memory.
        if len(rest) > OUTPUT_TAIL_BYTES:
            self._log(rest, level)
            rest = bytearray()
        self._partial[stream] = bytearray(rest)

    def _flush(self, stream: IO[bytes], level: int) -> None:
        if self._partial[stream]:
            self._log(bytes(self._partial[stream]), level)
            self._partial[stream].clear()

    def _log(self, line: bytes | bytearray, level: int) -> None:
        logger.log(level, "task %s | %s", self._task_id,
                   line.decode("utf-8", "replace").rstrip("\r"))

    def close(self) -> None:
        # Pipes still open here (a background process holds them) keep a partial line.
        for stream, level in self._levels.items():
            self._flush(stream, level)
        self._selector.close()


def terminate_group(process: subprocess.Popen[bytes], grace_seconds: float,
                    watch: _OutputWatch | None = None) -> None:
    """SIGTERM the process's whole group, then SIGKILL it after `grace_seconds`."""
    _signal_group(process.pid, signal.SIGTERM)
    exited = watch.read_until(process, grace_seconds) if watch else _wait(process, grace_seconds)
    # Even if the leader exited on SIGTERM, children that ignore it must not survive.
    _signal_group(process.pid, signal.SIGKILL)
    if not exited:
        _wait(process, grace_seconds)


def _wait(process: subprocess.Popen[bytes], seconds: float) -> bool:
    try:
        process.wait(seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


def describe_exit(exit_code: int) -> str:
    """Return "exit code 3" or, for a negative code, "killed by SIGKILL"."""
    if exit_code < 0:
        try:
            return f"killed by {signal.Signals(-exit_code).name}"
        except ValueError:
            return f"killed by signal {-exit_code}"
    return f"exit code {exit_code}"
