"""Tests for `cron`: the syntax and its error messages, day-of-month/day-of-week matching,
daylight-saving rules in northern, southern and half-hour zones, search bounds and English.

Expectations are whole lists of ISO fire times. The daylight-saving ones agree with cronsim,
except that a run already passed in a repeated hour is not returned again (cronsim would).
"""

from __future__ import annotations

import re
import time
import zoneinfo
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from configure_task_scheduler.errors import ScheduleError
from configure_task_scheduler.schedules import CronSchedule, cron, local_timezone


def fire_times(expr: str, start: str, n: int, tz: str = "UTC") -> list[str]:
    """Return the next `n` fire times after ISO `start`, each from the previous one."""
    schedule = CronSchedule(expr, tz)
    when = datetime.fromisoformat(start)
    times = []
    for _ in range(n):
        following = schedule.next_after(when)
        assert following is not None
        times.append(following.isoformat())
        when = following
    return times


# --- Fields and steps ---------------------------------------------------------------------


def test_every_minute_fires_at_each_following_minute() -> None:
    assert fire_times("* * * * *", "2024-01-01T10:00:00+00:00", 3) == [
        "2024-01-01T10:01:00+00:00", "2024-01-01T10:02:00+00:00", "2024-01-01T10:03:00+00:00"]


def test_next_after_is_strictly_after_and_ignores_seconds_of_the_start() -> None:
    hourly = CronSchedule("0 * * * *", "UTC")
    on_the_hour = datetime(2024, 1, 1, 10, 0, tzinfo=timezone.utc)
    just_after = datetime(2024, 1, 1, 10, 0, 0, 1, tzinfo=timezone.utc)
    assert hourly.next_after(on_the_hour) == datetime(2024, 1, 1, 11, 0, tzinfo=timezone.utc)
    assert hourly.next_after(just_after) == datetime(2024, 1, 1, 11, 0, tzinfo=timezone.utc)
    assert fire_times("* * * * *", "2024-01-01T10:00:59.900000+00:00", 1) == [
        "2024-01-01T10:01:00+00:00"]


def test_star_step_stays_inside_the_field_so_star_40_fires_at_00_and_40() -> None:
    assert fire_times("*/40 * * * *", "2024-01-01T10:00:00+00:00", 4) == [
        "2024-01-01T10:40:00+00:00", "2024-01-01T11:00:00+00:00",
        "2024-01-01T11:40:00+00:00", "2024-01-01T12:00:00+00:00"]


def test_value_with_step_runs_from_the_value_to_the_end_of_the_field() -> None:
    assert fire_times("5/20 * * * *", "2024-01-01T10:00:00+00:00", 4) == [
        "2024-01-01T10:05:00+00:00", "2024-01-01T10:25:00+00:00",
        "2024-01-01T10:45:00+00:00", "2024-01-01T11:05:00+00:00"]


def test_range_with_step_takes_every_nth_value_of_the_range() -> None:
    assert fire_times("0-10/5 9-17/4 * * *", "2024-01-01T00:00:00+00:00", 7) == [
        "2024-01-01T09:00:00+00:00", "2024-01-01T09:05:00+00:00", "2024-01-01T09:10:00+00:00",
        "2024-01-01T13:00:00+00:00", "2024-01-01T13:05:00+00:00", "2024-01-01T13:10:00+00:00",
        "2024-01-01T17:00:00+00:00"]


def test_month_and_day_names_are_case_insensitive_and_equal_their_numbers() -> None:
    expected = ["2024-01-07T00:00:00+00:00", "2024-01-14T00:00:00+00:00",
                "2024-01-21T00:00:00+00:00", "2024-01-28T00:00:00+00:00",
                "2024-07-07T00:00:00+00:00"]
    assert fire_times("0 0 * jan,Jul sun", "2024-01-01T00:00:00+00:00", 5) == expected
    assert fire_times("0 0 * JAN,JUL SUN", "2024-01-01T00:00:00+00:00", 5) == expected
    assert fire_times("0 0 * 1,7 0", "2024-01-01T00:00:00+00:00", 5) == expected


