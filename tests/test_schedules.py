"""Schedules: the fixed-rate grid, aligned intervals, one-shots, descriptions and previews."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from configure_task_scheduler.errors import ScheduleError
from configure_task_scheduler.schedules import (
    CronSchedule,
    IntervalSchedule,
    OneShotSchedule,
    Schedule,
    seconds_in_words,
    upcoming_runs,
)


@pytest.mark.parametrize(("now", "expected"), [
    (10.0, 2), (19.999, 2), (20.0, 3), (45.0, 5),
], ids=["on-time", "just-before-next", "exactly-on-next", "far-behind"])
def test_next_index_is_the_first_grid_point_after_now(now: float, expected: int) -> None:
    assert IntervalSchedule(10).next_index(anchor=0.0, index=1, now=now) == expected


def test_next_index_survives_float_rounding_of_the_division() -> None:
    schedule = IntervalSchedule(0.1)
    anchor, index = 1000.0, 2
    now = schedule.planned_time(anchor, 3)

    assert schedule.planned_time(anchor, schedule.next_index(anchor, index, now)) > now


@pytest.mark.parametrize("seconds", [0, -1, float("inf"), float("nan"), True, "10"],
                         ids=["zero", "negative", "infinite", "nan", "boolean", "string"])
def test_interval_rejects_anything_but_a_finite_positive_number(seconds: object) -> None:
    with pytest.raises(ScheduleError):
        IntervalSchedule(seconds)  # type: ignore[arg-type]


@pytest.mark.parametrize(("seconds", "words"), [
    (1, "second"), (10, "10 seconds"), (0.5, "0.5 seconds"), (90, "90 seconds"),
    (60, "minute"), (300, "5 minutes"), (3600, "hour"), (7200, "2 hours"),
    (86400, "day"), (172800, "2 days"),
])
def test_describe_seconds_uses_the_largest_whole_unit(seconds: float, words: str) -> None:
    assert seconds_in_words(seconds) == words
    assert IntervalSchedule(seconds).describe() == f"every {words}"


# --- Aligned intervals: clock multiples in the schedule's zone --------------------------------


def utc(text: str) -> datetime:
    """An aware UTC datetime from "2026-01-01T00:00:03"."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def iso_times(times: list[datetime]) -> list[str]:
    return [when.isoformat() for when in times]


ALIGNED_CASES = [
    (10, "Europe/Berlin", "2026-01-01T00:00:03",
     ["2026-01-01T01:00:10+01:00", "2026-01-01T01:00:20+01:00", "2026-01-01T01:00:30+01:00"]),
    (10, "Asia/Kolkata", "2026-01-01T00:00:10",
     ["2026-01-01T05:30:20+05:30", "2026-01-01T05:30:30+05:30", "2026-01-01T05:30:40+05:30"]),
    (300, "Europe/Berlin", "2026-01-01T00:03:00",
     ["2026-01-01T01:05:00+01:00", "2026-01-01T01:10:00+01:00", "2026-01-01T01:15:00+01:00"]),
    (300, "Asia/Kolkata", "2026-01-01T00:03:00",
     ["2026-01-01T05:35:00+05:30", "2026-01-01T05:40:00+05:30", "2026-01-01T05:45:00+05:30"]),
    (3600, "Asia/Kolkata", "2026-01-01T00:00:00",
     ["2026-01-01T06:00:00+05:30", "2026-01-01T07:00:00+05:30", "2026-01-01T08:00:00+05:30"]),
    (3600, "Europe/Berlin", "2026-03-28T23:30:00",
     ["2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"]),
    (3600, "Europe/Berlin", "2026-10-24T23:30:00",
     ["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"]),
    (7200, "Europe/Berlin", "2026-03-28T22:30:00",
     ["2026-03-29T00:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"]),
    (7200, "Europe/Berlin", "2026-10-24T21:30:00",
     ["2026-10-25T00:00:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T04:00:00+01:00"]),
    (86400, "Asia/Kolkata", "2026-01-01T00:00:00",
     ["2026-01-02T00:00:00+05:30", "2026-01-03T00:00:00+05:30", "2026-01-04T00:00:00+05:30"]),
    (86400, "Europe/Berlin", "2026-03-27T12:00:00",
     ["2026-03-28T00:00:00+01:00", "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"]),
    (86400, "Europe/Berlin", "2026-10-24T12:00:00",
     ["2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", "2026-10-27T00:00:00+01:00"]),
    # Chile starts daylight saving at midnight: 2026-09-06 00:00 never happens.
    (86400, "America/Santiago", "2026-09-04T12:00:00",
     ["2026-09-05T00:00:00-04:00", "2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00"]),
]
ALIGNED_IDS = [
    "10s-berlin", "10s-kolkata-strictly-after-a-multiple", "300s-berlin", "300s-kolkata",
    "hourly-kolkata-local-hour", "hourly-berlin-spring-forward", "hourly-berlin-fall-back",
    "2h-berlin-spring-forward-runs-at-gap-end", "2h-berlin-fall-back-runs-repeated-hour-once",
    "daily-kolkata-local-midnight", "daily-berlin-spring-forward", "daily-berlin-fall-back",
    "daily-santiago-skipped-midnight-runs-at-gap-end",
]


