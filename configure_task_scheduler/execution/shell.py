"""Shell tasks: start a command in its own process group, watch its output, stop it.

The executor calls `run_command` on a pool thread. The command runs in a new
session, so a timeout or a shutdown terminates its whole process group,
grandchildren included (SIGTERM, then SIGKILL after `KILL_GRACE_SECONDS`).
Output is read as it comes, without a thread per pipe, and logged line by
line (stdout at INFO, stderr at WARNING); only the last `OUTPUT_TAIL_BYTES`
of each stream are kept, so a command printing gigabytes costs no memory.
Values of the task's `env` are replaced by "***" wherever output is shown.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

from ..clock import Clock

# A stable public name (the JSON log's "logger" field), kept from before the stage packages.
logger = logging.getLogger("configure_task_scheduler.shell")

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
# Env values shorter than this are not hidden in output: masking every "1"
# or "on" would garble it without protecting anything.
SHORTEST_SECRET = 4


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """How a command ended: its exit code, whether it timed out, its output tails."""

    exit_code: int
    timed_out: bool
    stdout_tail: str
    stderr_tail: str


class Redactor:
    """Replaces the values of a task's env by "***" in text about to be shown.

    Each line of a multi-line value is hidden too: output is logged line by line.
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        pieces = {piece for value in env.values() for piece in [value, *value.splitlines()]}
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


def start_command(entry_point: str | tuple[str, ...], env: Mapping[str, str],
                  cwd: str | None) -> subprocess.Popen[bytes]:
    """Start a command in a new session (so its process group can be killed as one).

    A string runs through /bin/sh -c, like cron; a tuple is executed directly.
    `env` is added to the scheduler's own environment.
    """
    return subprocess.Popen(
        entry_point if isinstance(entry_point, str) else list(entry_point),
        shell=isinstance(entry_point, str), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        env={**os.environ, **env} if env else None, cwd=cwd,
    )


def watch_command(process: subprocess.Popen[bytes], task_id: str,
                  timeout_seconds: float | None, clock: Clock,
                  redact: Redactor, run_number: int | None = None,
                  attempt: int | None = None) -> CommandOutcome:
    """Log the process's output line by line until it exits; enforce the timeout.

    `run_number` and `attempt` go into each output line's log fields.
    """
    assert process.stdout is not None and process.stderr is not None
    streams = {process.stdout: logging.INFO, process.stderr: logging.WARNING}
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


class _OutputWatch:
    """Reads a process's pipes without blocking, logging each complete line."""

    def __init__(self, task_id: str, streams: dict[IO[bytes], int], clock: Clock,
                 redact: Redactor, fields: dict[str, object]) -> None:
        self._task_id, self._redact, self._fields = task_id, redact, fields
        self._now = clock.monotonic
        self._selector = selectors.DefaultSelector()
        self._levels = dict(streams)
        self._partial = {stream: bytearray() for stream in streams}
        self._tails = {stream: bytearray() for stream in streams}
        self._held = {stream: b"" for stream in streams}  # redacted, not yet in the tail
        for stream, level in streams.items():
            self._selector.register(stream, selectors.EVENT_READ, level)

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
        self._keep_tail(stream, chunk)
        partial = self._partial[stream]
        partial += chunk
        *lines, rest = partial.split(b"\n")
        for line in lines:
            self._log(line, level)
        # A line longer than the tail bound is logged in pieces to bound memory;
        # its last bytes wait for the next piece, in case they start a secret.
        if len(rest) > OUTPUT_TAIL_BYTES:
            redacted = self._redact.redact_bytes(rest)
            cut = len(redacted) - min(self._redact.overlap, OUTPUT_TAIL_BYTES)
            self._log(redacted[:cut], level)
            rest = bytearray(redacted[cut:])
        self._partial[stream] = bytearray(rest)

    def _keep_tail(self, stream: IO[bytes], chunk: bytes) -> None:
        # The tail is cut from redacted output: a cut must not show part of a secret.
        held = self._redact.redact_bytes(self._held[stream] + chunk)
        cut = max(0, len(held) - self._redact.overlap)
        tail = self._tails[stream]
        tail += held[:cut]
        del tail[:-OUTPUT_TAIL_BYTES]
        self._held[stream] = held[cut:]

    def _flush(self, stream: IO[bytes], level: int) -> None:
        if self._partial[stream]:
            self._log(self._partial[stream], level)
            self._partial[stream].clear()

    def _log(self, line: bytes | bytearray, level: int) -> None:
        if logger.isEnabledFor(level):  # decoding 200 MB nobody reads is the real cost
            text = self._redact(line.decode("utf-8", "replace").rstrip("\r"))
            logger.log(level, "task %s | %s", self._task_id, text, extra=self._fields)

    def close(self) -> tuple[str, str]:
        """Log what is left of unfinished lines; return the (stdout, stderr) tails."""
        for stream, level in self._levels.items():
            self._flush(stream, level)
        self._selector.close()
        for stream in self._levels:
            stream.close()  # a background process still writing gets EPIPE, as after exit
        tails = [(self._tails[stream] + self._held[stream])[-OUTPUT_TAIL_BYTES:]
                 for stream in self._levels]
        return tails[0].decode("utf-8", "replace"), tails[1].decode("utf-8", "replace")


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
