"""Exercise 1: a listener that keeps per-task run statistics (`addons/stats.py`)."""

from __future__ import annotations

import exercise_support as support
from exercise_support import ScriptedExecutor, run_engine, shell_task

from configure_task_scheduler.clock import FakeClock
from configure_task_scheduler.task import RunStatus

support.attempt(1, support.find("configure_task_scheduler.addons.stats", "RunStats") is not None,
                "configure_task_scheduler.addons.stats.RunStats does not exist")


def test_stats_count_final_runs_failures_and_nearest_rank_percentiles() -> None:
    run_stats = support.load("configure_task_scheduler.addons.stats", "RunStats")()
    clock = FakeClock(support.START, support.MONOTONIC_START)
    # Run n takes n seconds; every fifth one fails (no retries).
    executor = ScriptedExecutor(clock, seconds=lambda run: float(run.run_number),
                                status=lambda run: RunStatus.FAILED if run.run_number % 5 == 0
                                else RunStatus.SUCCEEDED)

    run_engine([shell_task("work", 100)], 2000, executor, listeners=[run_stats])

    summary = run_stats.summary("work")
    assert (summary.runs, summary.failures) == (20, 4)
    assert (summary.p50_seconds, summary.p95_seconds, summary.max_seconds) == (10.0, 19.0, 20.0)


def test_stats_of_a_task_never_seen_are_none_and_retried_attempts_count_once() -> None:
    run_stats = support.load("configure_task_scheduler.addons.stats", "RunStats")()
    clock = FakeClock(support.START, support.MONOTONIC_START)
    executor = ScriptedExecutor(clock, seconds=lambda run: 2.0,
                                status=lambda run: RunStatus.FAILED if run.attempt == 1
                                else RunStatus.SUCCEEDED)

    run_engine([shell_task("flaky", 100, retries=1)], 250, executor, listeners=[run_stats])

    summary = run_stats.summary("flaky")
    assert (summary.runs, summary.failures, summary.max_seconds) == (2, 0, 2.0)
    assert run_stats.summary("other") is None