def test_day_names_work_in_ranges() -> None:
    assert fire_times("0 8 * * mon-WED", "2024-01-05T00:00:00+00:00", 4) == [
        "2024-01-08T08:00:00+00:00", "2024-01-09T08:00:00+00:00",
        "2024-01-10T08:00:00+00:00", "2024-01-15T08:00:00+00:00"]


@pytest.mark.parametrize("sunday", ["0", "7", "SUN"], ids=["zero", "seven", "name"])
def test_zero_and_seven_both_mean_sunday(sunday: str) -> None:
    assert fire_times(f"0 0 * * {sunday}", "2024-01-01T00:00:00+00:00", 2) == [
        "2024-01-07T00:00:00+00:00", "2024-01-14T00:00:00+00:00"]


# --- Days of the month and of the week ----------------------------------------------------


def test_day_of_month_and_day_of_week_match_either_when_both_are_restricted() -> None:
    assert fire_times("0 0 1,15 * MON", "2024-01-01T00:00:00+00:00", 6) == [
        "2024-01-08T00:00:00+00:00", "2024-01-15T00:00:00+00:00", "2024-01-22T00:00:00+00:00",
        "2024-01-29T00:00:00+00:00", "2024-02-01T00:00:00+00:00", "2024-02-05T00:00:00+00:00"]


def test_day_of_month_and_day_of_week_must_both_match_when_one_starts_with_a_star() -> None:
    # "*/2" is the odd days 1, 3, 5, ...; only those that are Mondays fire.
    assert fire_times("0 0 */2 * MON", "2024-01-01T00:00:00+00:00", 6) == [
        "2024-01-15T00:00:00+00:00", "2024-01-29T00:00:00+00:00", "2024-02-05T00:00:00+00:00",
        "2024-02-19T00:00:00+00:00", "2024-03-11T00:00:00+00:00", "2024-03-25T00:00:00+00:00"]


def test_star_day_of_month_with_weekday_range_fires_on_those_weekdays_only() -> None:
    assert fire_times("30 2 * * 1-5", "2024-01-05T12:00:00+00:00", 3) == [
        "2024-01-08T02:30:00+00:00", "2024-01-09T02:30:00+00:00", "2024-01-10T02:30:00+00:00"]


def test_l_in_day_of_month_means_the_last_day_of_each_month() -> None:
    assert fire_times("0 23 L * *", "2023-01-01T00:00:00+00:00", 3) == [
        "2023-01-31T23:00:00+00:00", "2023-02-28T23:00:00+00:00", "2023-03-31T23:00:00+00:00"]
    assert fire_times("0 23 L * *", "2024-02-01T00:00:00+00:00", 2) == [
        "2024-02-29T23:00:00+00:00", "2024-03-31T23:00:00+00:00"]


@pytest.mark.parametrize("second_friday", ["FRI#2", "5#2", "fri#2"])
def test_hash_picks_the_nth_weekday_of_the_month(second_friday: str) -> None:
    assert fire_times(f"0 12 * * {second_friday}", "2024-01-01T00:00:00+00:00", 3) == [
        "2024-01-12T12:00:00+00:00", "2024-02-09T12:00:00+00:00", "2024-03-08T12:00:00+00:00"]


def test_fifth_weekday_fires_only_in_months_that_have_one() -> None:
    assert fire_times("0 12 * * MON#5", "2024-01-01T00:00:00+00:00", 4) == [
        "2024-01-29T12:00:00+00:00", "2024-04-29T12:00:00+00:00",
        "2024-07-29T12:00:00+00:00", "2024-09-30T12:00:00+00:00"]


@pytest.mark.parametrize("last_friday", ["5L", "FRIL", "fril"])
def test_weekday_followed_by_l_picks_the_last_such_weekday(last_friday: str) -> None:
    assert fire_times(f"0 12 * * {last_friday}", "2024-01-01T00:00:00+00:00", 4) == [
        "2024-01-26T12:00:00+00:00", "2024-02-23T12:00:00+00:00",
        "2024-03-29T12:00:00+00:00", "2024-04-26T12:00:00+00:00"]


