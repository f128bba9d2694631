"""The clocks: the fake one's invariants, the real one's wakeable sleep."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from configure_task_scheduler.clock import Alarm, FakeClock, RealClock

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_fake_sleep_advances_both_clocks_by_exactly_the_delay() -> None:
    clock = FakeClock(START, monotonic_start=50.0)

    clock.sleep(2.5)
    clock.sleep(0)

    assert (clock.monotonic(), clock.wall()) == (52.5, START + timedelta(seconds=2.5))


def test_fake_sleep_rejects_a_negative_delay() -> None:
    with pytest.raises(ValueError, match=r"^cannot sleep a negative time: -1$"):
        FakeClock(START).sleep(-1)


def test_fake_clock_rejects_a_naive_start() -> None:
    with pytest.raises(ValueError, match=r"^FakeClock needs an aware start datetime$"):
        FakeClock(datetime(2026, 1, 1))


def test_wall_jumps_and_suspends_leave_the_monotonic_clock_alone() -> None:
    clock = FakeClock(START, monotonic_start=0.0)

    clock.jump_wall(-3600)
    clock.suspend(600)

    assert (clock.monotonic(), clock.wall()) == (0.0, START - timedelta(seconds=3000))


def test_real_sleep_returns_early_when_woken_from_another_thread() -> None:
    clock = RealClock()
    returned = threading.Event()

    def sleeper() -> None:
        clock.sleep(3600)
        returned.set()

    thread = threading.Thread(target=sleeper, name="sleeper")
    thread.start()
    clock.wake()

    assert returned.wait(timeout=5)
    thread.join()


def test_real_wake_before_a_sleep_makes_that_sleep_return_at_once() -> None:
    clock = RealClock()

    clock.wake()
    clock.wake()  # wake-ups do not add up: one is pending
    clock.sleep(3600)  # returns at once, or the test hangs


def test_real_wall_clock_is_aware_utc() -> None:
    assert RealClock().wall().tzinfo is timezone.utc


class ScriptedClock(FakeClock):
    """A fake clock that runs `during_sleep` while asleep and counts wake-ups."""

    def __init__(self) -> None:
        super().__init__(START, monotonic_start=0.0)
        self.during_sleep: Callable[[], object] = lambda: None
        self.wakes = 0

    def sleep(self, seconds: float) -> None:
        self.during_sleep()
        super().sleep(seconds)

    def wake(self) -> None:
        self.wakes += 1


def test_alarm_is_woken_only_for_something_before_its_deadline() -> None:
    clock = ScriptedClock()
    alarm = Alarm(clock)
    clock.during_sleep = lambda: [alarm.wake_for(when) for when in (3600.0, 60.0, 59.5)]

    alarm.sleep(60, now=0.0)

    assert clock.wakes == 1  # only for 59.5


def test_alarm_is_woken_for_anything_while_its_owner_is_awake() -> None:
    clock = ScriptedClock()
    alarm = Alarm(clock)
    alarm.sleep(60, now=0.0)

    alarm.wake_for(3600.0)  # between two sleeps: the next one must not miss it

    assert clock.wakes == 1
