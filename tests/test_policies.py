"""Execution policies as pure functions: overlap, misfire grace, retry backoff."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from conftest import shell_task

from configure_task_scheduler.engine import policies
from configure_task_scheduler.task import RunStatus

pytestmark = pytest.mark.usefixtures("utc_local_time")


SINCE = [datetime(2026, 1, 1, 10, 4, 1, tzinfo=timezone.utc),
         datetime(2026, 1, 1, 10, 5, 0, tzinfo=timezone.utc)]


@pytest.mark.parametrize(("max_instances", "running", "queued", "reason"), [
    (1, [], [], ""),
    (1, SINCE[:1], [], "previous run still running since 10:04:01"),
    (1, [], SINCE[:1], "previous run still waiting for a free worker since 10:04:01"),
    (2, SINCE[:1], [], ""),
    (2, SINCE, [], "2 runs still running, the oldest since 10:04:01"),
    (2, SINCE[1:], SINCE[:1], "2 runs in flight (1 running, 1 waiting for a free worker), "
                              "the oldest since 10:04:01"),
], ids=["none-running", "one-of-one", "one-of-one-queued", "one-of-two", "two-of-two",
        "two-of-two-one-queued"])
def test_overlap_reason_names_the_oldest_run_in_flight_and_whether_it_waits_for_a_worker(
        max_instances: int, running: list[datetime], queued: list[datetime],
        reason: str) -> None:
    task = shell_task("t", 10, max_instances=max_instances)
    assert policies.overlap_reason(task, running, queued) == reason


@pytest.mark.parametrize(("grace", "lateness", "reason"), [
    (None, 3600.0, ""),
    (5, 5.0, ""),
    (5, 5.25, "5.250s late, more than misfire_grace_seconds=5"),
    (0, 0.001, "0.001s late, more than misfire_grace_seconds=0"),
], ids=["no-grace-runs-anyway", "exactly-the-grace", "past-the-grace", "zero-grace"])
def test_misfire_reason_only_past_the_grace(grace: float | None, lateness: float,
                                            reason: str) -> None:
    task = shell_task("t", 10, misfire_grace_seconds=grace)
    assert policies.misfire_reason(task, lateness) == reason


def test_retry_delays_double_until_the_cap_then_stop_after_the_last_retry() -> None:
    task = shell_task("t", 10, retries=5, retry_delay_seconds=1.5, retry_backoff=2,
                      retry_max_delay_seconds=10)

    delays = [policies.retry_delay(task, RunStatus.FAILED, attempt) for attempt in range(1, 8)]

    assert delays == [1.5, 3.0, 6.0, 10.0, 10.0, None, None]


@pytest.mark.parametrize("status", [RunStatus.SUCCEEDED, RunStatus.SKIPPED, RunStatus.MISSED])
def test_only_failed_and_timed_out_runs_are_retried(status: RunStatus) -> None:
    task = shell_task("t", 10, retries=3)
    assert policies.retry_delay(task, status, 1) is None
    assert policies.retry_delay(task, RunStatus.TIMED_OUT, 1) == 1.0
