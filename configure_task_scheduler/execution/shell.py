"""Shell tasks: start a command in its own process group, watch its output, stop it.

The executor calls `start_command`, then `watch_command`, on a pool thread.
The command runs in a new session, so a timeout or a shutdown terminates its
whole process group, grandchildren included (SIGTERM, then SIGKILL after
`KILL_GRACE_SECONDS`). Output is read as it comes, without a thread per pipe:
each stream feeds a `LineLogger` (stdout at INFO, stderr at the task's
`stderr_level`, WARNING by default) and an `OutputTail` (its last
`OUTPUT_TAIL_BYTES`), so a command printing gigabytes costs no memory. It
builds the command's environment (`task_environment`: the other tasks'
secrets withheld) and replaces every secret value by "***" wherever output
is shown.
"""

from __future__ import annotations

import functools
import logging
import os
import selectors
import signal
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from ..clock import Clock
from ..task import BASE_ENVIRONMENT_NAMES, Secrets, Task

# A stable public name (the JSON log's "logger" field), kept from before the stage packages.
logger = logging.getLogger("configure_task_scheduler.shell")

# Long enough for a well-behaved program to clean up, short enough that a
# shutdown or a timeout is not held up by one that ignores SIGTERM.
KILL_GRACE_SECONDS = 2.0
# What the result record keeps of each output stream; older output is dropped.
OUTPUT_TAIL_BYTES = 64 * 1024
# The longest line logged as is; the rest of a longer line is cut, with a marker.
MAX_LINE_BYTES = 64 * 1024
# After the command exits, how long to keep reading output held open by
# background processes it started.
DRAIN_SECONDS = 0.5
# The longest a pool thread waits before checking again whether its process
# exited; an exit normally wakes it at once by closing the pipes.
POLL_SECONDS = 0.5
# Secret values shorter than this are not hidden in output: masking every "1"
# or "on" would garble it without protecting anything.
SHORTEST_SECRET = 4
# What `inherit_environment: false` gives a command when the scheduler has no PATH (cron's).
FALLBACK_PATH = "/usr/bin:/bin"


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """How a command ended: its exit code, whether it timed out, its output tails."""

    exit_code: int
    timed_out: bool
    stdout_tail: str
    stderr_tail: str


class Redactor:
    """Replaces secret values by "***" in text about to be shown.

    Each line of a multi-line value is hidden too: output is logged line by line.

    Args:
        values: the secret values (every task's, see `Secrets`).
    """

    def __init__(self, values: Iterable[str]) -> None:
        pieces = {piece for value in values for piece in [value, *value.splitlines()]}
        secrets = {piece for piece in pieces if len(piece) >= SHORTEST_SECRET}
        self._secrets = sorted(secrets, key=len, reverse=True)  # longest first
        self._encoded = [secret.encode() for secret in self._secrets]
        # Output held back before a cut (tail start, piece of a long line), so
        # that no cut falls inside a secret and shows part of it.
        self.overlap = max((len(secret) - 1 for secret in self._encoded), default=0)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def redact_bytes(self, data: bytes | bytearray) -> bytes:
        """Like calling it, on raw output (the UTF-8 form of the values)."""
        data = bytes(data)
        for secret in self._encoded:
            data = data.replace(secret, b"***")
        return data


def redactor_for(task: Task, secrets: Secrets) -> Redactor:
    """The redactor of a run: every secret the scheduler knows, the task's own included."""
    return _redactor(secrets.values, task.secret_values)


@functools.lru_cache(maxsize=256)
def _redactor(values: frozenset[str], own_values: frozenset[str]) -> Redactor:
    """One redactor per set of secrets, not one per run (it sorts and encodes them)."""
    return Redactor(values | own_values)


def task_environment(task: Task, secrets: Secrets,
                     scheduler_environment: Mapping[str, str]) -> dict[str, str]:
    """Return the environment a shell task's command gets: inherited, plus its `env`.

    Inherited, by `task.inherit_environment`: None, the scheduler's environment
    without the variables other tasks take as secrets; True, all of it; False,
    cron's base (`BASE_ENVIRONMENT_NAMES`, SHELL being the task's shell).
    """
    if task.inherit_environment is None:
        withheld = secrets.names - task.secret_names
        inherited = {name: value for name, value in scheduler_environment.items()
                     if name not in withheld}
    elif task.inherit_environment:
        inherited = dict(scheduler_environment)
    else:
        inherited = {name: scheduler_environment[name] for name in BASE_ENVIRONMENT_NAMES
                     if name in scheduler_environment}
        inherited.setdefault("PATH", FALLBACK_PATH)
        inherited["SHELL"] = task.shell
    return {**inherited, **task.env}


