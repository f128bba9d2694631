"""Interval schedules: the fixed-rate grid and plain-English descriptions."""

from __future__ import annotations

import pytest

from configure_task_scheduler.errors import ScheduleError
from configure_task_scheduler.schedules import IntervalSchedule, describe_seconds


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
    assert describe_seconds(seconds) == words
    assert IntervalSchedule(seconds).describe() == f"every {words}"
