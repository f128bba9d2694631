"""The run book, through the engine on the fake clock: which runs are in flight, and whose.

A run is *queued* from the moment the engine hands it over until a worker
starts it, then *running* until its thread is free. The overlap rule counts
both, says which it was, and never counts an attempt against its own retry;
a run belongs to the record of the task it was planned for, even after that
task is removed and added again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
from conftest import RecordingExecutor, shell_task

from configure_task_scheduler.clock import FakeClock
from configure_task_scheduler.engine import Engine
from configure_task_scheduler.execution import RunReporter
from configure_task_scheduler.registry import Registry
from configure_task_scheduler.task import Run, RunResult, RunStatus, Task, TaskState

pytestmark = pytest.mark.usefixtures("utc_local_time")


def make_engine(clock: FakeClock, executor: RecordingExecutor, *tasks: Task) -> Engine:
    return Engine(Registry(tasks), executor, clock)  # type: ignore[arg-type]


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def in_flight(engine: Engine) -> list[tuple[str, TaskState, int, int]]:
    return [(s.task_id, s.state, s.queued, s.running) for s in engine.snapshot()]


@dataclass
class BusyPoolExecutor(RecordingExecutor):
    """Every worker is busy: runs wait in the queue until `start_queued()`."""

    def submit(self, run: Run, reporter: RunReporter) -> None:
        self.submitted.append((run.task.task_id, self.clock.monotonic() - 1000.0))
        self.held.append((run, reporter))

    def start_queued(self) -> None:
        for run, reporter in self.held:
            reporter.run_started(run, self.clock.wall(), self.clock.monotonic())


def test_a_run_waiting_for_a_worker_is_queued_and_the_next_one_is_skipped_saying_so(
        fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    executor = BusyPoolExecutor(fake_clock)
    engine = make_engine(fake_clock, executor, shell_task("report", 10))

    engine.run(duration_seconds=10)
    queued = in_flight(engine)
    engine.run(duration_seconds=10)
    executor.start_queued()  # run 1 gets a worker at 00:00:20
    running = in_flight(engine)
    engine.run(duration_seconds=10)

    assert (queued, running) == ([("report", TaskState.QUEUED, 1, 0)],
                                 [("report", TaskState.RUNNING, 0, 1)])
    assert warnings(caplog) == [
        "task report run 2 skipped: previous run still waiting for a free worker since 00:00:10",
        "task report run 1 started 10.000s late",
        "task report run 3 skipped: previous run still running since 00:00:20"]


def test_overlap_with_several_instances_counts_queued_and_running_runs_apart(
        fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    executor = BusyPoolExecutor(fake_clock)
    engine = make_engine(fake_clock, executor, shell_task("report", 10, max_instances=2))

    engine.run(duration_seconds=10)
    executor.start_queued()
    engine.run(duration_seconds=20)

    assert in_flight(engine) == [("report", TaskState.RUNNING, 1, 1)]
    assert warnings(caplog) == [
        "task report run 3 skipped: 2 runs in flight (1 running, 1 waiting for a free "
        "worker), the oldest since 00:00:10"]


@dataclass
class TimingOutExecutor(RecordingExecutor):
    """Each run times out at once, but keeps its thread (a Python call that hangs)."""

    def submit(self, run: Run, reporter: RunReporter) -> None:
        self.submitted.append((run.task.task_id, self.clock.monotonic() - 1000.0))
        reporter.run_started(run, self.clock.wall(), self.clock.monotonic())
        now = self.clock.wall()
        reporter.run_finished(run, RunResult.of(run, RunStatus.TIMED_OUT, now, now, 0.0))
        self.held.append((run, reporter))  # never released


def test_a_timed_out_run_s_retry_starts_although_the_attempt_still_holds_its_thread(
        fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    executor = TimingOutExecutor(fake_clock)
    engine = make_engine(fake_clock, executor,
                         shell_task("hang", 100, retries=1, retry_delay_seconds=5))

    engine.run(duration_seconds=200)

    # The retry at 105 is not held back by its own first attempt; run 2 at 200
    # is, by the two attempts of run 1 still in flight (max_instances: 1).
    assert executor.times_of("hang") == [100.0, 105.0]
    assert warnings(caplog) == [
        "task hang run 2 skipped: previous run still running since 00:01:40"]
    assert in_flight(engine) == [("hang", TaskState.RUNNING, 0, 2)]


def test_a_run_in_flight_when_its_task_is_removed_and_added_again_keeps_to_its_own_record(
        fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    executor = RecordingExecutor(fake_clock, hold=True)
    engine = make_engine(fake_clock, executor, shell_task("report", 10))
    engine.run(duration_seconds=10)  # run 1 starts and is held

    engine.remove("report")
    engine.add(shell_task("report", 10))
    engine.run(duration_seconds=10)  # the new task's run 1 is due while the old one runs
    executor.finish_held()  # the old run ends: it reports into the old record
    after_old_run = engine.snapshot()[0]
    engine.run(duration_seconds=10)

    assert executor.times_of("report") == [10.0, 30.0]
    assert warnings(caplog) == [
        "task report run 1 skipped: previous run still running since 00:00:10"]
    assert (after_old_run.running, after_old_run.last_result,
            dict(after_old_run.counts)) == (0, None, {RunStatus.SKIPPED: 1})