def start_command(task: Task, environment: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start a task's command in a new session (so its process group can be killed as one).

    A string runs through the task's shell (`shell -c command`, like cron); a
    tuple is executed directly. `environment` is the command's whole environment.
    """
    entry_point = task.entry_point
    command = [task.shell, "-c", entry_point] if isinstance(entry_point, str) \
        else list(entry_point)
    return subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True, env=environment, cwd=task.cwd,
    )


def watch_command(process: subprocess.Popen[bytes], task_id: str,
                  timeout_seconds: float | None, clock: Clock,
                  redact: Redactor, stderr_level: int = logging.WARNING,
                  run_number: int | None = None, attempt: int | None = None) -> CommandOutcome:
    """Log the process's output line by line until it exits; enforce the timeout.

    Stdout lines are logged at INFO, stderr lines at `stderr_level`; `run_number`
    and `attempt` go into each output line's log fields.
    """
    assert process.stdout is not None and process.stderr is not None
    streams = {process.stdout: logging.INFO, process.stderr: stderr_level}
    fields: dict[str, object] = {"task_id": task_id, "run": run_number, "attempt": attempt,
                                 "event": "output"}
    watch = _OutputWatch(task_id, streams, clock, redact, fields)
    timed_out = not watch.read_until(process, timeout_seconds)
    if timed_out:
        logger.error("task %s timed out after %gs; terminating its process group",
                     task_id, timeout_seconds)
        terminate_group(process, KILL_GRACE_SECONDS, watch)
    tails = watch.close()
    return CommandOutcome(process.returncode, timed_out, tails[0], tails[1])


class LineLogger:
    """Logs one stream's output as lines, cut only at newlines; never shows part of a secret.

        chunks:  |ab\ncd|ef\ngh...(longer than MAX_LINE_BYTES)...|...yz\nij|
        lines:    "ab", "cdef", "gh...[... line of 70000 bytes cut at 65536]", "ij"

    Invariant: `_line` holds the start of the current line, redacted only once
    it is complete or cut, and never more than `MAX_LINE_BYTES + redact.overlap`
    bytes: a cut line keeps its redacted head in `_head` and counts the rest.
    The overlap before a cut means a secret that starts before the cut is
    whole in what is redacted, so no part of it survives the cut.
    """

    def __init__(self, emit: Callable[[str], None], redact: Redactor,
                 max_line_bytes: int = MAX_LINE_BYTES,
                 wanted: Callable[[], bool] = lambda: True) -> None:
        self._emit, self._redact, self._max, self._wanted = emit, redact, max_line_bytes, wanted
        self._line = bytearray()
        self._head: bytes | None = None  # a cut line's first max_line_bytes, redacted
        self._length = 0  # bytes of a cut line, in all

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk of output; log every line it completes."""
        *complete, rest = chunk.split(b"\n")
        for piece in complete:
            self._add(piece)
            self._end_line()
        self._add(rest)

    def close(self) -> None:
        """The stream ended: log its last line if it had no newline."""
        if self._line or self._head is not None:
            self._end_line()

    def _add(self, piece: bytes) -> None:
        if self._head is not None:  # past the cut: only count
            self._length += len(piece)
            return
        self._line += piece
        if len(self._line) > self._max + self._redact.overlap:
            self._cut_line()

    def _cut_line(self) -> None:
        """Keep the redacted head of a line longer than the bound; count the rest."""
        self._length = len(self._line)
        self._head = self._redact.redact_bytes(self._line)[:self._max]
        self._line.clear()

    def _end_line(self) -> None:
        if self._head is None and len(self._line) > self._max:  # ended within the overlap
            self._cut_line()
        # Nobody reads lines below the log level: decoding 200 MB of them is the real cost.
        if self._wanted():
            if self._head is not None:
                head = self._head.decode("utf-8", "replace")
                self._emit(f"{head}[... line of {self._length} bytes cut at {self._max}]")
            else:
                text = self._redact.redact_bytes(self._line).decode("utf-8", "replace")
                self._emit(text.rstrip("\r"))
        self._line.clear()
        self._head, self._length = None, 0


class OutputTail:
    """The last `size` bytes of a stream, redacted, never ending inside a secret.

        output:   ...ab SEC|RET cd...       (a chunk ends inside the secret "SECRET")
        held:              SEC              (could be a secret's start: not shown yet)
        tail:     ...ab                     (what `text()` shows now)
        next:     ...ab *** cd              (SECRET whole again: redacted)

    Invariant: every byte moved into `_tail` was redacted together with at
    least `redact.overlap` bytes after it (or the end of the stream), and a
    secret is at most `overlap + 1` bytes long, so none is split by the cut.
    """

    def __init__(self, redact: Redactor, size: int = OUTPUT_TAIL_BYTES) -> None:
        self._redact, self._size = redact, size
        self._tail = bytearray()
        self._held = b""  # redacted, not yet in the tail

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk of output."""
        held = self._redact.redact_bytes(self._held + chunk)
        cut = max(0, len(held) - self._redact.overlap)
        self._tail += held[:cut]
        del self._tail[:-self._size]
        self._held = held[cut:]

    def end(self) -> None:
        """The stream ended: nothing can follow the held bytes, so they are shown too."""
        self._tail += self._held
        del self._tail[:-self._size]
        self._held = b""

    def text(self) -> str:
        """Return the tail so far (after `end()`: the stream's last `size` bytes)."""
        return self._tail.decode("utf-8", "replace")


class _OutputWatch:
    """Reads a process's pipes without blocking; each stream feeds a LineLogger and an OutputTail."""

    def __init__(self, task_id: str, streams: dict[IO[bytes], int], clock: Clock,
                 redact: Redactor, fields: dict[str, object]) -> None:
        self._now = clock.monotonic
        self._selector = selectors.DefaultSelector()
        self._streams = list(streams)
        self._lines = {stream: LineLogger(_line_emitter(task_id, level, fields), redact,
                                          wanted=functools.partial(logger.isEnabledFor, level))
                       for stream, level in streams.items()}
        self._tails = {stream: OutputTail(redact) for stream in streams}
        for stream in streams:
            self._selector.register(stream, selectors.EVENT_READ)

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
                self._tails[stream].feed(chunk)
                self._lines[stream].feed(chunk)
            else:
                self._lines[stream].close()
                self._selector.unregister(stream)

    def close(self) -> tuple[str, str]:
        """Log what is left of unfinished lines; return the (stdout, stderr) tails."""
        for stream in self._streams:
            if stream in self._selector.get_map():
                self._lines[stream].close()
        self._selector.close()
        for stream in self._streams:
            stream.close()  # a background process still writing gets EPIPE, as after exit
        for tail in self._tails.values():
            tail.end()
        stdout, stderr = (self._tails[stream].text() for stream in self._streams)
        return stdout, stderr


def _line_emitter(task_id: str, level: int,
                  fields: dict[str, object]) -> Callable[[str], None]:
    """Return what logs one line of a task's output at `level`, with the run's log fields."""

    def emit(text: str) -> None:
        logger.log(level, "task %s | %s", task_id, text, extra=fields)
    return emit


def terminate_group(process: subprocess.Popen[bytes], grace_seconds: float,
                    watch: _OutputWatch | None = None) -> None:
    """SIGTERM the process's whole group, then SIGKILL it after `grace_seconds`."""
    _signal_group(process.pid, signal.SIGTERM)
    exited = watch.read_until(process, grace_seconds) if watch else _wait(process, grace_seconds)
    # Even if the leader exited on SIGTERM, children that ignore it must not survive.
    _signal_group(process.pid, signal.SIGKILL)
    if not exited:
        _wait(process, grace_seconds)


def terminate_groups(processes: Sequence[subprocess.Popen[bytes]], grace_seconds: float,
                     clock: Clock) -> None:
    """SIGTERM every process's whole group at once, SIGKILL them `grace_seconds` later.

    One grace for all of them, not one each: a shutdown with ten commands that
    ignore SIGTERM takes the grace once. Their pool threads read what is left
    of their output and report how they ended.
    """
    for process in processes:
        _signal_group(process.pid, signal.SIGTERM)
    deadline = clock.monotonic() + grace_seconds
    for process in processes:
        _wait(process, max(deadline - clock.monotonic(), 0.0))
    # Even a leader that exited on SIGTERM may leave children that ignore it.
    for process in processes:
        _signal_group(process.pid, signal.SIGKILL)


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


def exit_summary(exit_code: int) -> str:
    """Return "exit code 3" or, for a negative code, "killed by SIGKILL"."""
    if exit_code < 0:
        try:
            return f"killed by {signal.Signals(-exit_code).name}"
        except ValueError:
            return f"killed by signal {-exit_code}"
    return f"exit code {exit_code}"
