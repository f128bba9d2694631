"""The event queue: pass times, guarded actions, and dropping stale events."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from configure_task_scheduler.engine.event_queue import (
    DROP_STALE_MIN_EVENTS,
    EventQueue,
)


def test_a_pass_runs_the_events_due_by_its_time_in_time_order_and_returns_the_next_event_time(
) -> None:
    queue, fired = EventQueue(), []
    for when, name in [(12.0, "c"), (10.0, "a"), (11.0, "b"), (15.0, "d")]:
        queue.enter(when, fired.append, name)

    next_event_at = queue.run_due(12.0)

    assert (fired, next_event_at, len(queue)) == (["a", "b", "c"], 15.0, 1)


def test_events_due_at_the_same_time_run_in_the_order_they_were_entered() -> None:
    queue, fired = EventQueue(), []
    for name in "xyz":
        queue.enter(5.0, fired.append, name)

    assert (queue.run_due(5.0), fired) == (None, ["x", "y", "z"])


def test_an_event_entered_during_a_pass_for_later_waits_for_the_next_pass() -> None:
    queue, fired = EventQueue(), []

    def reschedule(name: str) -> None:
        fired.append(name)
        queue.enter(6.0, fired.append, "later")

    queue.enter(5.0, reschedule, "now")

    assert (queue.run_due(5.5), fired) == (6.0, ["now"])
    assert (queue.run_due(6.0), fired) == (None, ["now", "later"])


def test_an_action_that_raises_is_logged_and_the_pass_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    queue, fired = EventQueue(), []

    def broken(task_id: str) -> None:
        raise RuntimeError("bug")

    queue.enter(1.0, broken, "t1")
    queue.enter(2.0, fired.append, "t2")
    queue.run_due(2.0)

    assert fired == ["t2"]
    [record] = caplog.records
    assert (record.levelno, record.getMessage()) == (
        logging.ERROR, "engine error in broken for task t1; the scheduler goes on")


def test_stale_events_are_dropped_once_they_far_outnumber_the_live_ones() -> None:
    queue, fired = EventQueue(), []
    total = 2 * 10 + DROP_STALE_MIN_EVENTS + 1
    for n in range(total):
        queue.enter(float(n), fired.append, f"t{n}")

    def is_live(event: tuple[Any, ...]) -> bool:
        return int(event[1][1:]) % 100 == 0  # t0, t100, t200, ...

    assert queue.is_bloated(10)
    dropped = queue.drop_stale(is_live)

    live = [f"t{n}" for n in range(0, total, 100)]
    assert (dropped, len(queue)) == (total - len(live), len(live))
    queue.run_due(float(total))
    assert fired == live


def test_a_queue_within_its_margin_of_stale_events_is_not_bloated() -> None:
    queue = EventQueue()
    for n in range(2 * 10 + DROP_STALE_MIN_EVENTS):
        queue.enter(float(n), print, "t")

    assert not queue.is_bloated(10)
