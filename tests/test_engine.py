"""The engine on the fake clock (exact times) and, for threading, on the real one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from conftest import RecordingExecutor, shell_task, wait_until

from configure_task_scheduler.clock import FakeClock, RealClock
from configure_task_scheduler.engine import Engine
from configure_task_scheduler.registry import Registry
from configure_task_scheduler.schedules.cron import CronSchedule
from configure_task_scheduler.task import (
    EventKind,
    Run,
    RunEvent,
    RunStatus,
    Task,
    TaskState,
    TaskType,
)

pytestmark = pytest.mark.usefixtures("utc_local_time")


def make_engine(clock: FakeClock, executor: RecordingExecutor, *tasks: object) -> Engine:
    return Engine(Registry(tasks), executor, clock)  # type: ignore[arg-type]


def test_interval_tasks_keep_fixed_rate_over_a_simulated_day(
        fake_clock: FakeClock, recording_executor: RecordingExecutor) -> None:
    engine = make_engine(fake_clock, recording_executor,
                         shell_task("often", 7), shell_task("hourly", 3600))

    engine.run(duration_seconds=86400)

    assert recording_executor.times_of("often") == [7.0 * n for n in range(1, 12343)]
    assert recording_executor.times_of("hourly") == [3600.0 * n for n in range(1, 25)]


def test_fractional_interval_does_not_drift_over_a_simulated_hour(
        fake_clock: FakeClock, recording_executor: RecordingExecutor) -> None:
    engine = make_engine(fake_clock, recording_executor, shell_task("tenth", 0.1))

    engine.run(duration_seconds=3600)

    times = recording_executor.times_of("tenth")
    assert len(times) == 36000
    assert times[-1] == pytest.approx(3600.0, abs=1e-6)
    assert max(abs(at - 0.1 * n) for n, at in enumerate(times, start=1)) < 1e-6


def test_run_on_start_runs_at_once_then_keeps_the_interval(
        fake_clock: FakeClock, recording_executor: RecordingExecutor) -> None:
    engine = make_engine(fake_clock, recording_executor,
                         shell_task("eager", 10, run_on_start=True))

    engine.run(duration_seconds=35)

    assert recording_executor.times_of("eager") == [0.0, 10.0, 20.0, 30.0]


def test_disabled_task_is_registered_but_never_runs(
        fake_clock: FakeClock, recording_executor: RecordingExecutor) -> None:
    engine = make_engine(fake_clock, recording_executor,
                         shell_task("off", 1, enabled=False), shell_task("on", 10))

    engine.run(duration_seconds=30)

    assert recording_executor.times_of("off") == []
    assert [(s.task.task_id, s.state) for s in engine.snapshot()] == [
        ("off", TaskState.DISABLED), ("on", TaskState.SCHEDULED)]


@dataclass
class SlowFirstRun(RecordingExecutor):
    """The first hand-off takes `stall_seconds` of (fake) time: the loop falls behind."""

    stall_seconds: float = 0.0

    def submit(self, run: Run, reporter: object) -> None:
        super().submit(run, reporter)  # type: ignore[arg-type]
        if len(self.submitted) == 1:
            self.clock.advance(self.stall_seconds)


def test_runs_missed_while_behind_are_coalesced_into_one(
        fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    executor = SlowFirstRun(fake_clock, stall_seconds=25)
    engine = make_engine(fake_clock, executor, shell_task("steady", 10))
    caplog.set_level(logging.WARNING)

    engine.run(duration_seconds=60)

    # Due at 20 and 30 while stalled until 35: one run at 35, then back on the grid.
    assert executor.times_of("steady") == [10.0, 35.0, 40.0, 50.0, 60.0]
    assert caplog.messages == [
        "task steady is 15.000s behind: 1 missed run coalesced into this one",
        "task steady run 2 started 15.000s late"]


def test_coalesced_run_keeps_its_planned_time_and_the_grid(fake_clock: FakeClock) -> None:
    executor = SlowFirstRun(fake_clock, stall_seconds=47)
    engine = make_engine(fake_clock, executor, shell_task("steady", 10))
    planned: list[float] = []
    engine.subscribe(lambda event: planned.append(event.run.planned_monotonic - 1000.0)
                     if event.kind is EventKind.RUN_STARTED else None)

    engine.run(duration_seconds=80)

    assert executor.times_of("steady") == [10.0, 57.0, 60.0, 70.0, 80.0]
    assert planned == [10.0, 20.0, 60.0, 70.0, 80.0]


def test_run_still_in_flight_makes_the_next_one_skipped(
        fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    executor = RecordingExecutor(fake_clock, hold=True)
    engine = make_engine(fake_clock, executor, shell_task("slow", 10))
    events: list[tuple[str, int, str]] = []
    engine.subscribe(lambda e: events.append((e.kind.value, e.run.run_number, e.reason)))
    caplog.set_level(logging.WARNING)

    engine.run(duration_seconds=25)

    assert executor.times_of("slow") == [10.0]
    assert events == [("run_started", 1, ""),
                      ("run_skipped", 2, "previous run still running since 00:00:10")]
    assert caplog.messages == ["task slow run 2 skipped: previous run still running since 00:00:10"]
    snapshot, = engine.snapshot()
    assert (snapshot.state, snapshot.running, dict(snapshot.counts)) == (
        TaskState.RUNNING, 1, {RunStatus.SKIPPED: 1})


def test_next_run_starts_again_once_the_slow_run_finished(fake_clock: FakeClock) -> None:
    executor = RecordingExecutor(fake_clock, hold=True)
    engine = make_engine(fake_clock, executor, shell_task("slow", 10))
    engine.run(duration_seconds=25)
    executor.finish_held()

    engine.run(duration_seconds=10)

    assert executor.times_of("slow") == [10.0, 30.0]


def test_snapshot_reports_next_run_last_result_and_counts(
        fake_clock: FakeClock, recording_executor: RecordingExecutor) -> None:
    engine = make_engine(fake_clock, recording_executor, shell_task("tick", 10))
    engine.run(duration_seconds=35)
    snapshot, = engine.snapshot()

    assert snapshot.next_run_at is None  # not running: nothing is planned
    assert snapshot.last_result is not None
    assert (snapshot.last_result.run_number, snapshot.last_result.status) == (
        3, RunStatus.SUCCEEDED)
    assert dict(snapshot.counts) == {RunStatus.SUCCEEDED: 3}


def test_snapshot_gives_an_unchanged_task_the_same_record_and_a_changed_one_a_new_one(
        fake_clock: FakeClock, recording_executor: RecordingExecutor) -> None:
    engine = make_engine(fake_clock, recording_executor, shell_task("tick", 10),
                         shell_task("idle", 3600))
    engine.run(duration_seconds=15)
    tick, idle = engine.snapshot()
    assert [snapshot.task_id for snapshot in engine.snapshot()] == ["tick", "idle"]
    assert engine.snapshot()[0] is tick and engine.snapshot()[1] is idle

    engine.run(duration_seconds=10)  # tick runs again; idle does not
    new_tick, new_idle = engine.snapshot()

    assert new_idle is idle
    assert new_tick is not tick and dict(new_tick.counts) == {RunStatus.SUCCEEDED: 2}
    assert dict(tick.counts) == {RunStatus.SUCCEEDED: 1}  # an earlier record never changes


def test_listener_that_raises_is_logged_and_the_run_goes_on(
        fake_clock: FakeClock, recording_executor: RecordingExecutor,
        caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(fake_clock, recording_executor, shell_task("tick", 10))
    seen: list[str] = []

    def broken(event: RunEvent) -> None:
        raise RuntimeError("listener bug")

    engine.subscribe(broken)
    engine.subscribe(lambda event: seen.append(event.kind.value))
    caplog.set_level(logging.ERROR)

    engine.run(duration_seconds=10)

    assert seen == ["run_started", "run_finished"]
    assert [r.getMessage().split(" failed on ")[1] for r in caplog.records] == [
        "run_started of task tick; ignored", "run_finished of task tick; ignored"]


def test_executor_error_is_logged_and_other_tasks_keep_running(
        fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    class Exploding(RecordingExecutor):
        def submit(self, run: Run, reporter: object) -> None:
            if run.task.task_id == "bad":
                raise OSError("no more threads")
            super().submit(run, reporter)  # type: ignore[arg-type]

    executor = Exploding(fake_clock)
    engine = make_engine(fake_clock, executor, shell_task("bad", 10), shell_task("good", 10))
    caplog.set_level(logging.ERROR)

    engine.run(duration_seconds=20)

    assert executor.times_of("good") == [10.0, 20.0]
    assert caplog.messages == ["task bad run 1 could not be handed to the executor",
                               "task bad run 2 could not be handed to the executor"]


def test_replaced_task_is_planned_afresh_and_keeps_its_counts(
        fake_clock: FakeClock, recording_executor: RecordingExecutor) -> None:
    engine = make_engine(fake_clock, recording_executor, shell_task("job", 10))
    engine.run(duration_seconds=25)

    engine.add(shell_task("job", 4))
    engine.run(duration_seconds=10)

    assert recording_executor.times_of("job") == [10.0, 20.0, 29.0, 33.0]
    [snapshot] = engine.snapshot()
    assert dict(snapshot.counts) == {RunStatus.SUCCEEDED: 4}
    assert snapshot.last_result is not None and snapshot.last_result.run_number == 4


def test_removed_task_stops_running_and_its_queued_event_is_ignored(
        fake_clock: FakeClock, recording_executor: RecordingExecutor) -> None:
    engine = make_engine(fake_clock, recording_executor,
                         shell_task("gone", 10), shell_task("stays", 10))
    engine.run(duration_seconds=15)

    removed = engine.remove("gone")
    engine.run(duration_seconds=20)

    assert removed is not None and removed.task_id == "gone"
    assert recording_executor.times_of("gone") == [10.0]
    assert recording_executor.times_of("stays") == [10.0, 20.0, 30.0]
    assert [s.task.task_id for s in engine.snapshot()] == ["stays"]


def test_events_of_removed_tasks_are_dropped_from_the_queue_once_they_pile_up(
        fake_clock: FakeClock, recording_executor: RecordingExecutor,
        caplog: pytest.LogCaptureFixture) -> None:
    hourly = [shell_task(f"t{n}", 3600) for n in range(1100)]
    engine = make_engine(fake_clock, recording_executor, *hourly, shell_task("stays", 10))
    engine.run(duration_seconds=5)
    for task in hourly:
        engine.remove(task.task_id)
    engine.add(shell_task("again", 10))

    with caplog.at_level(logging.DEBUG, logger="configure_task_scheduler.engine"):
        engine.run(duration_seconds=20)

    assert [m for m in caplog.messages if "stale" in m] == [
        "dropped 1100 stale events from the queue"]
    assert recording_executor.times_of("stays") == [10.0, 20.0]
    assert recording_executor.times_of("again") == [15.0, 25.0]
    assert recording_executor.times_of("t0") == []


# -- real clock, real threads -------------------------------------------------


class Runs:
    """Counts started runs per task from the engine's events; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: dict[str, int] = {}

    def __call__(self, event: RunEvent) -> None:
        if event.kind is EventKind.RUN_FINISHED:
            with self.lock:
                self.started[event.run.task.task_id] = self.count(event.run.task.task_id) + 1

    def count(self, task_id: str) -> int:
        return self.started.get(task_id, 0)


