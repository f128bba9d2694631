"""Exercise 9: tasks that share a resource (`"exclusive_group": "db"`): at most one run of the
group in flight; a run due while another task of its group runs is skipped, saying which."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import exercise_support as support
import pytest
from exercise_support import run_engine, shell_task

from configure_task_scheduler.clock import FakeClock
from configure_task_scheduler.task import EventKind, Run, RunEvent

support.attempt(9, support.has_task_field("exclusive_group"),
                "Task has no exclusive_group field")


@pytest.fixture(autouse=True)
def utc_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Skip reasons show local clock times: pin the zone to UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@dataclass
class HoldsFirstRun(support.ScriptedExecutor):
    """Task "a"'s first run stays running for the whole test; every other run ends at once."""

    held: list[Run] = field(default_factory=list)

    def submit(self, run: Run, reporter: Any) -> None:
        if run.task.task_id == "a" and run.run_number == 1:
            if reporter.run_started(run, self.clock.wall(), self.clock.monotonic()):
                self.started.append(("a", 1, 1, self.clock.monotonic() - 1000.0))
                self.held.append(run)
            return
        super().submit(run, reporter)


def test_a_run_due_while_its_group_is_busy_is_skipped_naming_the_busy_run() -> None:
    clock = FakeClock(support.START, support.MONOTONIC_START)
    events: list[RunEvent] = []

    run_engine([shell_task("a", 10, exclusive_group="db"),
                shell_task("b", 15, exclusive_group="db"), shell_task("c", 15)], 30,
               HoldsFirstRun(clock), listeners=[events.append])

    assert [(event.run.task.task_id, event.run.run_number, event.reason) for event in events
            if event.kind is EventKind.RUN_SKIPPED] == [
        ("b", 1, 'group "db" is busy: task a run 1 is running since 00:00:10'),
        ("a", 2, "previous run still running since 00:00:10"),
        ("b", 2, 'group "db" is busy: task a run 1 is running since 00:00:10'),
        ("a", 3, "previous run still running since 00:00:10"),
    ]
    assert [(event.run.task.task_id, event.run.run_number) for event in events
            if event.kind is EventKind.RUN_STARTED] == [("a", 1), ("c", 1), ("c", 2)]
