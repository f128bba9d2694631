"""Tasks as the JSON API shows them, encoded once per change.

`TaskEncoder` turns a `TaskSnapshot` (and the statuses of its last runs)
into the object `/api/tasks/{id}` answers, and `/api/tasks` into one JSON
text. Most of 10,000 tasks are idle between two answers: each task's encoded
text is kept and reused while its snapshot is the same (same `Task` object,
state, next run, runs in flight, last result, counts and strip); only the
countdown, `next_run_in_seconds`, is written afresh. Pure: no clock, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ...task import RunStatus, TaskSnapshot
from .runs import run_json

# Built once: an enum's `.value` costs a descriptor call, 10,000 tasks times 8 of them.
STATUS_VALUES = {status: status.value for status in RunStatus}
_NO_COUNTS = dict.fromkeys(STATUS_VALUES.values(), 0)
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(slots=True)
class _Encoded:
    """A task's JSON without its countdown, and the snapshot it was made from."""

    snapshot: TaskSnapshot
    strip: list[str]
    text: str  # the object's text up to, without, `,"next_run_in_seconds":...}`
    next_us: int | None  # the next run, in microseconds since the epoch


class TaskEncoder:
    """Encodes tasks, keeping each task's text and its schedule's wording until they change."""

    def __init__(self) -> None:
        self._encoded: dict[str, _Encoded] = {}  # the tasks of the latest answer only
        self._schedules: dict[str, tuple[object, str]] = {}  # task_id -> (schedule, words)

    def task_json(self, snapshot: TaskSnapshot, strip: list[str], now: datetime) -> dict[str, Any]:
        """Return one task as a JSON object (a dict)."""
        value = self._fields(snapshot, strip)
        value["next_run_in_seconds"] = _countdown(snapshot, now)
        return value

    def tasks_text(self, snapshots: Sequence[TaskSnapshot], strips: dict[str, list[str]],
                   now: datetime, control_enabled: bool) -> str:
        """Return the whole /api/tasks answer as JSON text."""
        previous, encoded, parts = self._encoded, {}, []
        now_us = _microseconds(now)
        for snapshot in snapshots:
            task_id = snapshot.task.task_id
            strip = strips.get(task_id, _NO_STRIP)
            kept = previous.get(task_id)
            if kept is None or not _same(kept, snapshot, strip):
                next_at = snapshot.next_run_at
                kept = _Encoded(snapshot, strip, _ENCODE(self._fields(snapshot, strip))[:-1],
                                None if next_at is None else _microseconds(next_at))
            encoded[task_id] = kept
            if kept.next_us is None:
                parts.append(f'{kept.text},"next_run_in_seconds":null}}')
            else:  # round(timedelta.total_seconds(), 3), and a float's repr is its JSON
                seconds = round((kept.next_us - now_us) / 1_000_000, 3)
                parts.append(f'{kept.text},"next_run_in_seconds":{seconds!r}}}')
        self._encoded = encoded
        return (f'{{"now":{_ENCODE(now.isoformat())},"control_enabled":'
                f'{_ENCODE(control_enabled)},"tasks":[{",".join(parts)}]}}')

    def _fields(self, snapshot: TaskSnapshot, strip: list[str]) -> dict[str, Any]:
        task, next_at, last = snapshot.task, snapshot.next_run_at, snapshot.last_result
        counts = dict(_NO_COUNTS)
        for status, count in snapshot.counts.items():
            counts[STATUS_VALUES[status]] = count
        return {
            "task_id": task.task_id, "task_name": task.task_name or task.task_id,
            "task_type": task.task_type.value, "description": task.description,
            "schedule": self._describe(snapshot), "enabled": task.enabled,
            "state": snapshot.state.value,
            "next_run_at": next_at.isoformat() if next_at else None,
            "running": snapshot.running,
            "last_result": run_json(last) if last else None,
            "counts": counts, "recent": strip,
        }

    def _describe(self, snapshot: TaskSnapshot) -> str:
        """The schedule in words, kept per schedule object (cron wording is not free)."""
        schedule = snapshot.task.schedule
        cached = self._schedules.get(snapshot.task_id)
        if cached is not None and cached[0] is schedule:
            return cached[1]
        words = schedule.describe()
        self._schedules[snapshot.task_id] = (schedule, words)
        return words


def _same(kept: _Encoded, snapshot: TaskSnapshot, strip: list[str]) -> bool:
    """Would `snapshot` encode to the kept text? (Records by identity: they are frozen.)"""
    old = kept.snapshot
    if old is snapshot:  # the engine gives an unchanged task's snapshot again
        return kept.strip == strip
    return (old.task is snapshot.task and old.state is snapshot.state
            and old.next_run_at == snapshot.next_run_at and old.running == snapshot.running
            and old.last_result is snapshot.last_result and old.counts == snapshot.counts
            and kept.strip == strip)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_NO_STRIP: list[str] = []


def _microseconds(when: datetime) -> int:
    """Microseconds since the epoch: countdowns in integers, as exact as `timedelta`'s."""
    return (when - _EPOCH) // _MICROSECOND


def _countdown(snapshot: TaskSnapshot, now: datetime) -> float | None:
    next_at = snapshot.next_run_at
    return None if next_at is None else round((next_at - now).total_seconds(), 3)
