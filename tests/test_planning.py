"""Planning: first_slot, next_slot and moved_slot, tested with plain values.

Planning reads no clock, so every rule is a call with a `ClockReading` made up for the
test: the grid of plain intervals, run_on_start, coalescing, cron tasks that
fell behind, jitter (with an injected random) and clock jumps. The engine's
wall clock is UTC, so every `ClockReading` here is too; slots are compared as
(monotonic, wall, base, anchor, index, missed) with times as ISO strings.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from conftest import shell_task

from configure_task_scheduler.engine.planning import (
    ClockReading,
    Slot,
    first_slot,
    moved_slot,
    next_slot,
)
from configure_task_scheduler.schedules import (
    IntervalSchedule,
    OneShotSchedule,
    Schedule,
)
from configure_task_scheduler.schedules.cron import CronSchedule
from configure_task_scheduler.task import Task, TaskType

START = datetime(2026, 1, 1, tzinfo=timezone.utc)  # 01:00 in Berlin
MONOTONIC_START = 1000.0
SlotView = tuple[float, str, str, float, int, int]


def now_at(seconds: float, wall_offset_seconds: float | None = None) -> ClockReading:
    """Both clocks `seconds` after the start (the wall clock shifted by a jump if given)."""
    wall_seconds = seconds if wall_offset_seconds is None else wall_offset_seconds
    return ClockReading(MONOTONIC_START + seconds, START + timedelta(seconds=wall_seconds))


def no_random() -> float:
    raise AssertionError("random() was called for a task without jitter")


def calendar_task(schedule: Schedule, **fields: Any) -> Task:
    """A shell task on a wall-clock schedule (cron, aligned interval, one-shot)."""
    return Task(task_id="report", task_type=TaskType.SHELL, entry_point="true",
                schedule=schedule, task_name="report", **fields)


def view(slot: Slot | None) -> SlotView | None:
    if slot is None:
        return None
    return (slot.monotonic, slot.wall.isoformat(), slot.base.isoformat(), slot.anchor,
            slot.index, slot.missed)


QUARTER_HOURLY = CronSchedule("*/15 * * * *", "Europe/Berlin")


# --- Plain intervals: the monotonic grid -------------------------------------------------------


def test_plain_interval_first_run_is_grid_point_one_an_interval_after_start() -> None:
    slot = first_slot(shell_task("backup", 10), now_at(0), no_random)

    assert view(slot) == (1010.0, "2026-01-01T00:00:10+00:00", "2026-01-01T00:00:10+00:00",
                          1000.0, 1, 0)


@pytest.mark.parametrize(("due_after", "expected"), [
    (10.0, (1020.0, "2026-01-01T00:00:20+00:00", 2, 0)),
    (13.5, (1020.0, "2026-01-01T00:00:20+00:00", 2, 0)),
    (20.0, (1030.0, "2026-01-01T00:00:30+00:00", 3, 1)),
    (45.0, (1050.0, "2026-01-01T00:00:50+00:00", 5, 3)),
], ids=["on-time", "late-within-the-interval-keeps-the-rate", "exactly-on-the-next-point",
        "three-intervals-behind"])
def test_plain_interval_next_run_is_the_next_grid_point_after_now_coalescing_missed_ones(
        due_after: float, expected: tuple[float, str, int, int]) -> None:
    task = shell_task("backup", 10)
    first = first_slot(task, now_at(0), no_random)
    assert first is not None

    slot = next_slot(task, first, now_at(due_after), no_random)

    monotonic, wall, index, missed = expected
    assert view(slot) == (monotonic, wall, wall, 1000.0, index, missed)


def test_plain_interval_with_run_on_start_runs_now_then_keeps_the_grid_from_now() -> None:
    task = shell_task("backup", 10, run_on_start=True)

    first = first_slot(task, now_at(0), no_random)
    assert first is not None
    following = next_slot(task, first, now_at(0.25), no_random)

    assert view(first) == (1000.0, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00",
                           1000.0, 0, 0)
    assert view(following) == (1010.0, "2026-01-01T00:00:10+00:00",
                               "2026-01-01T00:00:10+00:00", 1000.0, 1, 0)


# --- Wall-clock schedules: cron, aligned intervals, one-shots ---------------------------------


def test_cron_first_run_is_its_next_fire_time_as_a_monotonic_delay() -> None:
    slot = first_slot(calendar_task(QUARTER_HOURLY), now_at(0), no_random)

    assert view(slot) == (1900.0, "2026-01-01T01:15:00+01:00", "2026-01-01T01:15:00+01:00",
                          0.0, 0, 0)


def test_cron_run_on_time_plans_the_following_fire_time() -> None:
    task = calendar_task(QUARTER_HOURLY)
    first = first_slot(task, now_at(0), no_random)
    assert first is not None

    slot = next_slot(task, first, now_at(900), no_random)

    assert view(slot) == (2800.0, "2026-01-01T01:30:00+01:00", "2026-01-01T01:30:00+01:00",
                          0.0, 0, 0)


def test_cron_with_run_on_start_runs_now_then_at_its_next_fire_time() -> None:
    task = calendar_task(QUARTER_HOURLY, run_on_start=True)

    first = first_slot(task, now_at(0), no_random)
    assert first is not None
    following = next_slot(task, first, now_at(0), no_random)

    assert view(first) == (1000.0, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00",
                           1000.0, 0, 0)
    assert view(following) == (1900.0, "2026-01-01T01:15:00+01:00",
                               "2026-01-01T01:15:00+01:00", 0.0, 0, 0)


def test_reboot_cron_runs_once_at_start_and_never_again() -> None:
    task = calendar_task(CronSchedule("@reboot", "Europe/Berlin"))

    first = first_slot(task, now_at(0), no_random)
    assert first is not None

    assert view(first) == (1000.0, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00",
                           1000.0, 0, 0)
    assert next_slot(task, first, now_at(0), no_random) is None


def test_cron_that_fell_behind_runs_once_then_plans_the_first_fire_time_after_now() -> None:
    task = calendar_task(QUARTER_HOURLY)
    first = first_slot(task, now_at(0), no_random)
    assert first is not None

    # Due at 01:15, handled at 04:16 (a suspended laptop): 01:30 ... 04:15 are coalesced.
    slot = next_slot(task, first, now_at(3 * 3600 + 960), no_random)

    assert view(slot) == (13600.0, "2026-01-01T04:30:00+01:00", "2026-01-01T04:30:00+01:00",
                          0.0, 0, -1)


class CountingSchedule:
    """A real schedule that counts how often it is asked for a next time."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule, self.timezone, self.calls = schedule, schedule.timezone, 0

    @property
    def on_monotonic_clock(self) -> bool:
        return self.schedule.on_monotonic_clock

    @property
    def at_fixed_times(self) -> bool:
        return self.schedule.at_fixed_times

    def next_after(self, when: datetime) -> datetime | None:
        self.calls += 1
        return self.schedule.next_after(when)

    def describe(self) -> str:
        return self.schedule.describe()