def test_february_29_fires_only_in_leap_years_and_skips_2100() -> None:
    assert fire_times("0 0 29 2 *", "2024-03-01T00:00:00+00:00", 3) == [
        "2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00", "2036-02-29T00:00:00+00:00"]
    assert fire_times("0 0 29 2 *", "2097-01-01T00:00:00+00:00", 1) == [
        "2104-02-29T00:00:00+00:00"]


# --- Macros -------------------------------------------------------------------------------


@pytest.mark.parametrize("macro, expected", [
    ("@yearly", ["2025-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"]),
    ("@annually", ["2025-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"]),
    ("@monthly", ["2024-02-01T00:00:00+00:00", "2024-03-01T00:00:00+00:00"]),
    ("@weekly", ["2024-01-07T00:00:00+00:00", "2024-01-14T00:00:00+00:00"]),
    ("@daily", ["2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00"]),
    ("@midnight", ["2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00"]),
    ("@hourly", ["2024-01-01T01:00:00+00:00", "2024-01-01T02:00:00+00:00"]),
    ("@DAILY", ["2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00"]),
], ids=["yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly", "upper-case"])
def test_macros_expand_to_their_five_field_forms(macro: str, expected: list[str]) -> None:
    assert fire_times(macro, "2024-01-01T00:00:00+00:00", 2) == expected


def test_reboot_has_no_fire_times_and_is_flagged_for_the_engine() -> None:
    schedule = CronSchedule("@reboot", "UTC")
    assert schedule.is_reboot is True
    assert schedule.next_after(datetime(2024, 1, 1, tzinfo=timezone.utc)) is None
    assert CronSchedule("@daily", "UTC").is_reboot is False


# --- Rejected input -----------------------------------------------------------------------


