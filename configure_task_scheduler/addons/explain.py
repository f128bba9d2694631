"""The interview view of the engine: each queue decision and run event as one plain sentence.

`--simulate DURATION --explain` prints these lines instead of the bare
timeline, so a teacher can show the engine's reasoning: a run planned (and
from where), runs coalesced, a run skipped because of an overlap or missed
past its grace, a retry planned with backoff, tasks re-planned after a clock
jump. It listens to the engine's public seams only (`Engine.explain_to`
and `Engine.subscribe`); it never changes a decision, and the engine never
imports it. Each line is stamped with the engine's clock, in the task's zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo

from ..engine import Decision, DecisionKind
from ..task import EventKind, RunEvent, RunStatus, Task

Write = Callable[[str], None]


class Explainer:
    """Turns decisions and run events into sentences and hands each line to `write`.

    Args:
        tasks: the tasks simulated, for their time zones.
        write: called with each line (no newline); it may raise to stop.
    """

    def __init__(self, tasks: Iterable[Task], write: Write) -> None:
        self._zones: dict[str, tzinfo] = {task.task_id: task.schedule.timezone for task in tasks}
        self._write = write
        self._retried: set[tuple[str, int, int]] = set()  # attempts whose retry was explained

    def decision(self, decision: Decision) -> None:
        """Explain one queue decision (an `Engine.explain_to` listener)."""
        self._say(decision.at, decision.task_id, self._decision_sentence(decision))

    def run_event(self, event: RunEvent) -> None:
        """Explain a run starting, ending badly, or ending without running (a run listener)."""
        run = event.run
        task_id, name = run.task.task_id, _run_name(run.run_number, run.attempt)
        if event.kind is EventKind.RUN_STARTED and event.started_at is not None:
            self._say(event.started_at, task_id, f"{name} is due and starts")
        elif event.kind is EventKind.RUN_SKIPPED and event.result is not None:
            verb = "missed" if event.result.status is RunStatus.MISSED else "skipped"
            self._say(event.result.ended_at, task_id, f"{name} {verb}: {event.reason}")
        elif event.kind is EventKind.RUN_FINISHED and event.result is not None:
            result = event.result
            key = (task_id, run.run_number, run.attempt)
            if key in self._retried:  # its retry line said how it ended
                self._retried.discard(key)
            elif result.status is not RunStatus.SUCCEEDED:
                self._say(result.ended_at, task_id, f"{name} {_status(result.status)}, "
                                                       "not retried")

    def _decision_sentence(self, decision: Decision) -> str:
        kind = decision.kind
        if kind is DecisionKind.CLOCK_JUMPED:
            way = "forward" if decision.delay_seconds > 0 else "back"
            return (f"the wall clock jumped {way} by {duration(abs(decision.delay_seconds))} "
                    "(a clock change or a suspend): calendar tasks are re-planned")
        if kind is DecisionKind.NO_RUNS_AHEAD:
            return "no runs ahead: its schedule has ended"
        when = self._when(decision.task_id, decision.next_run_at)
        planned = f"planned for {when} ({_in(decision.delay_seconds)})"
        if kind is DecisionKind.PLANNED:
            return f"next run {planned}"
        if kind is DecisionKind.COALESCED:
            missed = "missed runs" if decision.missed < 0 else \
                f"{decision.missed} missed run{'s' if decision.missed > 1 else ''}"
            return f"{missed} coalesced into this one; next run {planned}"
        status = _status(decision.status) if decision.status is not None else "ended"
        name = _run_name(decision.run_number, decision.attempt - 1)
        self._retried.add((decision.task_id, decision.run_number, decision.attempt - 1))
        if kind is DecisionKind.RETRY_PLANNED:
            return f"{name} {status}; attempt {decision.attempt} {planned}, with backoff"
        return (f"{name} {status}; not retried: its next run is due before attempt "
                f"{decision.attempt} would be")

    def _say(self, at: datetime, task_id: str, sentence: str) -> None:
        subject = f"{task_id}: " if task_id else ""
        self._write(f"{self._when(task_id, at)}  {subject}{sentence}")

    def _when(self, task_id: str, at: datetime | None) -> str:
        if at is None:
            return "?"
        zone = self._zones.get(task_id)
        return (at if zone is None else at.astimezone(zone)).isoformat(sep=" ", timespec="seconds")


def duration(seconds: float) -> str:
    """Return a duration compactly: 0.25 -> "0.25s", 90 -> "1m30s", 90061 -> "1d1h1m1s"."""
    whole, fraction = divmod(round(seconds, 3), 1)
    parts = []
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count:.0f}{unit}")
    rest = whole + fraction
    if rest or not parts:
        parts.append(f"{round(rest, 3):g}s")
    return "".join(parts)


def _in(seconds: float) -> str:
    return "now" if round(seconds, 3) <= 0 else f"in {duration(seconds)}"


def _run_name(run_number: int, attempt: int) -> str:
    return f"run {run_number}" + (f" attempt {attempt}" if attempt > 1 else "")


def _status(status: RunStatus) -> str:
    return status.value.replace("_", " ")