@pytest.fixture
def running_engine() -> Iterator[tuple[Engine, Runs]]:
    """An engine with a real clock, running in a thread, with a no-op executor."""
    clock = RealClock()
    engine = Engine(Registry([shell_task("hourly", 3600)]), InstantExecutor(clock), clock)
    runs = Runs()
    engine.subscribe(runs)
    thread = threading.Thread(target=engine.run, name="engine-under-test")
    thread.start()
    yield engine, runs
    engine.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()


class InstantExecutor:
    """Finishes every run at once in the engine's thread (real time, no pool)."""

    def __init__(self, clock: RealClock) -> None:
        self.clock = clock

    def submit(self, run: Run, reporter: object) -> None:
        fake = FakeClock(self.clock.wall(), self.clock.monotonic())
        RecordingExecutor(fake).submit(run, reporter)  # type: ignore[arg-type]

    def shutdown(self, timeout_seconds: float) -> list[Run]:
        return []


def test_task_added_from_another_thread_runs_without_waiting_for_the_sleep(
        running_engine: tuple[Engine, Runs]) -> None:
    engine, runs = running_engine

    engine.add(shell_task("now", 3600, run_on_start=True))

    # The engine was asleep until the hourly task; the add must wake it.
    wait_until(lambda: runs.count("now") == 1, timeout_seconds=5)