@pytest.mark.parametrize("expression, message", [
    pytest.param("0 25 * * *", 'cron "0 25 * * *": hour: 25 is out of range 0-23', id="hour-25"),
    pytest.param("60 * * * *", 'cron "60 * * * *": minute: 60 is out of range 0-59',
                 id="minute-60"),
    pytest.param("60 25 * * *", 'cron "60 25 * * *": minute: 60 is out of range 0-59',
                 id="first-bad-field-is-reported"),
    pytest.param("0 0 0 * *", 'cron "0 0 0 * *": day-of-month: 0 is out of range 1-31', id="day-0"),
    pytest.param("0 0 * 13 *", 'cron "0 0 * 13 *": month: 13 is out of range 1-12', id="month-13"),
    pytest.param("0 0 * * 8", 'cron "0 0 * * 8": day-of-week: 8 is out of range 0-7',
                 id="weekday-8"),
    pytest.param("50-10 * * * *",
                 'cron "50-10 * * * *": minute: range 50-10 is reversed (write 50-59,0-10)',
                 id="reversed-minutes"),
    pytest.param("0 0 * * FRI-MON",
                 'cron "0 0 * * FRI-MON": day-of-week: range FRI-MON is reversed'
                 ' (write FRI-SAT,SUN-MON)', id="reversed-day-names"),
    pytest.param("0 0 * DEC-JAN *",
                 'cron "0 0 * DEC-JAN *": month: range DEC-JAN is reversed (write DEC,JAN)',
                 id="reversed-month-names"),
    pytest.param("*/0 * * * *", 'cron "*/0 * * * *": minute: "*/0": step must be 1 or more',
                 id="step-0"),
    pytest.param("*/x * * * *", 'cron "*/x * * * *": minute: "*/x": step "x" is not a number',
                 id="step-not-a-number"),
    pytest.param("0 0 * * FOO",
                 'cron "0 0 * * FOO": day-of-week: "FOO" is not a number or a day name (SUN-SAT)',
                 id="unknown-day-name"),
    pytest.param("0 0 * FOO *",
                 'cron "0 0 * FOO *": month: "FOO" is not a number or a month name (JAN-DEC)',
                 id="unknown-month-name"),
    pytest.param("0 MON * * *", 'cron "0 MON * * *": hour: "MON" is not a number',
                 id="name-in-hour"),
    pytest.param("1,,2 * * * *", 'cron "1,,2 * * * *": minute: empty item in list "1,,2"',
                 id="empty-list-item"),
    pytest.param("-1 * * * *",
                 'cron "-1 * * * *": minute: "-1": a range needs a value on each side of "-"',
                 id="negative-number"),
    pytest.param("0 0 * * 5#6",
                 'cron "0 0 * * 5#6": day-of-week: "5#6": the week number after "#" must be 1-5',
                 id="sixth-week"),
    pytest.param("0 0 * * L",
                 'cron "0 0 * * L": day-of-week: "L" needs a day before it'
                 ' (5L or FRIL: the last Friday)', id="bare-l-in-day-of-week"),
    pytest.param("0 0 L/2 * *",
                 'cron "0 0 L/2 * *": day-of-month: "L/2": L (the last day of the month)'
                 ' must stand alone', id="l-with-step"),
    pytest.param("* * * *",
                 'cron "* * * *": expected 5 fields (minute hour day-of-month month day-of-week),'
                 ' found 4', id="four-fields"),
    pytest.param("0 0 0 * * *",
                 'cron "0 0 0 * * *": expected 5 fields (minute hour day-of-month month'
                 ' day-of-week), found 6; 6- and 7-field forms are not supported because tools'
                 ' disagree on whether the extra field is seconds or years', id="six-fields"),
    pytest.param("0 0 0 * * * 2030",
                 'cron "0 0 0 * * * 2030": expected 5 fields (minute hour day-of-month month'
                 ' day-of-week), found 7; 6- and 7-field forms are not supported because tools'
                 ' disagree on whether the extra field is seconds or years', id="seven-fields"),
    pytest.param("@fortnightly",
                 'cron "@fortnightly": unknown macro "@fortnightly" (expected @yearly, @annually,'
                 ' @monthly, @weekly, @daily, @midnight, @hourly or @reboot)', id="unknown-macro"),
    pytest.param("0 0 30 2 *",
                 'cron "0 0 30 2 *": never fires: day-of-month 30 never occurs in February',
                 id="february-30"),
    pytest.param("0 0 31 4,6,9,11 *",
                 'cron "0 0 31 4,6,9,11 *": never fires: day-of-month 31 never occurs in April,'
                 ' June, September or November', id="31st-of-short-months"),
    pytest.param("0 0 */40 * MON#2",
                 'cron "0 0 */40 * MON#2": never fires: no day matches both the day-of-month'
                 ' and the day-of-week fields', id="day-1-that-is-a-second-monday"),
])
def test_invalid_expressions_are_rejected_with_a_one_line_message(
        expression: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=f"^{re.escape(message)}$"):
        CronSchedule(expression, "UTC")


def test_impossible_day_of_month_is_fine_when_day_of_week_can_match_instead() -> None:
    assert fire_times("0 0 30 2 MON", "2024-01-31T00:00:00+00:00", 2) == [
        "2024-02-05T00:00:00+00:00", "2024-02-12T00:00:00+00:00"]


def test_unknown_time_zone_is_named_in_the_message() -> None:
    with pytest.raises(ScheduleError, match=r'^timezone: unknown time zone "Mars/Base"$'):
        CronSchedule("0 0 * * *", "Mars/Base")


def test_unknown_time_zone_message_says_when_there_is_no_time_zone_database(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zoneinfo, "available_timezones", set)
    expected = ('timezone: unknown time zone "Mars/Base" (this system has no time zone'
                " database: install the tzdata package)")
    with pytest.raises(ScheduleError, match=f"^{re.escape(expected)}$"):
        CronSchedule("0 0 * * *", "Mars/Base")


def test_naive_datetime_is_rejected() -> None:
    schedule = CronSchedule("* * * * *", "UTC")
    with pytest.raises(ValueError, match=r"^next_after needs an aware datetime, "
                                         r"got naive 2024-01-01T00:00:00$"):
        schedule.next_after(datetime(2024, 1, 1))


# --- Time zones and daylight saving -------------------------------------------------------


