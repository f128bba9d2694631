"""The run book: what has happened to each task's runs, and who wants to know.

The engine decides when runs happen; the run book numbers them and records
what became of them: which runs are in flight, queued (waiting for a free
worker) or running, so `max_instances` can be enforced; which wait for a
retry; how many ended in each final status; the last result. It also applies
the overlap rule (`reserve`), because that needs the runs in flight under the
same lock; it logs each run's start and end and tells listeners (the seam for
history and dashboards). It is thread-safe, because pool threads report here,
and it knows nothing about queues, clocks or schedules.

Each run carries its record (`Run.record`) and reports there: a task removed
and added again gets a new record, but the runs of the old one still in
flight stay counted for it (the two records share their runs in flight).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from ..task import (
    NO_SECRETS,
    EventKind,
    Listener,
    Run,
    RunEvent,
    RunResult,
    RunStatus,
    Secrets,
    Task,
    log_fields,
)
from . import policies
from .throttle import WarningThrottle, held_back_note

# A stable public name (the JSON log's "logger" field), kept from before the stage packages.
logger = logging.getLogger("configure_task_scheduler.runbook")


@dataclass(slots=True)
class _Flight:
    """A run in flight: queued since its planned time, or running since it started."""

    run: Run
    since: datetime
    started: bool = False


@dataclass(slots=True)
class _Entry:
    """One task's runs, guarded by its own lock: pool threads reporting on
    different tasks, and the engine reserving runs, never wait for each other."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    runs: int = 0  # run numbers given out so far
    # By id(run): a run object lives while it is in flight. Shared, with the lock,
    # with the next record of the same task id (see `forget`).
    in_flight: dict[int, _Flight] = field(default_factory=dict)
    retry: tuple[Run, RunResult] | None = None  # a next attempt waiting, and the last result
    last_result: RunResult | None = None
    counts: Counter[RunStatus] = field(default_factory=Counter)


_EMPTY = _Entry()


@dataclass(frozen=True, slots=True)
class RunTally:
    """A read-only count of one task's runs: running, queued, the last result, final statuses."""

    running: int
    last_result: RunResult | None
    counts: Mapping[RunStatus, int]
    queued: int = 0