def test_minutely_cron_ten_days_behind_is_planned_without_enumerating_missed_runs() -> None:
    schedule = CountingSchedule(CronSchedule("* * * * *", "UTC"))
    task = calendar_task(schedule)
    first = first_slot(task, now_at(0), no_random)
    assert first is not None
    schedule.calls = 0

    slot = next_slot(task, first, now_at(10 * 86400 + 90), no_random)

    assert view(slot) == (MONOTONIC_START + 10 * 86400 + 120, "2026-01-11T00:02:00+00:00",
                          "2026-01-11T00:02:00+00:00", 0.0, 0, -1)
    assert schedule.calls == 2


def test_aligned_interval_is_planned_on_the_wall_clock_of_its_zone() -> None:
    task = calendar_task(IntervalSchedule(300, align=True, timezone="Asia/Kolkata"))

    slot = first_slot(task, now_at(180), no_random)

    assert view(slot) == (1300.0, "2026-01-01T05:35:00+05:30", "2026-01-01T05:35:00+05:30",
                          0.0, 0, 0)


def test_one_shot_is_planned_once_and_then_has_no_next_run() -> None:
    task = calendar_task(OneShotSchedule("2026-01-01T02:00:00", "Europe/Berlin"))

    first = first_slot(task, now_at(0), no_random)
    assert first is not None

    assert view(first) == (4600.0, "2026-01-01T02:00:00+01:00", "2026-01-01T02:00:00+01:00",
                           0.0, 0, 0)
    assert next_slot(task, first, now_at(3600), no_random) is None


def test_one_shot_in_the_past_is_not_planned() -> None:
    task = calendar_task(OneShotSchedule("2025-12-31T23:00:00", "Europe/Berlin"))

    assert first_slot(task, now_at(0), no_random) is None


# --- Jitter ------------------------------------------------------------------------------------