@pytest.mark.parametrize(("seconds", "zone", "after", "expected"), ALIGNED_CASES,
                         ids=ALIGNED_IDS)
def test_aligned_interval_runs_on_clock_multiples_in_its_zone(
        seconds: int, zone: str, after: str, expected: list[str]) -> None:
    schedule = IntervalSchedule(seconds, align=True, timezone=zone)

    assert iso_times(upcoming_runs(schedule, utc(after), 3)) == expected
    assert not schedule.on_monotonic_clock


@pytest.mark.parametrize(("seconds", "shown"), [(7, "7"), (2700, "2700"), (18000, "18000")],
                         ids=["7-seconds", "45-minutes", "5-hours"])
def test_align_rejects_an_interval_that_divides_no_minute_hour_or_day(
        seconds: int, shown: str) -> None:
    message = ("align needs an interval that divides a minute, an hour or a day "
               f"(such as 10, 300, 3600 or 86400), found {shown}")

    with pytest.raises(ScheduleError, match=rf"^{re.escape(message)}$"):
        IntervalSchedule(seconds, align=True, timezone="UTC")


def test_aligned_interval_says_so_in_its_description() -> None:
    assert IntervalSchedule(300, align=True, timezone="UTC").describe() == \
        "every 5 minutes, on the clock"


# --- Plain intervals on the wall clock: for previews -------------------------------------------


@pytest.mark.parametrize(("seconds", "after", "expected"), [
    (90, utc("2026-01-01T00:00:00"),
     ["2026-01-01T01:01:30+01:00", "2026-01-01T01:03:00+01:00", "2026-01-01T01:04:30+01:00"]),
    (3600, utc("2026-03-28T23:30:00"),
     ["2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00", "2026-03-29T04:30:00+02:00"]),
    (3600, utc("2026-10-24T22:30:00"),
     ["2026-10-25T01:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00"]),
    (3600, utc("2026-10-25T00:30:00").astimezone(ZoneInfo("Europe/Berlin")),
     ["2026-10-25T02:30:00+01:00", "2026-10-25T03:30:00+01:00", "2026-10-25T04:30:00+01:00"]),
], ids=["shown-in-the-zone", "spring-forward", "fall-back", "from-a-time-in-the-repeated-hour"])
def test_plain_interval_next_is_one_interval_of_real_time_later_shown_in_its_zone(
        seconds: int, after: datetime, expected: list[str]) -> None:
    schedule = IntervalSchedule(seconds, timezone="Europe/Berlin")

    assert iso_times(upcoming_runs(schedule, after, 3)) == expected
    assert schedule.on_monotonic_clock


@pytest.mark.parametrize("schedule", [
    IntervalSchedule(10, timezone="UTC"),
    IntervalSchedule(10, align=True, timezone="UTC"),
    IntervalSchedule(3600, align=True, timezone="UTC"),
    OneShotSchedule("2026-12-24T18:00:00", "UTC"),
], ids=["plain-interval", "aligned-sub-minute", "aligned-hourly", "one-shot"])
def test_next_after_rejects_a_naive_datetime(schedule: Schedule) -> None:
    with pytest.raises(ValueError,
                       match=r"^next_after needs an aware datetime \(one with a tzinfo\)$"):
        schedule.next_after(datetime(2026, 1, 1))


# --- One-shots ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "zone", "expected"), [
    ("2026-12-24T18:00:00+00:00", "Europe/Berlin", "2026-12-24T19:00:00+01:00"),
    ("2026-12-24T18:00:00", "Europe/Berlin", "2026-12-24T18:00:00+01:00"),
    ("2026-12-24T18:00:00", "Asia/Kolkata", "2026-12-24T18:00:00+05:30"),
    ("2026-03-29T02:30:00", "Europe/Berlin", "2026-03-29T03:00:00+02:00"),
    ("2026-10-25T02:30:00", "Europe/Berlin", "2026-10-25T02:30:00+02:00"),
], ids=["offset-given-shown-in-zone", "naive-is-local-to-berlin", "naive-is-local-to-kolkata",
        "skipped-time-moves-past-the-gap", "repeated-time-is-the-first"])
def test_one_shot_reads_its_time_in_its_zone_unless_it_has_an_offset(
        text: str, zone: str, expected: str) -> None:
    schedule = OneShotSchedule(text, zone)

    assert schedule.when.isoformat() == expected
    assert iso_times(upcoming_runs(schedule, utc("2026-01-01T00:00:00"), 5)) == [expected]