def test_result_is_in_the_schedule_zone_whatever_the_zone_of_the_start() -> None:
    assert fire_times("0 9 * * *", "2023-12-31T12:00:00+00:00", 2, "Asia/Tokyo") == [
        "2024-01-01T09:00:00+09:00", "2024-01-02T09:00:00+09:00"]


def test_no_time_zone_means_the_machine_zone_from_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    assert CronSchedule("0 0 * * *").timezone == ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize("value", ["Asia/Tokyo", ":Asia/Tokyo", "/usr/share/zoneinfo/Asia/Tokyo"],
                         ids=["name", "colon-name", "path"])
def test_local_timezone_reads_the_zone_name_from_tz(
        monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TZ", value)
    assert local_timezone() == ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize("zone, expression, start, expected", [
    pytest.param("Europe/Berlin", "30 2 * * *", "2024-03-30T12:00:00+01:00",
                 ["2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00"], id="berlin-gap"),
    pytest.param("Europe/Berlin", "30 2 * * *", "2024-10-26T12:00:00+02:00",
                 ["2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"], id="berlin-overlap"),
    pytest.param("America/New_York", "30 2 * * *", "2024-03-09T12:00:00-05:00",
                 ["2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"], id="new-york-gap"),
    pytest.param("America/New_York", "30 1 * * *", "2024-11-02T12:00:00-04:00",
                 ["2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"],
                 id="new-york-overlap"),
    pytest.param("Australia/Sydney", "30 2 * * *", "2024-10-05T12:00:00+10:00",
                 ["2024-10-06T03:00:00+11:00", "2024-10-07T02:30:00+11:00"], id="sydney-gap"),
    pytest.param("Australia/Sydney", "30 2 * * *", "2024-04-06T12:00:00+11:00",
                 ["2024-04-07T02:30:00+11:00", "2024-04-08T02:30:00+10:00"], id="sydney-overlap"),
    pytest.param("Australia/Lord_Howe", "15 2 * * *", "2024-10-05T12:00:00+10:30",
                 ["2024-10-06T02:30:00+11:00", "2024-10-07T02:15:00+11:00"],
                 id="lord-howe-half-hour-gap"),
    pytest.param("Australia/Lord_Howe", "45 1 * * *", "2024-04-06T12:00:00+11:00",
                 ["2024-04-07T01:45:00+11:00", "2024-04-08T01:45:00+10:30"],
                 id="lord-howe-half-hour-overlap"),
    pytest.param("America/Santiago", "0 0 * * *", "2024-09-07T12:00:00-04:00",
                 ["2024-09-08T01:00:00-03:00", "2024-09-09T00:00:00-03:00"],
                 id="santiago-midnight-gap"),
    pytest.param("America/Santiago", "30 23 * * *", "2024-04-06T12:00:00-03:00",
                 ["2024-04-06T23:30:00-03:00", "2024-04-07T23:30:00-04:00"],
                 id="santiago-overlap"),
])
def test_fixed_time_fires_at_the_end_of_a_gap_and_once_in_a_repeated_hour(
        zone: str, expression: str, start: str, expected: list[str]) -> None:
    assert fire_times(expression, start, 2, zone) == expected


def test_fixed_time_already_passed_in_a_repeated_hour_waits_for_the_next_day() -> None:
    # 01:10 EST is the second pass of 01:00-02:00; 01:30 fired in the first pass.
    # (cronsim answers 01:30 EDT here, which is earlier than the start.)
    assert fire_times("30 1 * * *", "2024-11-03T01:10:00-05:00", 1, "America/New_York") == [
        "2024-11-04T01:30:00-05:00"]


@pytest.mark.parametrize("zone, start, expected", [
    pytest.param("Europe/Berlin", "2024-03-31T01:00:00+01:00", [
        "2024-03-31T01:30:00+01:00", "2024-03-31T03:00:00+02:00", "2024-03-31T03:30:00+02:00",
    ], id="berlin-gap"),
    pytest.param("Europe/Berlin", "2024-10-27T01:45:00+02:00", [
        "2024-10-27T02:00:00+02:00", "2024-10-27T02:30:00+02:00", "2024-10-27T02:00:00+01:00",
        "2024-10-27T02:30:00+01:00", "2024-10-27T03:00:00+01:00",
    ], id="berlin-overlap"),
    pytest.param("America/New_York", "2024-03-10T01:00:00-05:00", [
        "2024-03-10T01:30:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-10T03:30:00-04:00",
    ], id="new-york-gap"),
    pytest.param("America/New_York", "2024-11-03T00:45:00-04:00", [
        "2024-11-03T01:00:00-04:00", "2024-11-03T01:30:00-04:00", "2024-11-03T01:00:00-05:00",
        "2024-11-03T01:30:00-05:00", "2024-11-03T02:00:00-05:00",
    ], id="new-york-overlap"),
    pytest.param("Australia/Sydney", "2024-10-06T01:00:00+10:00", [
        "2024-10-06T01:30:00+10:00", "2024-10-06T03:00:00+11:00", "2024-10-06T03:30:00+11:00",
    ], id="sydney-gap"),
    pytest.param("Australia/Sydney", "2024-04-07T01:45:00+11:00", [
        "2024-04-07T02:00:00+11:00", "2024-04-07T02:30:00+11:00", "2024-04-07T02:00:00+10:00",
        "2024-04-07T02:30:00+10:00", "2024-04-07T03:00:00+10:00",
    ], id="sydney-overlap"),
    pytest.param("Australia/Lord_Howe", "2024-10-06T01:00:00+10:30", [
        "2024-10-06T01:30:00+10:30", "2024-10-06T02:30:00+11:00", "2024-10-06T03:00:00+11:00",
    ], id="lord-howe-half-hour-gap"),
    pytest.param("Australia/Lord_Howe", "2024-04-07T00:45:00+11:00", [
        "2024-04-07T01:00:00+11:00", "2024-04-07T01:30:00+11:00", "2024-04-07T01:30:00+10:30",
        "2024-04-07T02:00:00+10:30", "2024-04-07T02:30:00+10:30",
    ], id="lord-howe-half-hour-overlap"),
    pytest.param("America/Santiago", "2024-04-06T22:45:00-03:00", [
        "2024-04-06T23:00:00-03:00", "2024-04-06T23:30:00-03:00", "2024-04-06T23:00:00-04:00",
        "2024-04-06T23:30:00-04:00", "2024-04-07T00:00:00-04:00",
    ], id="santiago-overlap-at-midnight"),
])
def test_wildcard_times_follow_real_elapsed_time_through_transitions(
        zone: str, start: str, expected: list[str]) -> None:
    assert fire_times("*/30 * * * *", start, len(expected), zone) == expected


def test_on_the_hour_skips_the_half_hour_that_lord_howe_jumps_over() -> None:
    assert fire_times("0 * * * *", "2024-10-06T00:30:00+10:30", 2, "Australia/Lord_Howe") == [
        "2024-10-06T01:00:00+10:30", "2024-10-06T03:00:00+11:00"]


def test_every_minute_of_an_hour_that_repeats_fires_in_both_passes() -> None:
    times = fire_times("* 2 * * *", "2024-10-27T01:59:00+02:00", 120, "Europe/Berlin")
    assert times[0] == "2024-10-27T02:00:00+02:00"
    assert times[59] == "2024-10-27T02:59:00+02:00"
    assert times[60] == "2024-10-27T02:00:00+01:00"
    assert times[119] == "2024-10-27T02:59:00+01:00"


def test_every_minute_of_an_hour_that_is_skipped_waits_for_the_next_day() -> None:
    assert fire_times("* 2 * * *", "2024-03-31T01:00:00+01:00", 1, "Europe/Berlin") == [
        "2024-04-01T02:00:00+02:00"]


# --- Bounds and speed ---------------------------------------------------------------------


def test_no_match_within_the_search_horizon_returns_none(monkeypatch: pytest.MonkeyPatch) -> None:
    schedule = CronSchedule("0 0 29 2 *", "UTC")
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    assert cron.SEARCH_YEARS == 50
    assert schedule.next_after(start) == datetime(2028, 2, 29, tzinfo=timezone.utc)
    monkeypatch.setattr(cron, "SEARCH_YEARS", 3)
    assert schedule.next_after(start) is None


def test_no_match_before_the_calendar_ends_returns_none() -> None:
    assert CronSchedule("0 0 29 2 *", "UTC").next_after(
        datetime(9996, 3, 1, tzinfo=timezone.utc)) is None
    assert CronSchedule("* * * * *", "Asia/Tokyo").next_after(
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc)) is None


