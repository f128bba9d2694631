"""Schedules: when a task runs, as pure functions of aware datetimes.

Owns the kinds of schedule (`IntervalSchedule`, `OneShotSchedule`,
`CronSchedule`), cron's syntax and its plain-English description, time zones
and the daylight-saving rules. Every kind answers `next_after(instant)`.
Never reads a clock, never sleeps, never logs; imports nothing of the package
but `errors`.
"""

from .base import Schedule, seconds_in_words, upcoming_runs
from .cron import CronSchedule
from .interval import IntervalSchedule
from .one_shot import OneShotSchedule
from .zones import local_timezone, resolve_timezone

__all__ = [
    "CronSchedule", "IntervalSchedule", "OneShotSchedule", "Schedule", "seconds_in_words",
    "local_timezone", "resolve_timezone", "upcoming_runs",
]