class WatchedClock(RealClock):
    """A real clock that tells when the engine sleeps and counts wake-ups."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeping = threading.Event()
        self.wakes = 0

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.sleeping.set()
        super().sleep(seconds)

    def wake(self) -> None:
        self.wakes += 1
        super().wake()


def test_tasks_added_for_after_the_engine_wakes_anyway_leave_it_asleep() -> None:
    clock = WatchedClock()
    engine = Engine(Registry([shell_task("hourly", 3600)]), InstantExecutor(clock), clock)
    thread = threading.Thread(target=engine.run, name="engine-under-test")
    thread.start()
    try:
        assert clock.sleeping.wait(5)  # asleep, at most MAX_WAIT_SECONDS

        for n in range(100):
            engine.add(shell_task(f"later{n}", 3600))
        engine.remove("later0")
        wakes_for_later_tasks = clock.wakes
        engine.add(shell_task("soon", 0.01))
        wakes_for_a_task_due_soon = clock.wakes - wakes_for_later_tasks
    finally:
        engine.stop()
        thread.join(timeout=5)

    assert (wakes_for_later_tasks, wakes_for_a_task_due_soon) == (0, 1)


def test_stop_wakes_a_sleeping_engine_at_once() -> None:
    clock = RealClock()
    engine = Engine(Registry([shell_task("hourly", 3600)]), InstantExecutor(clock), clock)
    thread = threading.Thread(target=engine.run, name="engine-under-test")
    thread.start()
    wait_until(lambda: engine.snapshot()[0].next_run_at is not None)

    engine.stop()

    thread.join(timeout=5)
    assert not thread.is_alive()


def test_concurrent_adds_and_removes_leave_a_consistent_engine(
        running_engine: tuple[Engine, Runs]) -> None:
    engine, runs = running_engine

    def churn(worker: int) -> None:
        for n in range(200):
            engine.add(shell_task(f"w{worker}-{n % 10}", 0.01, run_on_start=True))
            if n % 3 == 0:
                engine.remove(f"w{worker}-{(n + 5) % 10}")

    workers = [threading.Thread(target=churn, args=(w,), name=f"churn-{w}") for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    engine.add(shell_task("marker", 0.01, run_on_start=True))

    wait_until(lambda: runs.count("marker") >= 3)
    ids = [snapshot.task.task_id for snapshot in engine.snapshot()]
    assert ids[0] == "hourly" and ids[-1] == "marker"
    assert len(ids) == len(set(ids))
    assert all(runs.count(task_id) >= 1 for task_id in ids[1:])


# -- calendar tasks and a wall clock that jumps ---------------------------------


def cron_task(task_id: str, expression: str, **fields: object) -> Task:
    return Task(task_id=task_id, task_type=TaskType.SHELL, entry_point="true",
                schedule=CronSchedule(expression, "UTC"), task_name=task_id,
                **fields)  # type: ignore[arg-type]


class WallTimes:
    """Records (planned, actual) wall-clock start times as HH:MM, and can disturb the clock."""

    def __init__(self, clock: FakeClock, on_run: int = 0,
                 disturb: Callable[[], None] | None = None) -> None:
        self.clock, self.on_run, self.disturb = clock, on_run, disturb
        self.runs: list[tuple[str, str]] = []

    def __call__(self, event: RunEvent) -> None:
        if event.kind is not EventKind.RUN_STARTED:
            return
        self.runs.append((f"{event.run.planned_at:%d %H:%M}", f"{self.clock.wall():%d %H:%M}"))
        if len(self.runs) == self.on_run and self.disturb is not None:
            self.disturb()


def test_cron_task_runs_on_its_wall_clock_minutes(
        fake_clock: FakeClock, recording_executor: RecordingExecutor) -> None:
    engine = make_engine(fake_clock, recording_executor, cron_task("quarterly", "*/15 * * * *"))
    times = WallTimes(fake_clock)
    engine.subscribe(times)

    engine.run(duration_seconds=3600)

    assert times.runs == [("01 00:15", "01 00:15"), ("01 00:30", "01 00:30"),
                          ("01 00:45", "01 00:45"), ("01 01:00", "01 01:00")]


def test_wall_clock_jump_forward_gives_one_coalesced_run_then_the_new_time(
        fake_clock: FakeClock, recording_executor: RecordingExecutor,
        caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(fake_clock, recording_executor, cron_task("minutely", "* * * * *"))
    times = WallTimes(fake_clock, on_run=2, disturb=lambda: fake_clock.jump_wall(3600))
    engine.subscribe(times)
    caplog.set_level(logging.WARNING)

    engine.run(duration_seconds=240)

    # Noticed within one loop pass (here the 60 s wait): the 00:03 run starts
    # at 01:03, the 57 runs it missed are coalesced into it, then 01:04 on.
    assert times.runs == [("01 00:01", "01 00:01"), ("01 00:02", "01 00:02"),
                          ("01 00:03", "01 01:03"), ("01 01:04", "01 01:04")]
    assert caplog.messages == [
        "the wall clock jumped forward by 3600.0s (clock change or suspend); "
        "re-planning calendar tasks",
        "task minutely is 3600.000s behind: some missed runs coalesced into this one"]


def test_wall_clock_step_back_keeps_wildcard_tasks_running_and_repeats_no_fixed_time(
        fake_clock: FakeClock, recording_executor: RecordingExecutor,
        caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(fake_clock, recording_executor, cron_task("fixed", "2,5 0 * * *"),
                         cron_task("minutely", "* * * * *"))
    fixed, minutely = WallTimes(fake_clock), WallTimes(
        fake_clock, on_run=2, disturb=lambda: fake_clock.jump_wall(-3600))
    engine.subscribe(lambda event: (fixed if event.run.task.task_id == "fixed" else minutely)(
        event))
    caplog.set_level(logging.WARNING)

    engine.run(duration_seconds=3600 + 300)

    # Right after the 00:02 runs the clock is set back to 23:02 (Debian cron's
    # rule for a step back of up to 3 h): the wildcard task goes on at once,
    # at the new times; the fixed-time task does not repeat 00:02, which ran
    # by the old reading, and runs 00:05 when the clock reaches it.
    assert fixed.runs == [("01 00:02", "01 00:02"), ("01 00:05", "01 00:05")]
    assert minutely.runs == [("01 00:01", "01 00:01"), ("01 00:02", "01 00:02")] + [
        (f"{day} {hour:02d}:{minute:02d}", f"{day} {hour:02d}:{minute:02d}")
        for day, hour, minute in [("31", 23, m) for m in range(3, 60)] +
        [("01", 0, m) for m in range(0, 6)]]
    assert caplog.messages == [
        "the wall clock jumped back by 3600.0s (clock change or suspend); "
        "re-planning calendar tasks"]


def test_suspend_coalesces_calendar_runs_and_pauses_interval_tasks(
        fake_clock: FakeClock, recording_executor: RecordingExecutor) -> None:
    engine = make_engine(fake_clock, recording_executor,
                         cron_task("hourly", "0 * * * *"), shell_task("every_10m", 600))
    times = WallTimes(fake_clock, on_run=1, disturb=lambda: fake_clock.suspend(8 * 3600))
    engine.subscribe(lambda event: times(event) if event.run.task.task_id == "hourly" else None)

    engine.run(duration_seconds=2 * 3600)

    # Suspended for 8 h right after the 01:00 run; noticed 60 s after resuming
    # (09:01): the 02:00 run starts then, standing for the 7 missed ones.
    assert times.runs == [("01 01:00", "01 01:00"), ("01 02:00", "01 09:01"),
                          ("01 10:00", "01 10:00")]
    # The monotonic clock stood still during the suspend: the interval task
    # just continues its rhythm (12 runs in 2 h of monotonic time).
    assert recording_executor.times_of("every_10m") == [600.0 * n for n in range(1, 13)]


def test_reboot_task_runs_once_at_start_and_never_again(
        fake_clock: FakeClock, recording_executor: RecordingExecutor) -> None:
    engine = make_engine(fake_clock, recording_executor, cron_task("boot", "@reboot"))

    engine.run(duration_seconds=86400)

    assert recording_executor.times_of("boot") == [0.0]
    assert engine.snapshot()[0].state is TaskState.FINISHED


def test_jitter_delays_each_run_without_moving_the_grid(fake_clock: FakeClock) -> None:
    executor = RecordingExecutor(fake_clock)
    engine = Engine(Registry([shell_task("spread", 60, jitter_seconds=30)]), executor,
                    fake_clock, random=iter([0.5, 0.0, 0.999, 0.1]).__next__)

    engine.run(duration_seconds=240)

    # Planned on the grid 60, 120, 180, 240; each start 0.5, 0, 0.999, 0.1 of 30 s later.
    assert executor.times_of("spread") == pytest.approx([75.0, 120.0, 209.97])


# -- execution policies: overlap, misfires, retries ---------------------------------


class FailingExecutor(RecordingExecutor):
    """Every attempt fails at once."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock, status=RunStatus.FAILED)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def attempts(events: list[RunEvent]) -> list[tuple[int, int, str]]:
    return [(e.run.run_number, e.run.attempt, e.result.status.value)
            for e in events if e.kind is EventKind.RUN_FINISHED and e.result is not None]


