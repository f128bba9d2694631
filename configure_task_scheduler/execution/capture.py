"""Python tasks' output: what a task's thread writes, logged and kept like a shell task's.

A shell task's output comes through its own pipes; a Python task writes to
`sys.stdout` and `sys.stderr`, which the whole process shares. While capture
is on (`capture_output()`: the CLI, or `Scheduler(capture_output=True)`),
both are `_StreamProxy` objects: a write from a thread that is running a task
goes to that run's `RunOutput` (a `LineLogger` and an `OutputTail` per
stream, as for a shell command), and any other write to the stream that was
there before. `RunLogFilter`, put on a logging handler, gives the records a
running task logs its run fields and hides its secrets. Off (the library's
default), nothing global is touched. Threads a task starts itself are not
attributed to it, and writes to file descriptor 1 or 2 bypass all of this.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, TextIO

from ..task import STDERR_LEVELS, Run, log_fields
from .shell import LineLogger, OutputTail, Redactor

# A stable public name (the JSON log's "logger" field) for the lines Python tasks write.
logger = logging.getLogger("configure_task_scheduler.capture")

_LEVELS: dict[str, int] = {name: logging.getLevelName(name) for name in STDERR_LEVELS}


def level_number(name: str) -> int:
    """Return the logging level of a `stderr_level` name ("INFO" -> 20)."""
    return _LEVELS[name]


class _Current(threading.local):
    """Per thread: the run it is executing (if any), and whether it is logging a line."""

    output: RunOutput | None = None
    emitting = False


_current = _Current()


class RunOutput:
    """One Python run's output and log attribution, on the thread that runs it.

    `with output:` marks the current thread as running the task; leaving the
    block logs the last unfinished lines and ends the tails. Only that thread
    writes; the tails may be read from another (a timeout timer), hence the lock.
    """

    def __init__(self, run: Run, redact: Redactor) -> None:
        self.run, self.redact = run, redact
        self._lock = threading.Lock()
        self._previous: RunOutput | None = None  # the thread's run before `with` (none)
        self._streams: dict[str, tuple[LineLogger, OutputTail]] = {}
        if _proxies is not None:  # capture is on: this run's writes are its own
            levels = {"stdout": logging.INFO, "stderr": level_number(run.task.stderr_level)}
            self._streams = {name: (self._line_logger(level), OutputTail(redact))
                             for name, level in levels.items()}

    def _line_logger(self, level: int) -> LineLogger:
        fields, task_id = log_fields(self.run, "output"), self.run.task.task_id

        def emit(text: str) -> None:
            logger.log(level, "task %s | %s", task_id, text, extra=fields)
        return LineLogger(emit, self.redact, wanted=functools.partial(logger.isEnabledFor, level))

    def __enter__(self) -> RunOutput:
        self._previous, _current.output = _current.output, self
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        _current.output = self._previous
        if not self._streams:  # capture is off: nothing to flush (the common, cheap case)
            return
        with _emitting():
            for lines, _ in self._streams.values():
                lines.close()
        with self._lock:
            for _, tail in self._streams.values():
                tail.end()

    def write(self, stream: str, text: str) -> bool:
        """Take what the task wrote to "stdout" or "stderr"; False if it is not captured."""
        pair = self._streams.get(stream)
        if pair is None:
            return False
        data = text.encode("utf-8", "backslashreplace")
        with self._lock:
            pair[1].feed(data)
        with _emitting():
            pair[0].feed(data)
        return True

    def tails(self) -> tuple[str, str]:
        """Return the (stdout, stderr) tails so far ("" when output is not captured)."""
        if not self._streams:
            return "", ""
        with self._lock:
            texts = [tail.text() for _, tail in self._streams.values()]  # stdout, stderr
        return (texts[0], texts[1]) if texts else ("", "")

    def tag(self, record: logging.LogRecord) -> None:
        """Give `record` this run's fields (where it has none) and hide the task's secrets."""
        run = self.run  # made here, not per run: most runs log nothing
        fields = {"task_id": run.task.task_id, "run": run.run_number, "attempt": run.attempt}
        for name, value in fields.items():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        if self.redact:
            _redact_record(record, self.redact)


@contextlib.contextmanager
def _emitting() -> Iterator[None]:
    """While a captured line is logged, this thread's writes go to the real streams:
    a handler writing to `sys.stderr` must not be captured into a line again."""
    before, _current.emitting = _current.emitting, True
    try:
        yield
    finally:
        _current.emitting = before


def _redact_record(record: logging.LogRecord, redact: Callable[[str], str]) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a bad format: logging reports it when the record is formatted
        return
    redacted = redact(message)
    if record.exc_info and record.exc_info[1] is not None:
        trace = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if redact(trace) != trace:  # the traceback shows a secret: it joins the message
            redacted = f"{redacted}\n{redact(trace)}"
            record.exc_info, record.exc_text = None, None
    if redacted != message:
        record.msg, record.args = redacted, ()


class RunLogFilter(logging.Filter):
    """A handler filter: records logged by a thread running a task get its `task_id`,
    `run` and `attempt` (unless they have their own), and the task's secrets as "***".

    Put it on every handler that may see a task's records (`handler.addFilter(...)`);
    the CLI puts it on its own. It works whether or not output is captured.
    """

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 (logging's name)
        """Keep the record, and also add it to the output of the run logging it, if any."""
        output = _current.output
        if output is not None:
            output.tag(record)
        return True


class _StreamProxy:
    """Stands in for sys.stdout or sys.stderr while capture is on (see the module)."""

    def __init__(self, original: TextIO | None, name: str) -> None:
        # None: the process has no such stream (started with it closed); print() drops text.
        self.original, self._name = original, name
        self.active = True

    def write(self, text: str) -> int:
        output = _current.output
        if output is None or _current.emitting or not self.active \
                or not output.write(self._name, text):
            return self.original.write(text) if self.original is not None else len(text)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self.original is not None:
            self.original.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty(), fileno(), buffer, ...
        return getattr(self.original, name)


_install_lock = threading.Lock()
_installs = 0  # nested capture_output() blocks; the proxies go when it drops to 0
_proxies: tuple[_StreamProxy, _StreamProxy] | None = None


@contextlib.contextmanager
def capture_output() -> Iterator[None]:
    """Capture what Python tasks write to sys.stdout and sys.stderr while the block runs.

    Blocks may nest (two schedulers); the streams found on entry to the
    outermost are put back when it exits. A stream someone else replaced in
    the meantime is left alone, and the proxy under it passes everything on.
    """
    _install()
    try:
        yield
    finally:
        _uninstall()


def _install() -> None:
    global _installs, _proxies
    with _install_lock:
        if _installs == 0:
            _proxies = (_StreamProxy(sys.stdout, "stdout"), _StreamProxy(sys.stderr, "stderr"))
            sys.stdout, sys.stderr = _proxies
        _installs += 1


def _uninstall() -> None:
    global _installs, _proxies
    with _install_lock:
        _installs -= 1
        if _installs or _proxies is None:
            return
        stdout, stderr = _proxies
        _proxies = None
        stdout.active = stderr.active = False
        if sys.stdout is stdout:
            sys.stdout = stdout.original
        if sys.stderr is stderr:
            sys.stderr = stderr.original