class RunBook:
    """Run records per task id; a task replaced under the same id keeps its record."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # for adding and dropping entries, and subscribing
        # Read with single dict operations, which are atomic; changed under the lock.
        self._entries: dict[str, _Entry] = {}
        # Forgotten records with runs still in flight, for a task added again (see forget).
        self._carried: dict[str, _Entry] = {}
        # Replaced, never changed in place: emit() reads it without the lock.
        self._listeners: tuple[Listener, ...] = ()
        self._late_warnings = WarningThrottle()  # "started late": at most once a minute a task
        # The last `tallies()`, by task id, with a copy of the counts each was made from.
        self._tallies: dict[str, tuple[RunTally, dict[RunStatus, int]]] = {}

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(event)` for every run event, on the thread where it happens."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def new_run(self, task: Task, planned_at: datetime, planned_monotonic: float,
                secrets: Secrets = NO_SECRETS) -> Run:
        """Number the task's next run (1, 2, ...; a replaced task goes on), tied to its record."""
        entry = self._entry(task.task_id)
        with entry.lock:
            entry.runs += 1
            return Run(task, entry.runs, planned_at, planned_monotonic, secrets=secrets,
                       record=entry)

    def is_current(self, run: Run) -> bool:
        """False if the run's task was removed (and perhaps added again) since it was planned."""
        return run.record is None or self._entries.get(run.task.task_id) is run.record

    def reserve(self, run: Run) -> str:
        """Count `run` as in flight (queued), unless its task has too many: then return why not.

        Earlier attempts of the same run do not count against it: a timed-out
        Python call keeps its thread, and its retry must still start.
        """
        entry = self._record(run)
        with entry.lock:
            reason = _overlap_reason(run, entry.in_flight) if entry.in_flight else ""
            if not reason:
                entry.in_flight[id(run)] = _Flight(run, run.planned_at)
            return reason

    def started(self, run: Run, started_at: datetime, lateness_seconds: float) -> None:
        """The run's code starts now: it is running; log it and tell listeners."""
        entry = self._record(run, create=False)
        with entry.lock:
            flight = entry.in_flight.get(id(run))
            if flight is not None:
                flight.since, flight.started = started_at, True
        self._log_start(run, lateness_seconds)
        if self._listeners:  # no event object built when nobody listens
            self.emit(RunEvent(EventKind.RUN_STARTED, run, started_at=started_at))

    def released(self, run: Run) -> None:
        """The run's thread is free: it no longer counts as in flight."""
        entry = self._record(run, create=False)
        with entry.lock:
            entry.in_flight.pop(id(run), None)
            done = not entry.in_flight
        if done and self._carried:
            self._drop_carried(run.task.task_id)

    def finished(self, run: Run, result: RunResult, retry_in: float | None) -> None:
        """An attempt ended; unless it will be retried, its status is the run's final one."""
        if retry_in is None:
            self._count(self._record(run), result)
        _log_result(run, result, retry_in)
        if self._listeners:
            self.emit(RunEvent(EventKind.RUN_FINISHED, run, result=result,
                               retry_in_seconds=retry_in))

    def skipped(self, run: Run, result: RunResult) -> None:
        """The run ended without running (skipped or missed)."""
        logger.warning("task %s run %d %s: %s", run.task.task_id, run.run_number,
                       result.status.value, result.error,
                       extra=log_fields(run, "run_skipped", result.status))
        self._count(self._record(run), result, keep_as_last=False)
        if self._listeners:
            self.emit(RunEvent(EventKind.RUN_SKIPPED, run, result=result, reason=result.error))

    def hold_retry(self, retry: Run, result: RunResult) -> None:
        """Keep a run's next attempt until it starts or is cancelled (`result`: the last one's)."""
        entry = self._record(retry)
        with entry.lock:
            entry.retry = (retry, result)

    def take_retry(self, retry: Run) -> bool:
        """The retry's wait is over: True if it was still pending (it no longer is)."""
        entry = self._record(retry, create=False)
        with entry.lock:
            if entry.retry is None or entry.retry[0] is not retry:
                return False
            entry.retry = None
            return True

    def cancel_retry(self, task_id: str, cause: str) -> None:
        """A pending retry will not happen: its last attempt's result is the run's final one."""
        entry = self._entries.get(task_id)
        if entry is None:
            return
        with entry.lock:
            pending, entry.retry = entry.retry, None
        if pending is not None:
            retry, result = pending
            logger.warning("task %s run %d: retry (attempt %d) cancelled by %s",
                           task_id, retry.run_number, retry.attempt, cause)
            self._count(entry, result)

    def cancel_retries(self, cause: str) -> None:
        """Cancel every pending retry (at shutdown)."""
        with self._lock:
            task_ids = list(self._entries)
        for task_id in task_ids:
            self.cancel_retry(task_id, cause)

    @staticmethod
    def _count(entry: _Entry, result: RunResult, keep_as_last: bool = True) -> None:
        """Add a final result to its record's counts."""
        with entry.lock:
            entry.counts[result.status] += 1
            if keep_as_last:
                entry.last_result = result

    def _record(self, run: Run, create: bool = True) -> _Entry:
        """The record the run belongs to (a run made outside the engine: its task's current one)."""
        if isinstance(run.record, _Entry):
            return run.record
        if create:
            return self._entry(run.task.task_id)
        return self._entries.get(run.task.task_id) or _Entry()

    def _entry(self, task_id: str) -> _Entry:
        """The task's current record, made on first use (sharing the runs still in
        flight of a record forgotten before)."""
        entry = self._entries.get(task_id)
        if entry is None:
            with self._lock:
                entry = self._entries.get(task_id)
                if entry is None:
                    carried = self._carried.pop(task_id, None)
                    entry = _Entry() if carried is None else \
                        _Entry(lock=carried.lock, in_flight=carried.in_flight)
                    self._entries[task_id] = entry
        return entry

    def forget(self, task_id: str) -> None:
        """Drop a removed task's record; its runs in flight still report into it, and
        still count for a task added again under the same id until they end."""
        with self._lock:
            entry = self._entries.pop(task_id, None)
            if entry is not None and entry.in_flight:
                self._carried[task_id] = entry
        self._late_warnings.forget(task_id)

    def _drop_carried(self, task_id: str) -> None:
        """A forgotten record's last run in flight ended: nothing is left to carry."""
        with self._lock:
            carried = self._carried.get(task_id)
            if carried is not None and not carried.in_flight:
                del self._carried[task_id]

    def tallies(self, task_ids: list[str]) -> list[RunTally]:
        """Return a consistent count of each task's runs, in the order of `task_ids`.

        What `snapshot()` reads for every task. Most tasks are idle between two
        calls, so a tally is kept per task and given again while the task has no
        run in flight, the same last result and equal counts: no copy, no record.
        """
        entries, kept, tallies = self._entries, self._tallies, []
        fresh: dict[str, tuple[RunTally, dict[RunStatus, int]]] = {}  # a removed task is let go
        for task_id in task_ids:
            entry = entries.get(task_id) or _EMPTY
            with entry.lock:
                tally = kept.get(task_id)
                if (entry.in_flight or tally is None
                        or tally[0].last_result is not entry.last_result
                        or not _dict_equal(tally[1], entry.counts)):
                    tally = _tally(entry)
            fresh[task_id] = tally
            tallies.append(tally[0])
        self._tallies = fresh
        return tallies

    def _log_start(self, run: Run, lateness: float) -> None:
        """Log a run's start: a warning if it is late (at most once a minute a task)."""
        held_back = None
        if lateness > policies.LATE_WARNING_SECONDS:
            held_back = self._late_warnings.admit(run.task.task_id,
                                                  run.planned_monotonic + lateness)
        level = logging.INFO if held_back is None else logging.WARNING
        if not logger.isEnabledFor(level):
            return  # a library user who logs nothing pays nothing per run
        fields = log_fields(run, "run_started")
        attempt = f" (attempt {run.attempt})" if run.attempt > 1 else ""
        if held_back is not None:
            logger.warning("task %s run %d%s started %.3fs late%s", run.task.task_id,
                           run.run_number, attempt, lateness, held_back_note(held_back),
                           extra=fields)
            return
        logger.info("task %s run %d%s started", run.task.task_id, run.run_number, attempt,
                    extra=fields)
        logger.debug("task %s run %d started %.3fs after its planned time", run.task.task_id,
                     run.run_number, lateness, extra=fields)

    def emit(self, event: RunEvent) -> None:
        """Tell every listener; one that raises is logged and the others still hear."""
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("listener %r failed on %s of task %s; ignored",
                                 listener, event.kind.value, event.run.task.task_id)


