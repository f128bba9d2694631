"""The signal table of `signals`, with real signals raised in this (the main) thread.

`signal.raise_signal` runs the handler before it returns, so each test reads
what the handlers did at once; only the SIGUSR1 dump, on a thread of its own,
is waited for with a deadline.
"""

from __future__ import annotations

import logging
import signal
import threading

import pytest
from conftest import wait_until

from configure_task_scheduler.signals import HANDLED, SignalActions, handling

SIGNALS_LOGGER = "configure_task_scheduler.signals"


class Calls:
    """Records what the handlers asked for, as (action, signal name)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def actions(self, with_quit_now: bool = True, with_reload: bool = True) -> SignalActions:
        def stop(signum: int) -> None:
            self.calls.append(("stop", signal.Signals(signum).name))

        def quit_now(signum: int) -> None:
            self.calls.append(("quit_now", signal.Signals(signum).name))

        def reload() -> None:
            self.calls.append(("reload", ""))

        return SignalActions(stop=stop, reload=reload if with_reload else None,
                             status_lines=lambda: ["a: scheduled", "b: running"],
                             quit_now=quit_now if with_quit_now else None)


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == SIGNALS_LOGGER]


def test_sigint_stops_once_then_a_second_sigint_quits_now(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, SIGNALS_LOGGER)
    calls = Calls()
    with handling(calls.actions()):
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGINT)

    assert calls.calls == [("stop", "SIGINT"), ("quit_now", "SIGINT")]
    assert messages(caplog) == ["received SIGINT: no new runs will start",
                                "received SIGTERM: already stopping",
                                "second SIGINT: stopping at once"]


def test_without_quit_now_a_second_sigint_is_logged_and_sigquit_stops_gracefully(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, SIGNALS_LOGGER)
    calls = Calls()
    with handling(calls.actions(with_quit_now=False)):
        signal.raise_signal(signal.SIGQUIT)
        signal.raise_signal(signal.SIGINT)

    assert calls.calls == [("stop", "SIGQUIT")]
    assert messages(caplog) == ["received SIGQUIT: no new runs will start",
                                "received SIGINT: already stopping"]


def test_sighup_reloads_or_without_a_reload_is_logged_and_ignored(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, SIGNALS_LOGGER)
    calls = Calls()
    with handling(calls.actions()):
        signal.raise_signal(signal.SIGHUP)
    with handling(calls.actions(with_reload=False)):
        signal.raise_signal(signal.SIGHUP)

    assert calls.calls == [("reload", "")]
    assert messages(caplog) == ["received SIGHUP: reloading the config",
                                "received SIGHUP: ignored, there is no config to reload now"]


def test_sigusr1_logs_the_status_lines_from_a_thread_of_its_own(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, SIGNALS_LOGGER)
    with handling(Calls().actions()):
        signal.raise_signal(signal.SIGUSR1)
    wait_until(lambda: len(messages(caplog)) == 3)
    wait_until(lambda: "cts-status" not in [t.name for t in threading.enumerate()])

    assert messages(caplog) == ["received SIGUSR1: status dump", "status: a: scheduled",
                                "status: b: running"]
    assert {r.threadName for r in caplog.records} == {"cts-status"}


def test_handling_restores_the_previous_handlers() -> None:
    before = {signum: signal.getsignal(signum) for signum in HANDLED}
    with handling(Calls().actions()):
        during = {signum: signal.getsignal(signum) for signum in HANDLED}

    assert {signum: signal.getsignal(signum) for signum in HANDLED} == before
    assert all(during[signum] != before[signum] for signum in HANDLED)