def test_interval_jitter_delays_the_run_but_the_next_plan_starts_from_the_grid() -> None:
    task = shell_task("backup", 60, jitter_seconds=20)
    first = first_slot(task, now_at(0), lambda: 0.5)
    assert first is not None

    following = next_slot(task, first, now_at(70), lambda: 0.25)

    assert view(first) == (1070.0, "2026-01-01T00:01:10+00:00", "2026-01-01T00:01:00+00:00",
                           1000.0, 1, 0)
    assert view(following) == (1125.0, "2026-01-01T00:02:05+00:00",
                               "2026-01-01T00:02:00+00:00", 1000.0, 2, 0)


def test_cron_jitter_delays_the_run_but_the_next_plan_starts_from_the_fire_time() -> None:
    task = calendar_task(QUARTER_HOURLY, jitter_seconds=60)
    first = first_slot(task, now_at(0), lambda: 0.25)
    assert first is not None

    following = next_slot(task, first, now_at(915), lambda: 0.5)

    assert view(first) == (1915.0, "2026-01-01T01:15:15+01:00", "2026-01-01T01:15:00+01:00",
                           0.0, 0, 0)
    assert view(following) == (2830.0, "2026-01-01T01:30:30+01:00",
                               "2026-01-01T01:30:00+01:00", 0.0, 0, 0)


@pytest.mark.parametrize(("task", "planned_after", "gap_seconds", "expected_jitter"), [
    (shell_task("backup", 10, jitter_seconds=100), 10, 10, 9.9),
    (calendar_task(CronSchedule("* * * * *", "UTC"), jitter_seconds=3600), 60, 60, 59.4),
    (calendar_task(CronSchedule("0 * * * *", "UTC"), jitter_seconds=100), 3600, 3600, 99.0),
], ids=["interval-capped-by-the-interval", "cron-capped-by-the-gap-to-the-next-fire-time",
        "jitter-below-the-gap-is-used-whole"])
def test_jitter_stays_below_the_gap_to_the_next_planned_run(
        task: Task, planned_after: float, gap_seconds: float, expected_jitter: float) -> None:
    slot = first_slot(task, now_at(0), lambda: 0.99)

    assert slot is not None
    jitter = slot.monotonic - (MONOTONIC_START + planned_after)
    assert jitter == pytest.approx(expected_jitter)
    assert jitter < gap_seconds


def test_interval_jitter_capped_by_the_interval_has_an_exact_delay() -> None:
    slot = first_slot(shell_task("backup", 10, jitter_seconds=100), now_at(0), lambda: 0.99)

    assert view(slot) == (1019.9, "2026-01-01T00:00:19.900000+00:00",
                          "2026-01-01T00:00:10+00:00", 1000.0, 1, 0)


def test_one_shot_jitter_has_no_next_run_to_stay_below_and_is_used_whole() -> None:
    task = calendar_task(OneShotSchedule("2026-01-01T00:01:00", "UTC"), jitter_seconds=100)

    slot = first_slot(task, now_at(0), lambda: 0.5)

    assert view(slot) == (1110.0, "2026-01-01T00:01:50+00:00", "2026-01-01T00:01:00+00:00",
                          0.0, 0, 0)


def test_cron_jitter_on_a_spring_forward_night_stays_below_the_real_hour_to_the_next_run(
        ) -> None:
    task = calendar_task(CronSchedule("0 * * * *", "Europe/Berlin"), jitter_seconds=5000)
    now = ClockReading(MONOTONIC_START, datetime(2026, 3, 28, 23, 30, tzinfo=timezone.utc))

    # 01:00+01:00 is followed by 03:00+02:00: two hours on the wall, one in real time.
    slot = first_slot(task, now, lambda: 0.9)

    assert view(slot) == (MONOTONIC_START + 1800 + 3240, "2026-03-29T01:54:00+01:00",
                          "2026-03-29T01:00:00+01:00", 0.0, 0, 0)


@pytest.mark.parametrize(("now_wall", "wall", "base"), [
    ("2026-10-24T23:30:00", "2026-10-25T02:05:00+02:00", "2026-10-25T02:00:00+02:00"),
    ("2026-10-25T00:30:00", "2026-10-25T02:05:00+01:00", "2026-10-25T02:00:00+01:00"),
], ids=["first-pass-an-hour-before-the-repeat", "second-pass"])
def test_cron_jitter_in_the_repeated_hour_measures_real_time(
        now_wall: str, wall: str, base: str) -> None:
    task = calendar_task(CronSchedule("0 * * * *", "Europe/Berlin"), jitter_seconds=600)
    now = ClockReading(MONOTONIC_START, datetime.fromisoformat(now_wall).replace(tzinfo=timezone.utc))

    slot = first_slot(task, now, lambda: 0.5)

    assert view(slot) == (MONOTONIC_START + 1800 + 300, wall, base, 0.0, 0, 0)


