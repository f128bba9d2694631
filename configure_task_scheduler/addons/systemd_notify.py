"""systemd's notify protocol in the standard library: READY, RELOADING, STOPPING, STATUS, WATCHDOG.

An add-on for `Type=notify` services (`--export systemd` writes one): each
message is one datagram to the AF_UNIX socket named by `$NOTIFY_SOCKET` (a
leading "@" means Linux's abstract namespace). A thread sends `READY=1` once
the engine's loop has made its first pass (every task is planned by then),
then `WATCHDOG=1` every half `$WATCHDOG_USEC` only while `is_alive()` says the
loop still turns, so systemd restarts a hung scheduler. Reloads run on that
thread between `RELOADING=1` and `READY=1`. Without `$NOTIFY_SOCKET`,
`notifier_from_environment` returns None and nothing is sent. Never raises
into the scheduler: a lost datagram is logged at DEBUG.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping

logger = logging.getLogger("configure_task_scheduler.systemd_notify")

# How often the thread looks for the loop's first pass before READY=1 (seconds).
READY_POLL_SECONDS = 0.05
# The engine's loop passes at least once a minute (engine.MAX_WAIT_SECONDS), even
# with nothing due: a pass older than this means it is stuck.
LOOP_STALE_SECONDS = 90.0


def loop_alive(last_pass: Callable[[], float | None], monotonic: Callable[[], float],
               stale_after_seconds: float) -> Callable[[], bool]:
    """Return "is the engine's loop alive?": it passed within `stale_after_seconds`.

    Args:
        last_pass: the monotonic time the loop's latest pass began, None before
            the first (e.g. `Scheduler.last_pass_monotonic`).
        monotonic: the same clock's "now".
        stale_after_seconds: longer than the loop ever sleeps between passes.
    """
    def alive() -> bool:
        started = last_pass()
        return started is not None and monotonic() - started <= stale_after_seconds
    return alive


class SystemdNotifier:
    """Sends notify messages to one socket, and runs the readiness/watchdog thread.

    Args:
        address: the socket path, or "@name" for the abstract namespace.
        watchdog_seconds: systemd's watchdog interval (`$WATCHDOG_USEC`), or None.
    """

    def __init__(self, address: str, watchdog_seconds: float | None = None) -> None:
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_seconds = watchdog_seconds
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._wakeup = threading.Event()
        self._stopping = False
        self._reload: Callable[[], object] | None = None
        self._reload_requested = False
        self._thread: threading.Thread | None = None

    def send(self, *fields: str) -> bool:
        """Send "KEY=value" fields as one datagram; return False if it was not delivered."""
        try:
            self._socket.sendto("\n".join(fields).encode(), self.address)
            return True
        except OSError as error:
            logger.debug("systemd notify message not sent: %s", error)
            return False

    def start(self, is_alive: Callable[[], bool], status: Callable[[], str],
              reload: Callable[[], object] | None = None) -> None:
        """Start the thread: READY=1 when `is_alive()` first holds, then the watchdog."""
        self._reload = reload
        self._thread = threading.Thread(target=self._serve, args=(is_alive, status),
                                        name="systemd-notify", daemon=True)
        self._thread.start()

    def request_reload(self) -> None:
        """Reload on the notifier's thread, between RELOADING=1 and READY=1 (signal-safe)."""
        self._reload_requested = True
        self._wakeup.set()

    def stopping(self) -> None:
        """Send STOPPING=1 (safe from a signal handler: one non-blocking datagram)."""
        self.send("STOPPING=1")

    def close(self) -> None:
        """Stop the thread, wait for it and close the socket."""
        self._stopping = True
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join()
        self._socket.close()

    def _serve(self, is_alive: Callable[[], bool], status: Callable[[], str]) -> None:
        while not self._stopping and not is_alive():
            self._wakeup.wait(READY_POLL_SECONDS)
        if self._stopping:
            return
        self.send("READY=1", f"STATUS={status()}")
        interval = self.watchdog_seconds / 2 if self.watchdog_seconds else None
        while not self._stopping:
            if interval is not None and is_alive():
                self.send("WATCHDOG=1")
            self._wakeup.wait(interval)
            self._wakeup.clear()
            if self._reload_requested and not self._stopping:
                self._reload_requested = False
                self._run_reload(status)

    def _run_reload(self, status: Callable[[], str]) -> None:
        self.send("RELOADING=1")
        try:
            if self._reload is not None:
                self._reload()
        except Exception:  # a reload failure must not end the watchdog
            logger.exception("reload failed")
        self.send("READY=1", f"STATUS={status()}")


def notifier_from_environment(environ: Mapping[str, str] | None = None) -> SystemdNotifier | None:
    """Return a notifier for `$NOTIFY_SOCKET`, or None when systemd did not ask for one.

    `$WATCHDOG_USEC` sets the watchdog interval; `$WATCHDOG_PID`, when set,
    must be this process (else the watchdog is meant for another one).
    """
    environ = os.environ if environ is None else environ
    address = environ.get("NOTIFY_SOCKET", "")
    if not address:
        return None
    watchdog_seconds = None
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
        watchdog_seconds = int(usec) / 1_000_000
    return SystemdNotifier(address, watchdog_seconds)
