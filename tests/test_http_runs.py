"""Where /api/runs reads: the in-memory recent runs, or stored records (the run history).

`RecentRuns` is fed real `RunEvent`s and keeps a bounded window; `RecordSource`
adapts any reader of record objects (the history's `RunRecord` has the same
field names as the API's runs), tested here with plain records.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from configure_task_scheduler.addons.history import RunRecord as Record
from configure_task_scheduler.addons.http import RecentRuns, RecordSource
from configure_task_scheduler.addons.http.runs import TAIL_CHARS
from configure_task_scheduler.schedules import IntervalSchedule
from configure_task_scheduler.task import (
    EventKind,
    Run,
    RunEvent,
    RunResult,
    RunStatus,
    Task,
    TaskType,
)

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def finished(task_id: str, run_number: int, status: RunStatus, output: str = "") -> RunEvent:
    task = Task(task_id, TaskType.SHELL, "true", IntervalSchedule(60))
    run = Run(task, run_number, START, 0.0)
    ended = START + timedelta(seconds=run_number)
    result = RunResult.of(run, status, START, ended, 0.5, 0, "", output, "")
    return RunEvent(EventKind.RUN_FINISHED, run, result)


def test_recent_runs_keep_a_bounded_window_newest_first_and_a_strip_per_task() -> None:
    recent = RecentRuns(max_runs=3, strip_runs=2)
    for number, status in enumerate([RunStatus.SUCCEEDED, RunStatus.FAILED,
                                      RunStatus.SUCCEEDED, RunStatus.TIMED_OUT], 1):
        recent(finished("a", number, status))
    recent(RunEvent(EventKind.RUN_STARTED, finished("a", 9, RunStatus.FAILED).run))

    assert [r["run_number"] for r in recent.recent_runs(None, None, 10)] == [4, 3, 2]
    assert [r["run_number"] for r in recent.recent_runs("a", "succeeded", 10)] == [3]
    assert recent.recent_runs("b", None, 10) == []
    assert recent.strip("a") == ["succeeded", "timed_out"]
    assert recent.strips() == {"a": ["succeeded", "timed_out"]}
    assert recent.dropped_total() == 0


def test_recent_runs_keep_only_the_end_of_long_output() -> None:
    recent = RecentRuns()
    recent(finished("a", 1, RunStatus.SUCCEEDED, "x" * 10_000 + "END"))

    tail = recent.recent_runs(None, None, 1)[0]["stdout_tail"]
    assert (len(tail), tail[-3:]) == (TAIL_CHARS, "END")


def test_a_record_source_reads_stored_records_as_api_runs() -> None:
    records = [Record("a", n, 1, "2026-01-01T00:00:00+00:00", None, None, None,
                      "failed" if n % 2 else "succeeded", None, "", "", "")
               for n in (5, 4, 3, 2, 1)]
    asked: list[tuple[str | None, int]] = []

    def read(task_id: str | None, limit: int) -> list[Record]:
        asked.append((task_id, limit))
        return records[:limit]

    source = RecordSource(read, lambda: 7)

    assert [r["run_number"] for r in source.recent_runs("a", None, 2)] == [5, 4]
    assert [r["run_number"] for r in source.recent_runs(None, "failed", 2)] == [5, 3]
    assert asked == [("a", 2), (None, 1000)]
    assert source.recent_runs(None, None, 1)[0] == {
        "task_id": "a", "run_number": 5, "attempt": 1, "status": "failed",
        "planned_at": "2026-01-01T00:00:00+00:00", "started_at": None, "ended_at": None,
        "duration_seconds": None, "exit_code": None, "error": "", "stdout_tail": "",
        "stderr_tail": ""}
    assert (source.name, source.dropped_total()) == ("history", 7)