def _tally(entry: _Entry) -> tuple[RunTally, dict[RunStatus, int]]:
    """Count one task's runs (under its record's lock); also return the counts' copy."""
    running = sum(flight.started for flight in entry.in_flight.values())
    counts = dict(entry.counts)
    return RunTally(running, entry.last_result, MappingProxyType(counts),
                    len(entry.in_flight) - running), counts


# dict's own ==, in C: `counts == counter` would call Counter.__eq__ first (Python code).
_dict_equal = dict.__eq__


def _overlap_reason(run: Run, in_flight: dict[int, _Flight]) -> str:
    """The overlap rule against the other runs in flight (not the run's own earlier attempts)."""
    others = [flight for flight in in_flight.values()
              if flight.run.run_number != run.run_number or flight.run.record is not run.record]
    return policies.overlap_reason(run.task, [flight.since for flight in others if flight.started],
                                   [flight.since for flight in others if not flight.started])


def _log_result(run: Run, result: RunResult, retry_in: float | None) -> None:
    level = logging.INFO if result.status is RunStatus.SUCCEEDED else logging.ERROR
    if not logger.isEnabledFor(level):
        return
    detail = f" ({result.error})" if result.error else ""
    attempt = f" (attempt {run.attempt})" if run.attempt > 1 else ""
    retry = f"; retry in {retry_in:g}s" if retry_in is not None else ""
    logger.log(level, "task %s run %d%s finished: %s in %.2fs%s%s", result.task_id,
               result.run_number, attempt, result.status.value, result.duration_seconds,
               detail, retry, extra={**log_fields(run, "run_finished", result.status,
                                                  result.duration_seconds),
                                     "exit_code": result.exit_code})