@pytest.mark.parametrize(("zone", "wall", "expected"), [
    ("Europe/Berlin", "2027-03-28T02:30:00", "2027-03-28T03:00:00+02:00"),
    ("Europe/Berlin", "2027-03-28T02:59:59.500000", "2027-03-28T03:00:00+02:00"),
    ("America/New_York", "2027-03-14T02:30:00", "2027-03-14T03:00:00-04:00"),
    ("Australia/Lord_Howe", "2024-10-06T02:15:00", "2024-10-06T02:30:00+11:00"),
    ("America/Santiago", "2024-09-08T00:00:00", "2024-09-08T01:00:00-03:00"),
], ids=["berlin", "berlin-last-half-second", "new-york", "lord-howe-half-hour", "santiago-midnight"])
def test_a_time_inside_a_daylight_saving_gap_runs_at_the_gap_s_end_for_at_and_cron_alike(
        zone: str, wall: str, expected: str) -> None:
    local = datetime.fromisoformat(wall)
    cron = CronSchedule(f"{local.minute} {local.hour} {local.day} {local.month} *", zone)
    day_before = local.replace(day=local.day - 1, tzinfo=ZoneInfo(zone))

    at_fire, cron_fire = OneShotSchedule(wall, zone).when, cron.next_after(day_before)

    assert cron_fire is not None
    assert (at_fire.isoformat(), cron_fire.isoformat()) == (expected, expected)


@pytest.mark.parametrize("after", [
    utc("2026-12-24T17:00:00"), utc("2026-12-25T00:00:00"),
], ids=["exactly-at-the-run", "after-the-run"])
def test_one_shot_in_the_past_has_no_next_run(after: datetime) -> None:
    assert OneShotSchedule("2026-12-24T18:00:00", "Europe/Berlin").next_after(after) is None


def test_one_shot_in_the_second_pass_of_a_repeated_hour_is_still_ahead_of_the_first_pass(
        ) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    schedule = OneShotSchedule("2026-10-25T02:30:00+01:00", berlin)
    first_pass = datetime(2026, 10, 25, 2, 45, tzinfo=berlin)  # 00:45 UTC

    following = schedule.next_after(first_pass)

    # isoformat: == between zones calls any time in a repeated hour unequal.
    assert following is not None and following.isoformat() == "2026-10-25T02:30:00+01:00"


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-01T00:00:00", ""],
                         ids=["words", "month-13", "empty"])
def test_one_shot_rejects_a_string_that_is_not_an_iso_date_time(text: str) -> None:
    message = f'expected an ISO 8601 date-time like "2026-12-24T18:00:00", found "{text}"'

    with pytest.raises(ScheduleError, match=rf"^{re.escape(message)}$"):
        OneShotSchedule(text, "UTC")


def test_one_shot_describes_its_time_with_the_offset() -> None:
    assert OneShotSchedule("2026-12-24T18:00:00", "Europe/Berlin").describe() == \
        "once at 2026-12-24 18:00:00+01:00"


# --- upcoming_runs -----------------------------------------------------------------------------


def test_upcoming_runs_of_a_cron_lists_the_next_fire_times_in_its_zone() -> None:
    schedule = CronSchedule("30 2 * * 1-5", "Europe/Berlin")

    assert iso_times(upcoming_runs(schedule, utc("2026-03-27T00:00:00"), 4)) == [
        "2026-03-27T02:30:00+01:00", "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00", "2026-04-01T02:30:00+02:00"]


def test_upcoming_runs_of_a_one_shot_stops_after_its_one_run() -> None:
    schedule = OneShotSchedule("2026-12-24T18:00:00", "Europe/Berlin")

    assert iso_times(upcoming_runs(schedule, utc("2026-12-01T00:00:00"), 3)) == [
        "2026-12-24T18:00:00+01:00"]
    assert upcoming_runs(schedule, utc("2026-12-25T00:00:00"), 3) == []


@pytest.mark.parametrize(("schedule", "fixed"), [
    (CronSchedule("30 2 * * *", "UTC"), True),
    (CronSchedule("0,30 9-17 * * 1-5", "UTC"), True),
    (CronSchedule("@daily", "UTC"), True),
    (CronSchedule("* * * * *", "UTC"), False),
    (CronSchedule("0 * * * *", "UTC"), False),
    (CronSchedule("30 */2 * * *", "UTC"), False),
    (CronSchedule("@reboot", "UTC"), False),
    (IntervalSchedule(7200, align=True, timezone="UTC"), True),
    (IntervalSchedule(3600, align=True, timezone="UTC"), False),
    (IntervalSchedule(300, align=True, timezone="UTC"), False),
    (IntervalSchedule(300, timezone="UTC"), False),
    (OneShotSchedule("2026-12-24T18:00:00", "UTC"), True),
], ids=["cron-fixed", "cron-lists", "daily", "every-minute", "hourly", "hour-step",
        "reboot", "aligned-2h", "aligned-1h", "aligned-5m", "plain-interval", "one-shot"])
def test_fixed_time_schedules_are_those_debian_cron_would_not_repeat_after_a_step_back(
        schedule: Schedule, fixed: bool) -> None:
    assert schedule.at_fixed_times is fixed