def test_searches_jump_field_by_field_instead_of_walking_minutes() -> None:
    # 200 leap days span 820 years; a minute-by-minute walk would visit 430 million minutes.
    schedule = CronSchedule("0 0 29 2 *", "Europe/Berlin")
    when: datetime | None = datetime(2000, 1, 1, tzinfo=timezone.utc)
    started = time.perf_counter()
    for _ in range(200):
        assert when is not None
        when = schedule.next_after(when)
    assert time.perf_counter() - started < 0.5
    assert when is not None and when.isoformat() == "2820-02-29T00:00:00+01:00"


# --- Attributes and English ---------------------------------------------------------------


def test_schedule_keeps_its_expression_and_zone_and_compares_by_them() -> None:
    schedule = CronSchedule(" 0 0 * * * ", "Europe/Berlin")
    assert schedule.expression == " 0 0 * * * "
    assert schedule.timezone == ZoneInfo("Europe/Berlin")
    assert schedule == CronSchedule(" 0 0 * * * ", ZoneInfo("Europe/Berlin"))
    assert schedule != CronSchedule(" 0 0 * * * ", "UTC")
    assert hash(schedule) == hash(CronSchedule(" 0 0 * * * ", "Europe/Berlin"))
    assert schedule.on_monotonic_clock is False


