"""Reading the history for people and scripts: `--history` and `--status`.

Both open the database read-only (WAL: a running scheduler goes on writing
meanwhile), never create it and never take the single-instance lock; a
missing file is reported as "no runs recorded yet", not as an error. Text
output is an aligned table; JSON output is one object per line (`--history`)
or one object (`--status`). Times are shown in UTC, as stored. "Now" is an
argument: this module never reads a clock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from ...task import Task
from . import store
from .lock import holder_pid, lock_path_for

HISTORY_HEADER = ("TIME", "TASK", "RUN", "ATTEMPT", "STATUS", "DURATION", "EXIT", "ERROR")
STATUS_HEADER = ("TASK", "SCHEDULE", "ENABLED", "LAST RUN", "STATUS", "DURATION", "NEXT RUN")
# Steps taken from a task's last planned run to find its next one (beyond: from now).
MAX_STEPS = 10_000


def print_history(state_path: str, task_id: str | None, limit: int, as_json: bool,
                  out: TextIO) -> None:
    """Print the latest `limit` run attempts, newest first.

    Raises:
        StateError: the file exists but cannot be read.
    """
    records = _read(state_path, lambda db: store.recent_runs(db, task_id, limit), [])
    if as_json:
        for record in records:
            print(json.dumps(asdict(record)), file=out)
        return
    if not records:
        whose = f" for task {task_id}" if task_id else ""
        print(f"no runs recorded yet{whose} in {state_path}", file=out)
        return
    rows = [HISTORY_HEADER] + [_history_row(record) for record in records]
    for row in rows:
        print(_aligned(row, rows), file=out)


def print_status(state_path: str, tasks: list[Task] | None, now: datetime, as_json: bool,
                 out: TextIO) -> None:
    """Print whether a scheduler runs on `state_path` and, per task, its last and next run.

    Args:
        tasks: the config's tasks (None without a config: the tasks in the history).
    """
    pid = holder_pid(lock_path_for(state_path, None))
    histories = _read(state_path, store.task_histories, {})
    entries = [_status_entry(task, histories.get(task.task_id), now, pid is not None)
               for task in tasks] if tasks is not None else \
        [_history_entry(history) for history in histories.values()]
    if as_json:
        print(json.dumps({"scheduler": {"running": pid is not None, "pid": pid,
                                        "state_path": state_path}, "tasks": entries}), file=out)
        return
    running = f"running (PID {pid})" if pid is not None else "not running"
    print(f"scheduler: {running}; history: {state_path}", file=out)
    rows = [STATUS_HEADER] + [_status_row(entry) for entry in entries]
    for row in rows:
        print(_aligned(row, rows), file=out)


def _read(state_path: str, query: Any, empty: Any) -> Any:
    if not Path(state_path).exists():
        return empty
    db = store.connect(state_path, read_only=True)
    try:
        return query(db)
    finally:
        db.close()


def _history_row(record: store.RunRecord) -> tuple[str, ...]:
    return (_shown(record.started_at or record.planned_at), record.task_id,
            str(record.run_number), str(record.attempt), record.status,
            _seconds(record.duration_seconds), _or_dash(record.exit_code),
            record.error or "-")


def _status_entry(task: Task, history: store.TaskHistory | None, now: datetime,
                  running: bool) -> dict[str, Any]:
    last_planned = history.last_planned_at if history else None
    return {"task_id": task.task_id, "schedule": task.schedule.describe(),
            "enabled": task.enabled,
            "last_run_at": history.last_started_at if history else None,
            "last_status": history.last_status if history else None,
            "last_duration_seconds": history.last_duration_seconds if history else None,
            "next_run_at": _next_run(task, last_planned if running else None, now)}


def _history_entry(history: store.TaskHistory) -> dict[str, Any]:
    return {"task_id": history.task_id, "schedule": None, "enabled": None,
            "last_run_at": history.last_started_at, "last_status": history.last_status,
            "last_duration_seconds": history.last_duration_seconds, "next_run_at": None}


def _next_run(task: Task, last_planned: str | None, now: datetime) -> str | None:
    """The next planned run: stepped from the last planned one while a scheduler runs
    (an interval counts from its own rhythm), else the first after now."""
    if not task.enabled:
        return None
    when = datetime.fromisoformat(last_planned) if last_planned else None
    for _ in range(MAX_STEPS if when is not None else 0):
        assert when is not None
        when = task.schedule.next_after(when)
        if when is None or when > now:
            break
    if when is None or when <= now:
        when = task.schedule.next_after(now)
    return store.utc_text(when) if when is not None else None


def _status_row(entry: dict[str, Any]) -> tuple[str, ...]:
    enabled = "-" if entry["enabled"] is None else "yes" if entry["enabled"] else "no"
    return (entry["task_id"], entry["schedule"] or "-", enabled, _shown(entry["last_run_at"]),
            entry["last_status"] or "-", _seconds(entry["last_duration_seconds"]),
            _shown(entry["next_run_at"]))


def _shown(utc_text: str | None) -> str:
    """"2026-12-04T15:20:01.123456+00:00" -> "2026-12-04 15:20:01+00:00"; None -> "-"."""
    if utc_text is None:
        return "-"
    return datetime.fromisoformat(utc_text).isoformat(sep=" ", timespec="seconds")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _or_dash(value: object) -> str:
    return "-" if value is None else str(value)


def _aligned(row: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(other[column]) for other in rows) for column in range(len(row))]
    return "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
