"""Python tasks: call the task's function on a pool thread, racing its timeout.

The executor calls `run_python` on a worker. A callable cannot be killed
from outside its thread: when it outlives its timeout, the run is reported
`timed_out` at once and the worker is abandoned to the call (`abandon`);
the run is released only when the call really returns. What the call prints
is captured when capture is on (see `capture`), and its failures become a
result with every secret hidden. It never schedules and never raises.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..clock import Clock
from ..task import Run, RunContext, RunResult, RunStatus, log_fields
from .capture import RunOutput
from .reporting import RunReporter, finish, make_result
from .shell import Redactor, redactor_for

# The executor's stable public logger name (the JSON log's "logger" field).
logger = logging.getLogger("configure_task_scheduler.executor")


def run_python(run: Run, reporter: RunReporter, clock: Clock, started_at: datetime,
               started: float, abandon: Callable[[], None] = lambda: None) -> bool:
    """Call the task's callable in this thread; the call and its timeout race to end the run.

    Args:
        abandon: called on the timer's thread once the run is reported timed out.

    Returns:
        True if the call returned after its timeout (and after `abandon`).
    """
    if run.task.timeout_seconds is None:  # nothing races the call: no shared state to decide
        output = RunOutput(run, redactor_for(run.task, run.secrets))
        status, error_text = _call(run, output)
        result = _result(run, clock, started_at, started, output, status, error_text)
        finish(run, reporter, result)
        return False
    call = _PythonCall(run, reporter, clock, started_at, started, abandon)
    timer = call.start_timer()
    status, error_text = _call(run, call.output)
    if timer is not None:
        timer.cancel()
    return call.returned(call.result(status, error_text))


def _call(run: Run, output: RunOutput) -> tuple[RunStatus, str]:
    """Make the call, its prints captured (if capture is on) and its log records tagged.

    Returns:
        How it ended, and the error (secrets hidden) if it raised.
    """
    with output:
        try:
            call_target(run)
        # BaseException too: a task calling sys.exit() must not take its worker
        # thread down with it (the run would stay "running" and the pool shrink).
        except BaseException as error:
            _log_failure(run, error, output.redact)
            return RunStatus.FAILED, output.redact(f"{type(error).__name__}: {error}")
    return RunStatus.SUCCEEDED, ""


def _result(run: Run, clock: Clock, started_at: datetime, started: float, output: RunOutput,
            status: RunStatus, error: str) -> RunResult:
    """The result of a Python run ending now, with the tails of what it printed."""
    stdout_tail, stderr_tail = output.tails()
    return make_result(run, clock, started_at, started, status, error=error,
                       stdout_tail=stdout_tail, stderr_tail=stderr_tail)


_NO_TIMER = threading.Event()  # what a call without a timer waits on: never abandoned
_NO_TIMER.set()


class _PythonCall:
    """One Python run, shared by the thread making the call and its timeout timer.

    Whichever ends first ends the run: `returned` (the call came back) or
    `timed_out` (the timer fired). The lock makes that decision once; a call
    that returns after its timeout only frees the run and logs how it ended,
    once the timer has told the pool (`abandon`), so the pool's decision about
    the thread is made before the thread asks for it.
    """

    __slots__ = ("run", "reporter", "clock", "started_at", "started", "output", "_abandon",
                 "_lock", "_ended", "_abandoned")

    def __init__(self, run: Run, reporter: RunReporter, clock: Clock,
                 started_at: datetime, started: float, abandon: Callable[[], None]) -> None:
        self.run, self.reporter, self.clock = run, reporter, clock
        self.started_at, self.started = started_at, started
        self.output = RunOutput(run, redactor_for(run.task, run.secrets))
        self._abandon = abandon
        self._lock = threading.Lock()
        self._ended = False
        self._abandoned = _NO_TIMER  # start_timer's own Event, set once `abandon` was called

    def start_timer(self) -> threading.Timer | None:
        """Start the timeout timer, if the task has a timeout."""
        timeout = self.run.task.timeout_seconds
        if timeout is None:
            return None
        self._abandoned = threading.Event()  # only a run with a timer can be abandoned
        timer = threading.Timer(timeout, self.timed_out)
        timer.name, timer.daemon = f"timeout-{self.run.task.task_id}", True
        timer.start()
        return timer

    def result(self, status: RunStatus, error: str = "") -> RunResult:
        return _result(self.run, self.clock, self.started_at, self.started, self.output,
                       status, error)

    def _end(self) -> bool:
        """True for the first caller only: it is the one that ends the run."""
        with self._lock:
            first, self._ended = not self._ended, True
        return first

    def returned(self, result: RunResult) -> bool:
        """The call came back: end the run, or, if it timed out before, just free it.

        Returns:
            True if it came back after its timeout.
        """
        if self._end():
            finish(self.run, self.reporter, result)
            return False
        self._abandoned.wait()  # the timer is about to set it: it has ended the run
        self.reporter.run_released(self.run)
        run, timeout = self.run, self.run.task.timeout_seconds or 0.0
        logger.warning("task %s run %d returned %.2fs after it timed out: %s",
                       run.task.task_id, run.run_number, result.duration_seconds - timeout,
                       result.status.value,
                       extra=log_fields(run, "run_returned_late", result.status))
        return True

    def timed_out(self) -> None:
        """The timer fired: report the run as timed out; its thread stays busy until it returns."""
        if not self._end():
            return
        run, timeout = self.run, self.run.task.timeout_seconds
        logger.error("task %s run %d timed out after %gs; a Python callable cannot be "
                     "killed, it keeps its thread until it returns",
                     run.task.task_id, run.run_number, timeout,
                     extra=log_fields(run, "run_error", RunStatus.TIMED_OUT))
        error = f"timed out after {timeout:g}s (the call is still running)"
        try:  # first: a listener told of the timeout may stop the scheduler, whose
            self._abandon()  # shutdown must not wait for this thread
        finally:
            self._abandoned.set()
        self.reporter.run_finished(run, self.result(RunStatus.TIMED_OUT, error))


def _log_failure(run: Run, error: BaseException, redact: Redactor) -> None:
    """Log a callable's exception with its traceback, every secret value hidden.

    A traceback repeats the exception's message (and its causes'): it may hold
    a secret. So it is rendered and redacted here, as the record's `exc_text`,
    which logging's formatters show in place of rendering `exc_info`; the
    exception itself is left out of the record when there is a secret to hide.
    """
    if not logger.isEnabledFor(logging.ERROR):
        return
    trace = redact("".join(traceback.format_exception(error)).rstrip("\n"))
    exc_info = None if redact else (type(error), error, error.__traceback__)
    path, line, function, _ = logger.findCaller()
    record = logger.makeRecord(logger.name, logging.ERROR, path, line,
                               "task %s run %d raised %s",
                               (run.task.task_id, run.run_number, type(error).__name__),
                               exc_info, function, log_fields(run, "run_error", RunStatus.FAILED))
    record.exc_text = trace
    logger.handle(record)


def call_target(run: Run) -> Any:
    """Call a python task's function, with `context=` if its signature asks for it."""
    task = run.task
    assert task.target is not None, "python tasks are resolved by the loader"
    if not accepts_context(task.target):
        return task.target(*task.args, **task.kwargs)
    context = RunContext(task.task_id, run.run_number, run.attempt, run.planned_at, task.env,
                         run.trigger)
    return task.target(*task.args, **task.kwargs, context=context)


def accepts_context(target: Callable[..., Any]) -> bool:
    """True if `target` has a parameter named `context` that can be passed by keyword.

    `**kwargs` does not count: only a callable that names `context` receives it.
    """
    try:
        return _has_context_parameter(target)
    except TypeError:  # an unhashable callable: look every time
        return _has_context_parameter.__wrapped__(target)


@functools.lru_cache(maxsize=4096)
def _has_context_parameter(target: Callable[..., Any]) -> bool:
    try:
        parameter = inspect.signature(target).parameters.get("context")
    except (TypeError, ValueError):  # builtins without a signature
        return False
    # `*context` and a positional-only `context` cannot take `context=`; `**context`
    # is a catch-all like `**kwargs`.
    return parameter is not None and parameter.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