@pytest.mark.parametrize("expression, english", [
    ("* * * * *", "every minute"),
    ("*/5 * * * *", "every 5 minutes"),
    ("*/7 * * * *", "at minute */7 past every hour"),
    ("0 0 * * *", "at 00:00"),
    ("30 2 * * 1-5", "at 02:30 on Monday to Friday"),
    ("30 2 * * MON-FRI", "at 02:30 on Monday to Friday"),
    ("0 23 L * *", "at 23:00 on the last day of the month"),
    ("0 12 * * FRI#2", "at 12:00 on the second Friday of the month"),
    ("0 12 * * 5L", "at 12:00 on the last Friday of the month"),
    ("0 9 1,15 * MON", "at 09:00 on day 1 and 15 of the month and on Monday"),
    ("0 0 */2 * MON", "at 00:00 on day-of-month */2 if it is also Monday"),
    ("0 0 29 2 *", "at 00:00 on 29 February"),
    ("0 0 1 1,7 *", "at 00:00 on day 1 of the month in January and July"),
    ("0 0 * jun-aug *", "at 00:00 in June to August"),
    ("@reboot", "once when the scheduler starts"),
    ("@hourly", "every hour"),
    ("@daily", "at 00:00"),
    ("@weekly", "at 00:00 on Sunday"),
    ("@monthly", "at 00:00 on day 1 of the month"),
    ("@yearly", "at 00:00 on 1 January"),
    ("0 */6 * * *", "every 6 hours"),
    ("15 * * * *", "at 15 minutes past every hour"),
    ("0,30 9,17 * * *", "at 09:00, 09:30, 17:00 and 17:30"),
    ("0 9-17 * * *", "every hour from 09:00 to 17:00"),
    ("*/15 9-17 * * 1-5", "every 15 minutes from 09:00 to 17:59 on Monday to Friday"),
    ("* 3 * * *", "every minute from 03:00 to 03:59"),
    ("0-10/5 3 * * *", "at minute 0-10/5 past hour 3"),
    ("0 0 * * 0-7", "at 00:00 on every day of the week"),
    ("0 0 * * 1#1,5L",
     "at 00:00 on the first Monday of the month and the last Friday of the month"),
    ("0 0 * * */2", "at 00:00 on day-of-week */2"),
])
def test_describe_says_the_schedule_in_plain_english(expression: str, english: str) -> None:
    assert CronSchedule(expression, "UTC").describe() == english
