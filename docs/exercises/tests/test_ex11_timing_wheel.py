"""Exercise 11: a timing wheel behind the event queue's interface
(`engine.event_queue.TimingWheelQueue`), chosen with `Engine(..., queue=...)`."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import exercise_support as support
from exercise_support import ScriptedExecutor, shell_task

from configure_task_scheduler.clock import FakeClock
from configure_task_scheduler.engine import Engine
from configure_task_scheduler.engine.event_queue import EventQueue
from configure_task_scheduler.registry import Registry

WHEEL = ("configure_task_scheduler.engine.event_queue", "TimingWheelQueue")
support.attempt(11, support.find(*WHEEL) is not None,
                "configure_task_scheduler.engine.event_queue.TimingWheelQueue does not exist")


def replay(queue: Any, seed: int) -> list[Any]:
    """Enter 2,000 events (some far ahead, some tied, some entered by actions), run them at
    uneven pass times, drop the stale half once; return everything observable, in order."""
    chooser = random.Random(seed)
    seen: list[Any] = []

    def action(name: str, stale: bool, chain: int) -> None:
        seen.append(("fired", name))
        if chain:  # an action may enter events, as the engine's do
            queue.enter(pass_time + chooser.choice([0.0, 0.5, 7.0]), act, f"{name}+", False,
                        chain - 1)

    act: Callable[..., None] = action
    for number in range(2000):
        when = chooser.choice([chooser.uniform(0, 100), chooser.uniform(0, 1e6),
                               float(chooser.randrange(0, 100))])  # ties on whole seconds
        queue.enter(when, act, f"e{number}", number % 2 == 0, chooser.randrange(3))
    pass_time = 0.0
    for step in range(400):
        pass_time += chooser.choice([0.0, 0.1, 0.25, 1.0, 3.0, 60.0, 5000.0])
        seen.append(("next", queue.run_due(pass_time), len(queue)))
        if step == 200:
            seen.append(("dropped", queue.drop_stale(lambda event: not event[2])))
    return seen


def test_it_fires_the_same_events_in_the_same_order_as_the_heap() -> None:
    wheel = support.load(*WHEEL)
    for seed in range(3):
        assert replay(wheel(), seed) == replay(EventQueue(), seed)


def test_the_engine_on_a_wheel_keeps_the_same_simulated_hour() -> None:
    wheel = support.load(*WHEEL)

    def hour(**queue: Any) -> list[tuple[str, int, int, float]]:
        clock = FakeClock(support.START, support.MONOTONIC_START)
        executor = ScriptedExecutor(clock)
        tasks = [shell_task("often", 7), shell_task("tenth", 0.1), shell_task("hourly", 3600)]
        Engine(Registry(tasks), executor, clock, **queue).run(duration_seconds=3600)
        return executor.started

    assert hour(queue=wheel()) == hour()
