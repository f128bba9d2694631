"""Signals: which signal does what, one implementation for the CLI and the library.

`handling(actions)` installs the handlers (main thread only) and restores the
previous ones on leaving. `Scheduler.run_forever(install_signal_handlers=True)`
and the CLI both use it; they differ only in `SignalActions.quit_now`, the
policy for a second SIGINT and for SIGQUIT:

    SIGINT, SIGTERM   stop gracefully (no new runs; runs in flight get the shutdown timeout)
    second SIGINT     quit_now, if given (the CLI: terminate every process group, exit 130)
    SIGQUIT           quit_now, if given; else like SIGTERM
    SIGHUP            reload the config
    SIGUSR1           log a status dump of every task, on a short-lived thread

A handler runs in the main thread between two bytecodes, possibly while that
thread holds a lock of the engine (the library runs the engine there), so the
handlers here take no lock: they set flags, wake threads or start one.
Never exits the process itself.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from .task import TaskSnapshot

logger = logging.getLogger("configure_task_scheduler.signals")

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1)


@dataclass(frozen=True, slots=True)
class SignalActions:
    """What the handlers do; each is called in the main thread, inside a signal handler.

    Attributes:
        stop: stop gracefully, given the signal number; called once, for the
            first SIGINT or SIGTERM.
        reload: reload the config (SIGHUP); None: SIGHUP is logged and ignored.
        status_lines: the status dump (SIGUSR1), one log line per item; it is
            called on a thread of its own, so it may take locks.
        quit_now: stop at once, given the signal number (a second SIGINT,
            SIGQUIT); None: a second SIGINT is only logged, SIGQUIT acts like SIGTERM.
    """

    stop: Callable[[int], None]
    reload: Callable[[], None] | None
    status_lines: Callable[[], list[str]]
    quit_now: Callable[[int], None] | None = None


@contextmanager
def handling(actions: SignalActions) -> Iterator[None]:
    """Install the handlers of `actions` for the duration of the `with` block.

    Raises:
        ValueError: not called from the main thread (the `signal` module's rule).
    """
    previous = install(actions)
    try:
        yield
    finally:  # the handlers act on one scheduler: they must not outlive it
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def install(actions: SignalActions) -> dict[int, Any]:
    """Install the handlers of `actions`; return the previous ones, to restore afterwards."""
    handlers = _Handlers(actions)
    table = {signal.SIGINT: handlers.on_stop, signal.SIGTERM: handlers.on_stop,
             signal.SIGQUIT: handlers.on_quit, signal.SIGHUP: handlers.on_reload,
             signal.SIGUSR1: handlers.on_status}
    return {signum: signal.signal(signum, handler) for signum, handler in table.items()}


class _Handlers:
    """The handlers for one `SignalActions`, and whether a stop was asked for already."""

    def __init__(self, actions: SignalActions) -> None:
        self._actions = actions
        self._stopping = False

    def on_stop(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not self._stopping:
            self._stopping = True
            logger.info("received %s: no new runs will start", name)
            self._actions.stop(signum)
        elif signum == signal.SIGINT and self._actions.quit_now is not None:
            logger.warning("second SIGINT: stopping at once")
            self._actions.quit_now(signum)
        else:
            logger.info("received %s: already stopping", name)

    def on_quit(self, signum: int, frame: FrameType | None) -> None:
        if self._actions.quit_now is None:
            self.on_stop(signum, frame)
            return
        self._stopping = True
        logger.warning("received SIGQUIT: stopping at once")
        self._actions.quit_now(signum)

    def on_reload(self, signum: int, frame: FrameType | None) -> None:
        if self._actions.reload is None:
            logger.info("received SIGHUP: ignored, there is no config to reload now")
            return
        logger.info("received SIGHUP: reloading the config")
        self._actions.reload()

    def on_status(self, signum: int, frame: FrameType | None) -> None:
        thread = threading.Thread(target=log_status, args=(self._actions.status_lines,),
                                  name="cts-status", daemon=True)
        thread.start()


def log_status(status_lines: Callable[[], list[str]]) -> None:
    """Log the status dump, one line per item (SIGUSR1)."""
    try:
        lines = status_lines()
    except Exception:  # a status dump must never cost the scheduler anything
        logger.exception("received SIGUSR1: the status could not be read")
        return
    logger.info("received SIGUSR1: status dump")
    for line in lines:
        logger.info("status: %s", line)


def status_line(snapshot: TaskSnapshot) -> str:
    """One task's line of the status dump: state, runs in flight, next run, last result, counts."""
    parts = [f"{snapshot.task_id}: {snapshot.state.value}"]
    if snapshot.running:
        parts.append(f"{snapshot.running} run{'' if snapshot.running == 1 else 's'} in flight")
    if snapshot.next_run_at is not None:
        parts.append(f"next run at {snapshot.next_run_at.isoformat(sep=' ', timespec='seconds')}")
    if snapshot.last_result is not None:
        parts.append(f"last run {snapshot.last_result.status.value}")
    counts = ", ".join(f"{count} {status.value}" for status, count in snapshot.counts.items())
    return "; ".join(parts + ([counts] if counts else []))


def run_awake_to_signals(work: Callable[[], object]) -> None:
    """Run `work` on a thread while the main thread waits for it, woken by every signal.

    The kernel may deliver SIGINT or SIGTERM to any thread, but Python runs
    the handler in the main thread, and only when it next runs bytecode: a
    main thread blocked on a lock (the engine's sleep, a shutdown's wait)
    would not notice for up to a minute. select() on the wakeup fd returns
    as soon as any thread receives a signal.
    """
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)  # required by set_wakeup_fd
    done = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # re-raised in the main thread
            failures.append(error)
        done.set()
        os.write(write_fd, b"\0")  # after done: the main thread checks it once woken

    thread = threading.Thread(target=run, name="cts-engine")
    previous = signal.set_wakeup_fd(write_fd)
    try:
        thread.start()
        while not done.is_set():
            select.select([read_fd], [], [])
            os.read(read_fd, 4096)
        thread.join()  # its last write is done before the pipe is closed
    finally:
        signal.set_wakeup_fd(previous)
        os.close(read_fd)
        os.close(write_fd)
    if failures:
        raise failures[0]


def exit_now(status: int) -> None:
    """Flush the logs and the output, then end the process with `status` (CLI only)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