def test_max_instances_lets_that_many_runs_overlap_then_skips(
        fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    executor = RecordingExecutor(fake_clock, hold=True)
    engine = make_engine(fake_clock, executor, shell_task("slow", 10, max_instances=2))
    skipped: list[RunEvent] = []
    engine.subscribe(lambda e: skipped.append(e) if e.kind is EventKind.RUN_SKIPPED else None)
    caplog.set_level(logging.WARNING)

    engine.run(duration_seconds=30)

    assert executor.times_of("slow") == [10.0, 20.0]
    assert caplog.messages == [
        "task slow run 3 skipped: 2 runs still running, the oldest since 00:00:10"]
    assert [(e.run.run_number, e.result.status, e.result.error) for e in skipped
            if e.result is not None] == [
        (3, RunStatus.SKIPPED, "2 runs still running, the oldest since 00:00:10")]


def test_failed_run_is_retried_with_exponential_backoff_up_to_the_cap(
        fake_clock: FakeClock) -> None:
    executor = FailingExecutor(fake_clock)
    task = shell_task("flaky", 100, retries=3, retry_delay_seconds=1, retry_backoff=2,
                      retry_max_delay_seconds=3)
    engine = make_engine(fake_clock, executor, task)
    events: list[RunEvent] = []
    engine.subscribe(events.append)

    engine.run(duration_seconds=150)

    # Waits of 1, 2, then 4 capped at 3 seconds: attempts at 100, 101, 103, 106.
    assert executor.times_of("flaky") == [100.0, 101.0, 103.0, 106.0]
    assert attempts(events) == [(1, 1, "failed"), (1, 2, "failed"), (1, 3, "failed"),
                                (1, 4, "failed")]
    assert dict(engine.snapshot()[0].counts) == {RunStatus.FAILED: 1}


def test_retry_that_succeeds_ends_the_run_as_succeeded(fake_clock: FakeClock) -> None:
    class FailsOnce(RecordingExecutor):
        def submit(self, run: Run, reporter: object) -> None:
            self.status = RunStatus.FAILED if run.attempt == 1 else RunStatus.SUCCEEDED
            super().submit(run, reporter)  # type: ignore[arg-type]

    executor = FailsOnce(fake_clock)
    engine = make_engine(fake_clock, executor, shell_task("flaky", 100, retries=2))
    events: list[RunEvent] = []
    engine.subscribe(events.append)

    engine.run(duration_seconds=150)

    assert attempts(events) == [(1, 1, "failed"), (1, 2, "succeeded")]
    snapshot, = engine.snapshot()
    assert dict(snapshot.counts) == {RunStatus.SUCCEEDED: 1}
    assert snapshot.last_result is not None and snapshot.last_result.attempt == 2


def test_retry_that_would_reach_the_next_run_is_not_made(
        fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    executor = FailingExecutor(fake_clock)
    task = shell_task("flaky", 10, retries=5, retry_delay_seconds=4, retry_backoff=2)
    engine = make_engine(fake_clock, executor, task)
    caplog.set_level(logging.WARNING)

    engine.run(duration_seconds=19)

    # Attempt 2 at 14; attempt 3 would wait 8 s until 22, after the run planned at 20.
    assert executor.times_of("flaky") == [10.0, 14.0]
    assert warnings(caplog) == [
        "task flaky run 1 not retried: its next run is due before the retry would be"]


def test_shutdown_cancels_a_pending_retry(
        fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    executor = FailingExecutor(fake_clock)
    engine = make_engine(fake_clock, executor, shell_task("flaky", 100, retries=3))
    engine.run(duration_seconds=102)
    caplog.set_level(logging.WARNING)
    caplog.clear()

    engine.shutdown(timeout_seconds=0)
    engine.run(duration_seconds=100)  # nothing is left to run, not even the retry

    assert executor.times_of("flaky") == [100.0, 101.0]
    assert warnings(caplog) == ["task flaky run 1: retry (attempt 3) cancelled by the shutdown"]
    assert dict(engine.snapshot()[0].counts) == {RunStatus.FAILED: 1}


def test_run_later_than_its_misfire_grace_is_missed_not_run(
        fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    executor = SlowFirstRun(fake_clock, stall_seconds=25)
    engine = make_engine(fake_clock, executor,
                         shell_task("steady", 10, misfire_grace_seconds=5))
    skipped: list[RunEvent] = []
    engine.subscribe(lambda e: skipped.append(e) if e.kind is EventKind.RUN_SKIPPED else None)
    caplog.set_level(logging.WARNING)

    engine.run(duration_seconds=60)

    assert executor.times_of("steady") == [10.0, 40.0, 50.0, 60.0]
    assert [(e.run.run_number, e.result.status) for e in skipped if e.result] == [
        (2, RunStatus.MISSED)]
    assert caplog.messages[1] == (
        "task steady run 2 missed: 15.000s late, more than misfire_grace_seconds=5")
    assert dict(engine.snapshot()[0].counts) == {RunStatus.SUCCEEDED: 4, RunStatus.MISSED: 1}


def test_run_waiting_for_a_worker_past_its_grace_is_missed_when_it_would_start(
        fake_clock: FakeClock) -> None:
    class BusyPool(RecordingExecutor):
        """Every run waits 3 s for a free worker (the two runs: 3 s and 6 s late)."""

        def submit(self, run: Run, reporter: object) -> None:
            self.clock.advance(3)
            super().submit(run, reporter)  # type: ignore[arg-type]

    executor = BusyPool(fake_clock)
    engine = make_engine(fake_clock, executor,
                         shell_task("strict", 10, misfire_grace_seconds=2),
                         shell_task("lenient", 10, misfire_grace_seconds=10))
    engine.run(duration_seconds=10)

    counts = {s.task.task_id: dict(s.counts) for s in engine.snapshot()}
    assert counts == {"strict": {RunStatus.MISSED: 1}, "lenient": {RunStatus.SUCCEEDED: 1}}


def test_changed_task_with_run_on_start_is_not_run_again_at_once(
        fake_clock: FakeClock, recording_executor: RecordingExecutor) -> None:
    engine = make_engine(fake_clock, recording_executor,
                         shell_task("eager", 10, run_on_start=True))
    engine.run(duration_seconds=25)

    engine.add(shell_task("eager", 10, run_on_start=True, description="edited"))
    engine.run(duration_seconds=20)

    assert recording_executor.times_of("eager") == [0.0, 10.0, 20.0, 35.0, 45.0]


def test_change_to_a_task_cancels_its_pending_retry_and_counts_the_failure(
        fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    executor = FailingExecutor(fake_clock)
    engine = make_engine(fake_clock, executor, shell_task("flaky", 100, retries=3))
    engine.run(duration_seconds=100.5)  # attempt 1 failed at 100; its retry is due at 101
    caplog.set_level(logging.WARNING)
    caplog.clear()

    engine.add(shell_task("flaky", 100, retries=3, description="edited"))
    engine.run(duration_seconds=10)

    assert executor.times_of("flaky") == [100.0]
    assert warnings(caplog) == [
        "task flaky run 1: retry (attempt 2) cancelled by a change to the task"]
    assert dict(engine.snapshot()[0].counts) == {RunStatus.FAILED: 1}


def test_retry_pending_when_a_clock_jump_replans_its_task_still_runs(
        fake_clock: FakeClock) -> None:
    executor = FailingExecutor(fake_clock)
    engine = make_engine(fake_clock, executor,
                         cron_task("flaky", "10 0 * * *", retries=1, retry_delay_seconds=30))
    events: list[RunEvent] = []
    engine.subscribe(events.append)
    # The clock is set back 30 s while attempt 1's retry waits: the pass that
    # notices it re-plans the calendar task and must keep the retry. (A fixed
    # time: a wildcard schedule would also run 00:10 again by the new reading.)
    engine.subscribe(lambda event: fake_clock.jump_wall(-30)
                     if event.kind is EventKind.RUN_FINISHED and event.run.attempt == 1 else None)

    engine.run(duration_seconds=900)

    assert executor.times_of("flaky") == [600.0, 630.0]
    assert attempts(events) == [(1, 1, "failed"), (1, 2, "failed")]
    assert dict(engine.snapshot()[0].counts) == {RunStatus.FAILED: 1}


def test_extra_run_asked_for_before_a_change_to_its_task_is_dropped_and_logged(
        fake_clock: FakeClock, recording_executor: RecordingExecutor,
        caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(fake_clock, recording_executor, shell_task("report", 100))
    engine.run(duration_seconds=10)
    caplog.set_level(logging.INFO, logger="configure_task_scheduler.engine")

    assert engine.run_now("report")
    engine.add(shell_task("report", 100, description="edited"))  # before the loop's next pass
    engine.run(duration_seconds=10)

    assert recording_executor.times_of("report") == []
    assert "task report: the extra run asked for was dropped: the task was changed or " \
           "removed before it started" in caplog.messages


def test_extra_run_asked_for_runs_once_at_the_next_pass(
        fake_clock: FakeClock, recording_executor: RecordingExecutor) -> None:
    engine = make_engine(fake_clock, recording_executor, shell_task("report", 100))
    engine.run(duration_seconds=10)

    assert engine.run_now("report")
    engine.run(duration_seconds=100)

    # The extra run does not move the schedule: the grid's run at 100 s still comes.
    assert recording_executor.times_of("report") == [10.0, 100.0]


@dataclass
class EveryRunStalls(RecordingExecutor):
    """Each hand-off takes 15 s of (fake) time: every run of a 10 s task is late."""

    def submit(self, run: Run, reporter: object) -> None:
        super().submit(run, reporter)  # type: ignore[arg-type]
        self.clock.advance(15)


def test_late_and_coalesced_warnings_pass_once_a_minute_with_a_count_of_the_rest(
        fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    executor = EveryRunStalls(fake_clock)
    engine = make_engine(fake_clock, executor, shell_task("steady", 10))
    caplog.set_level(logging.WARNING)

    engine.run(duration_seconds=150)

    assert executor.times_of("steady") == [10.0, 25.0, 40.0, 55.0, 70.0, 85.0, 100.0, 115.0,
                                           130.0, 145.0]
    # Warned at 25 and 40, then held back until a minute had passed: at 85 and 100.
    assert caplog.messages == [
        "task steady run 2 started 5.000s late",
        "task steady is 10.000s behind: 1 missed run coalesced into this one",
        "task steady run 6 started 5.000s late "
        "(3 more like this since the last one were not logged)",
        "task steady is 10.000s behind: 1 missed run coalesced into this one "
        "(1 more like this since the last one were not logged)",
        "task steady run 10 started 5.000s late "
        "(3 more like this since the last one were not logged)"]
