"""systemd's notify protocol, with a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from configure_task_scheduler.addons.systemd_notify import (
    SystemdNotifier,
    loop_alive,
    notifier_from_environment,
)

ROOT = Path(__file__).resolve().parent.parent
DEADLINE_SECONDS = 20.0


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[socket.socket]:
    """The socket systemd would listen on ($NOTIFY_SOCKET)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(tmp_path / "notify"))
    listener.settimeout(DEADLINE_SECONDS)
    yield listener
    listener.close()


def receive(listener: socket.socket) -> str:
    return listener.recv(4096).decode()


def receive_besides_watchdog(listener: socket.socket) -> str:
    while (message := receive(listener)) == "WATCHDOG=1":
        pass
    return message


def pending(listener: socket.socket) -> list[str]:
    messages = []
    listener.setblocking(False)
    try:
        while True:
            messages.append(listener.recv(4096).decode())
    except BlockingIOError:
        return messages
    finally:
        listener.settimeout(DEADLINE_SECONDS)


class Loop:
    """An engine loop's liveness that the test controls, counting how often it was asked."""

    def __init__(self) -> None:
        self.alive = True
        self.dead_answers = 0
        self.changed = threading.Condition()

    def __call__(self) -> bool:
        with self.changed:
            if not self.alive:
                self.dead_answers += 1
                self.changed.notify_all()
            return self.alive

    def wait_for_dead_answers(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.dead_answers >= count, DEADLINE_SECONDS)


def test_ready_status_then_watchdog_only_while_the_loop_is_alive(
        systemd: socket.socket) -> None:
    notifier = SystemdNotifier(systemd.getsockname(), watchdog_seconds=0.02)
    loop = Loop()
    notifier.start(loop, status=lambda: "3 tasks planned")
    try:
        assert receive(systemd) == "READY=1\nSTATUS=3 tasks planned"
        assert [receive(systemd) for _ in range(3)] == ["WATCHDOG=1"] * 3
        loop.alive = False
        loop.wait_for_dead_answers(1)  # a WATCHDOG already decided on has been sent by now
        assert set(pending(systemd)) <= {"WATCHDOG=1"}
        loop.wait_for_dead_answers(3)
        assert pending(systemd) == []  # stuck: systemd's watchdog will restart it
    finally:
        notifier.close()


def test_a_reload_runs_between_reloading_and_ready(systemd: socket.socket) -> None:
    notifier = SystemdNotifier(systemd.getsockname())
    reloaded = threading.Event()
    notifier.start(lambda: True, status=lambda: "1 task planned", reload=reloaded.set)
    try:
        assert receive(systemd) == "READY=1\nSTATUS=1 task planned"
        notifier.request_reload()
        assert receive(systemd) == "RELOADING=1"
        assert receive(systemd) == "READY=1\nSTATUS=1 task planned"
        assert reloaded.is_set()
        notifier.stopping()
        assert receive(systemd) == "STOPPING=1"
    finally:
        notifier.close()


def test_an_address_starting_with_at_is_in_the_abstract_namespace() -> None:
    name = f"cts-test-{os.getpid()}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind("\0" + name)
    listener.settimeout(DEADLINE_SECONDS)
    try:
        notifier = SystemdNotifier("@" + name)
        assert notifier.send("STATUS=hello")
        notifier.close()
        assert receive(listener) == "STATUS=hello"
    finally:
        listener.close()


def test_without_notify_socket_there_is_no_notifier() -> None:
    assert notifier_from_environment({}) is None
    assert notifier_from_environment({"WATCHDOG_USEC": "1000000"}) is None


@pytest.mark.parametrize(("environ", "watchdog_seconds"), [
    ({"NOTIFY_SOCKET": "/run/x"}, None),
    ({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000"}, 30.0),
    ({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
], ids=["no-watchdog", "watchdog", "watchdog-for-another-process"])
def test_watchdog_interval_comes_from_the_environment(environ: dict[str, str],
                                                      watchdog_seconds: float | None) -> None:
    notifier = notifier_from_environment(environ)
    assert notifier is not None and notifier.watchdog_seconds == watchdog_seconds
    notifier.close()


@pytest.mark.parametrize(("last_pass", "now", "alive"), [
    (None, 100.0, False), (10.0, 100.0, True), (10.0, 101.0, False),
], ids=["not-running", "recent-pass", "stale-pass"])
def test_the_loop_is_alive_while_its_last_pass_is_recent(last_pass: float | None, now: float,
                                                         alive: bool) -> None:
    assert loop_alive(lambda: last_pass, lambda: now, 90.0)() is alive


def test_the_scheduler_process_notifies_systemd(systemd: socket.socket,
                                                tmp_path: Path) -> None:
    config = tmp_path / "tasks.json"
    config.write_text(json.dumps({"tasks": [
        {"task_id": "a", "task_type": "shell", "entry_point": "true", "cron": "0 0 1 1 *"},
        {"task_id": "b", "task_type": "shell", "entry_point": "true", "cron": "0 0 1 1 *"}]}))
    environment = {**os.environ, "NOTIFY_SOCKET": systemd.getsockname(),
                   "WATCHDOG_USEC": "100000"}
    process = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "--config", str(config)],
                               env=environment, stderr=subprocess.DEVNULL)
    try:
        assert receive(systemd) == "READY=1\nSTATUS=2 tasks planned"
        assert receive(systemd) == "WATCHDOG=1"
        process.send_signal(signal.SIGHUP)
        assert receive_besides_watchdog(systemd) == "RELOADING=1"
        assert receive_besides_watchdog(systemd) == "READY=1\nSTATUS=2 tasks planned"
        process.send_signal(signal.SIGTERM)
        assert receive_besides_watchdog(systemd) == "STOPPING=1"
        assert process.wait(DEADLINE_SECONDS) == 0
    finally:
        process.kill()
        process.wait()