# --- Wall-clock jumps --------------------------------------------------------------------------


def test_wall_clock_jump_forward_past_a_cron_slot_makes_it_due_now_and_coalesces_the_rest(
        ) -> None:
    task = calendar_task(QUARTER_HOURLY)
    slot = first_slot(task, now_at(0), no_random)
    assert slot is not None
    jumped = now_at(60, wall_offset_seconds=3600 + 60)  # 02:01 in Berlin, a minute later

    moved = moved_slot(task, slot, now_at(0), jumped, no_random)
    assert moved is not None
    following = next_slot(task, moved, jumped, no_random)

    assert view(moved) == (1060.0, "2026-01-01T01:15:00+01:00", "2026-01-01T01:15:00+01:00",
                           0.0, 0, 0)
    assert view(following) == (1060.0 + 840, "2026-01-01T02:15:00+01:00",
                               "2026-01-01T02:15:00+01:00", 0.0, 0, -1)


@pytest.mark.parametrize(("expression", "back_hours", "moved"), [
    ("*/15 * * * *", 1, (1060.0 + 840, "2026-01-01T00:15:00+01:00")),
    ("0 1 * * *", 1, (1060.0 + 89940, "2026-01-02T01:00:00+01:00")),
    ("*/15 * * * *", 4, (1060.0 + 840, "2025-12-31T21:15:00+01:00")),
    ("0 1 * * *", 4, (1060.0 + 14340, "2026-01-01T01:00:00+01:00")),
], ids=["wildcard-goes-on-at-the-new-times", "fixed-time-is-not-repeated",
        "wildcard-after-a-clock-set-right", "fixed-time-after-a-clock-set-right"])
def test_wall_clock_step_back_replans_wildcard_times_and_keeps_fixed_times_up_to_3_hours(
        expression: str, back_hours: int, moved: tuple[float, str]) -> None:
    task = calendar_task(CronSchedule(expression, "Europe/Berlin"))
    slot = first_slot(task, now_at(0), no_random)  # 01:00 in Berlin: "0 1" has just run
    assert slot is not None
    # A minute later the clock reads `back_hours` earlier (00:01 or 21:01 in Berlin).
    jumped = now_at(60, wall_offset_seconds=-3600 * back_hours + 60)

    view_of_moved = view(moved_slot(task, slot, now_at(0), jumped, no_random))

    assert view_of_moved == (*moved, moved[1], 0.0, 0, 0)


def test_wall_clock_step_back_keeps_a_fixed_time_slot_with_its_jitter() -> None:
    task = calendar_task(CronSchedule("15 1 * * *", "Europe/Berlin"), jitter_seconds=60)
    slot = first_slot(task, now_at(0), lambda: 0.5)
    assert slot is not None
    jumped = now_at(60, wall_offset_seconds=-3600 + 60)  # 00:01 in Berlin, a minute later

    moved = moved_slot(task, slot, now_at(0), jumped, no_random)

    # 00:01 -> 01:15:30 is 74.5 minutes.
    assert view(moved) == (1060.0 + 4470, "2026-01-01T01:15:30+01:00",
                           "2026-01-01T01:15:00+01:00", 0.0, 0, 0)


# --- The end of time: a run at 9999-12-31 ------------------------------------------------------


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Asia/Tokyo"])
def test_jitter_of_a_run_near_year_9999_stops_where_a_datetime_ends(zone: str) -> None:
    last = OneShotSchedule("9999-12-31T23:59:00", zone)
    task = calendar_task(last, jitter_seconds=315_360_000)

    slot = first_slot(task, now_at(0), lambda: 0.999999)

    # No jitter is left: 9999-12-31 23:59 in each of these zones is past 9999-12-30 UTC.
    assert slot is not None and slot.wall == slot.base == last.when


def test_jitter_of_a_run_a_few_days_before_year_10000_is_cut_to_the_last_safe_day() -> None:
    task = calendar_task(OneShotSchedule("9999-12-25T00:00:00", "UTC"),
                         jitter_seconds=315_360_000)

    slot = first_slot(task, now_at(0), lambda: 0.5)

    assert slot is not None and slot.wall.isoformat() == "9999-12-27T12:00:00+00:00"
