"""Exercise 3: a schedule kind "every weekday at a time" (`schedules.WeekdaySchedule`)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import exercise_support as support
import pytest

from configure_task_scheduler.errors import ScheduleError
from configure_task_scheduler.task import Task, TaskType

support.attempt(3, support.find("configure_task_scheduler.schedules", "WeekdaySchedule")
                is not None, "configure_task_scheduler.schedules.WeekdaySchedule does not exist")

BERLIN = ZoneInfo("Europe/Berlin")


def weekdays_at(time_of_day: str, zone: str = "Europe/Berlin") -> object:
    return support.load("configure_task_scheduler.schedules", "WeekdaySchedule")(
        time_of_day, timezone=zone)


@pytest.mark.parametrize(("after", "expected"), [
    ("2026-01-05T08:00", "2026-01-05T09:30"),  # Monday morning: today
    ("2026-01-05T09:30", "2026-01-06T09:30"),  # exactly then: strictly after, tomorrow
    ("2026-01-09T10:00", "2026-01-12T09:30"),  # Friday after the run: Monday
    ("2026-01-10T08:00", "2026-01-12T09:30"),  # Saturday: Monday
], ids=["monday-before", "at-the-time", "friday-after", "saturday"])
def test_next_run_is_the_next_weekday_at_the_time(after: str, expected: str) -> None:
    schedule = weekdays_at("09:30")

    found = schedule.next_after(datetime.fromisoformat(after).replace(tzinfo=BERLIN))  # type: ignore[attr-defined]

    assert found.isoformat(timespec="minutes") == f"{expected}+01:00"  # in the task's zone


def test_it_describes_itself_like_the_equivalent_cron_and_is_a_fixed_time_schedule() -> None:
    schedule = weekdays_at("09:30")

    assert schedule.describe() == "at 09:30 on Monday to Friday"  # type: ignore[attr-defined]
    assert (schedule.at_fixed_times, schedule.on_monotonic_clock) == (True, False)  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", ["25:00", "9:30", "09:60", "nine"])
def test_a_bad_time_of_day_is_rejected_with_the_expected_form(text: str) -> None:
    message = f'expected a time of day like "09:30" (24-hour HH:MM), found "{text}"'
    with pytest.raises(ScheduleError, match=f"^{re.escape(message)}$"):
        weekdays_at(text)


def test_the_engine_runs_it_five_times_in_a_week() -> None:
    task = Task("report", TaskType.SHELL, "true", weekdays_at("09:30", "UTC"),  # type: ignore[arg-type]
                task_name="report")

    executor = support.run_engine([task], 7 * 86400)

    assert executor.times_of("report") == [9.5 * 3600 + day * 86400 for day in range(5)]


def test_the_config_key_weekdays_at_makes_such_a_task(tmp_path: Path) -> None:
    from configure_task_scheduler.config import load_config

    path = tmp_path / "tasks.json"
    path.write_text(json.dumps({"tasks": [{"task_id": "report", "task_type": "shell",
                                           "entry_point": "true", "weekdays_at": "09:30",
                                           "timezone": "Europe/Berlin"}]}))

    loaded = load_config(path)

    assert loaded.problems == []
    assert [task.schedule.describe() for task in loaded.tasks] == ["at 09:30 on Monday to Friday"]
