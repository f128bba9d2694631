"""The engine: a `sched` queue of due runs, planned at a fixed rate.

It owns an `EventQueue` (a `sched.scheduler`) on monotonic time. Each queued
event says "task X is due". When it fires, the engine plans the task's next
run from this run's *planned* time (so runs never drift), queues it, and then
either hands this run to the executor or skips it because the previous one is
still running. The engine never runs task code and never sleeps on its own:
it waits on the injected clock, which other threads can wake.

Removing or replacing a task does not search the queue (`sched.cancel` is
O(n)): every queued event has the same shape, `(action, task_id, generation,
payload)`, and an event whose generation is no longer its task's current one
is ignored when it fires, or dropped when the queue is rebuilt ("lazy
cancellation", see `event_queue`). A task gets a new `_Generation` object
whenever its definition changes (added, replaced) and none once removed: the
registry and the generations change together, under the engine's lock.

What became of each run (in flight, counts, last result, listeners) is
kept by the `RunBook`; listeners subscribe to its `RunEvent`s (run_started,
run_finished, run_skipped): the seam for history, dashboards and alerting.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ..clock import Alarm, Clock, RealClock
from ..execution import Executor
from ..registry import Registry
from ..task import (
    Listener,
    Run,
    RunResult,
    RunStatus,
    RunTrigger,
    Task,
    TaskSnapshot,
    TaskState,
)
from . import planning, policies
from .decisions import Decision, DecisionKind, DecisionListener, plan_decision
from .event_queue import EventQueue
from .planning import ClockReading, Slot
from .runbook import RunBook, RunTally
from .throttle import WarningThrottle, held_back_note

# A stable public name (the JSON log's "logger" field), kept from before the stage packages.
logger = logging.getLogger("configure_task_scheduler.engine")

# The longest the engine sleeps at once, even with nothing due (cron wakes
# every minute too): a bounded wait is what lets it notice a stopped flag or a
# clock that jumped, whatever the clock implementation does.
MAX_WAIT_SECONDS = 60.0
# How far the wall clock may drift from the monotonic clock between two
# loop passes before it counts as a jump (NTP slews far slower than this).
CLOCK_JUMP_SECONDS = 2.0


@dataclass(slots=True)
class _Generation:
    """One definition of a task as the engine plans it, and its next slot (under the lock).

    Its identity is the generation: adding or replacing the task makes a new
    object, removing it leaves none, so the events queued for an older one
    (due runs, retries, extra runs) are stale. A clock jump keeps the
    generation and moves only its slot: the due event of the old slot is
    then stale (see `_on_due`), while retries and extra runs still count.
    """

    task: Task
    slot: Slot | None = None


class _Reporter:
    """The engine's face toward the executor (a `RunReporter`): three callbacks, nothing else.

    The callbacks are the engine's own bound methods, stored as attributes, so
    a report costs no extra call; `Engine` itself keeps them off its public face.
    """

    __slots__ = ("run_started", "run_finished", "run_released")

    def __init__(self, run_started: Callable[[Run, datetime, float], bool],
                 run_finished: Callable[[Run, RunResult], None],
                 run_released: Callable[[Run], None]) -> None:
        self.run_started = run_started
        self.run_finished = run_finished
        self.run_released = run_released


class Engine:
    """Plans the runs of the tasks in a registry and hands them to an executor.

    The engine is the mechanism; `Scheduler` is the library's facade over it.
    They share verbs with different contracts: `Engine.add` takes a built
    `Task` (the facade validates arguments first), `Engine.stop` only ends
    the loop (`shutdown` also waits for runs in flight, as `Scheduler.stop` does).

    Args:
        registry: the tasks to run; the engine adds to it and removes from it.
        executor: what runs the code (see `executor.Executor`).
        clock: the time source; a `FakeClock` makes the engine a simulator.
        random: returns floats in [0, 1) for jitter; inject one to make it repeatable.
    """

    def __init__(self, registry: Registry, executor: Executor, clock: Clock | None = None,
                 random: planning.Random = random.random) -> None:
        self._registry = registry
        self._executor = executor
        self._clock = clock or RealClock()
        self._random = random
        self._last_reading: ClockReading | None = None
        # The clock reading the current pass began with: the events of a pass
        # plan from it (see EventQueue.run_due), one reading per pass, not per run.
        self._pass = self._now()
        self._queue = EventQueue()
        self._lock = threading.Lock()  # guards _generations, with the registry; never re-entered
        self._generations: dict[str, _Generation] = {}
        self._book = RunBook()
        self._behind_warnings = WarningThrottle()  # "coalesced": at most once a minute a task
        self._reporter = _Reporter(self._run_started, self._run_finished, self._run_released)
        self._running = False
        self._stop_requested = False
        self._alarm = Alarm(self._clock)  # a change wakes the loop only for something sooner
        self._due = self._on_due  # bound once: every queued event refers to it
        # The last snapshot(), by task id, with the tally each was made from.
        self._snapshots: dict[str, tuple[RunTally, TaskSnapshot]] = {}
        self._explain: DecisionListener | None = None  # None: no decision record is built

    # -- the loop --------------------------------------------------------------

    def run(self, duration_seconds: float | None = None) -> None:
        """Plan every enabled task, then dispatch due runs until `stop()` is called.

        Args:
            duration_seconds: return after this long instead (for demos, tests
                and simulation); runs due at the very end still start.
        """
        start = self._now()
        end = None if duration_seconds is None else start.monotonic + duration_seconds
        with self._lock:
            self._running = True
            self._last_reading = start
            for task in self._registry.tasks():
                if task.task_id not in self._generations:  # a second run() resumes the plans
                    self._plan_first_run(task, start)
        tasks = self._registry.tasks()
        logger.info("scheduler started with %d task%s (%d enabled)", len(tasks),
                    "" if len(tasks) == 1 else "s", sum(task.enabled for task in tasks))
        try:
            self._loop(end)
        finally:
            with self._lock:  # a stop() that came before run() still counts, once
                self._running, self._stop_requested = False, False

    def _loop(self, end: float | None) -> None:
        """Pass after pass: read the clock, run what is due, tidy the queue, sleep."""
        while not self._stop_requested:
            self._pass = self._now()  # 1. one clock reading for the whole pass
            self._notice_clock_jump(self._pass)
            next_event_at = self._queue.run_due(self._pass.monotonic)  # 2. run what was due
            self._drop_stale_events()  # 3. forget events of removed or changed tasks
            now = self._clock.monotonic()
            if end is not None and now >= end:
                return
            wake_at = min(now + MAX_WAIT_SECONDS, end if end is not None else math.inf,
                          next_event_at if next_event_at is not None else math.inf)
            self._alarm.sleep(max(wake_at - now, 0.0), now)  # 4. until the next event

    def loop_stalled_reason(self) -> str:
        """Return why the loop is not alive, or "" while it is (for health checks).

        Alive means running, not stopping, and through its loop within the last
        2 x MAX_WAIT_SECONDS (the longest it sleeps at once): a loop stuck in a
        listener or on a lock stops passing. Thread-safe; takes no lock.
        """
        if self._stop_requested:
            return "the scheduler is stopping"
        if not self._running:
            return "the scheduler loop is not running"
        behind_seconds = self._clock.monotonic() - self._pass.monotonic
        if behind_seconds > 2 * MAX_WAIT_SECONDS:
            return (f"the scheduler loop has not passed for {behind_seconds:.0f}s "
                    f"(more than {2 * MAX_WAIT_SECONDS:g}s): it is stuck")
        return ""

    def last_pass_monotonic(self) -> float | None:
        """Return when the loop's latest pass began (monotonic), None when it is not running.

        The loop passes at least every MAX_WAIT_SECONDS: an older pass means it is
        stuck. Under the lock: once this is not None, `run()` has planned every task.
        """
        with self._lock:
            return self._pass.monotonic if self._running else None

    def stop(self) -> None:
        """Stop planning runs: `run()` returns promptly. Thread-safe; runs in flight go on."""
        self._stop_requested = True
        self._clock.wake()

    def shutdown(self, timeout_seconds: float) -> list[Run]:
        """Stop, wait up to `timeout_seconds` for runs in flight, then cut the rest short.

        Returns:
            The runs that were cut short; each is also logged.
        """
        self.stop()
        self._book.cancel_retries("the shutdown")
        cut_short = self._executor.shutdown(timeout_seconds)
        for run in cut_short:
            logger.warning("task %s run %d was cut short by the shutdown",
                           run.task.task_id, run.run_number)
        return cut_short

    # -- changing tasks (any thread) --------------------------------------------

    def add(self, task: Task) -> None:
        """Add a task, or replace the task with the same id; a running engine plans it at once.

        A replaced task keeps its run counts and runs in flight; its next run
        is planned afresh from now.
        """
        with self._lock:
            self._registry.put(task)
            if self._running or task.task_id in self._generations:
                slot = self._plan_first_run(task, self._now())
                if slot is not None:
                    self._alarm.wake_for(slot.monotonic)

    def remove(self, task_id: str) -> Task | None:
        """Remove a task; its runs in flight finish normally. Returns the task, or None."""
        with self._lock:
            task = self._registry.remove(task_id)
            self._generations.pop(task_id, None)  # its queued events are now stale
            self._book.forget(task_id)  # a pending retry goes with its record
            self._behind_warnings.forget(task_id)
        return task

    def run_now(self, task_id: str, trigger: RunTrigger | None = None) -> bool:
        """Start a run of the task as soon as possible, outside its schedule.

        The run follows the task's policies (overlap, retries) like any other;
        the schedule's own next run is not moved. Like the task's queued runs,
        the extra run belongs to the task's current definition: if the task is
        replaced or removed before the run starts, it is dropped (and logged).
        `trigger`: the finished run this one notifies of (`Run.trigger`).
        Returns False for an unknown id.
        """
        with self._lock:
            task = self._registry.get(task_id)
            if task is None:
                return False
            if task_id not in self._generations:  # the engine has not started: plan it first
                self._plan_first_run(task, self._now())
            now = self._clock.monotonic()
            self._enter(now, self._on_run_now, task_id, self._generations[task_id], trigger)
            self._alarm.wake_for(now)
        return True

    def task(self, task_id: str) -> Task | None:
        """Return the task with this id, or None."""
        return self._registry.get(task_id)

    def tasks(self) -> list[Task]:
        """Return the current task definitions, in the order they were added."""
        return self._registry.tasks()

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(event)` for every run event, from the thread where it happens."""
        self._book.subscribe(listener)

    def explain_to(self, listener: DecisionListener | None) -> None:
        """Call `listener(decision)` for every queue decision (None: stop); the teaching view.

        The listener runs on the deciding thread, mostly under the engine's
        lock: it must be quick and must not call the engine back.
        """
        self._explain = listener

    def snapshot(self) -> list[TaskSnapshot]:
        """Return a consistent view of every task, in registry order.

        A task whose view has not changed since the last call gets the same
        `TaskSnapshot` object again (they are frozen), so a reader can tell
        unchanged tasks apart by identity (the HTTP add-on's /api/tasks does).
        """
        with self._lock:
            tasks = self._registry.tasks()
            tallies = self._book.tallies([task.task_id for task in tasks])
            kept, fresh = self._snapshots, {}
            for task, tally in zip(tasks, tallies):
                state, next_run_at = self._state_and_next_run(task, tally)
                old = kept.get(task.task_id)
                if (old is None or old[0] is not tally or old[1].task is not task
                        or old[1].state is not state or old[1].next_run_at != next_run_at):
                    old = (tally, self._snapshot(task, tally, state, next_run_at))
                fresh[task.task_id] = old
            self._snapshots = fresh
            return [snapshot for _, snapshot in fresh.values()]

    # -- planning ----------------------------------------------------------------

    def _plan_first_run(self, task: Task, now: ClockReading) -> Slot | None:
        """Plan a new or replaced task; return its first slot (None: nothing to run)."""
        previous = self._generations.get(task.task_id)
        generation = _Generation(task)  # a new object: the events of any earlier one go stale
        if previous is not None:
            self._book.cancel_retry(task.task_id, "a change to the task")
        self._generations[task.task_id] = generation
        if not task.enabled:
            return None
        slot = planning.first_slot(task, now, self._random, starting=previous is None)
        self._enqueue(generation, slot, now)
        return slot

    def _plan_next_run(self, generation: _Generation, now: ClockReading) -> None:
        assert generation.slot is not None
        task = generation.task
        slot = planning.next_slot(task, generation.slot, now, self._random)
        if slot is not None and slot.missed:
            self._log_coalesced(task, generation.slot, slot.missed, now)
        self._enqueue(generation, slot, now)

    def _log_coalesced(self, task: Task, due: Slot, missed: int, now: ClockReading) -> None:
        """Say that missed runs were folded into this one: a warning at most once a minute."""
        held_back = self._behind_warnings.admit(task.task_id, now.monotonic)
        level = logging.DEBUG if held_back is None else logging.WARNING
        if not logger.isEnabledFor(level):
            return
        count = "some missed runs" if missed < 0 else \
            f"{missed} missed run{'s' if missed > 1 else ''}"
        logger.log(level, "task %s is %.3fs behind: %s coalesced into this one%s", task.task_id,
                   planning.lateness(task, due, now), count, held_back_note(held_back or 0))

    def _enqueue(self, generation: _Generation, slot: Slot | None, now: ClockReading) -> None:
        generation.slot = slot
        task_id = generation.task.task_id
        if self._explain is not None:
            self._explain(plan_decision(task_id, slot, now))
        if slot is None:
            logger.info("task %s has no runs ahead", task_id)
            return
        self._enter(slot.monotonic, self._due, task_id, generation, slot)
        if logger.isEnabledFor(logging.DEBUG):  # the teaching view of the queue
            logger.debug("task %s next run at %s, in %.3fs", task_id,
                         slot.wall.isoformat(sep=" ", timespec="milliseconds"),
                         slot.monotonic - now.monotonic)

    def _notice_clock_jump(self, now: ClockReading) -> None:
        """Re-plan calendar tasks if the wall clock moved apart from the monotonic one.

        That happens when the clock is stepped (NTP, by hand) or the machine was
        suspended (Linux's monotonic clock stops during suspend).
        """
        last, self._last_reading = self._last_reading, now
        skew = planning.wall_clock_skew(last, now) if last is not None else 0.0
        if last is None or abs(skew) < CLOCK_JUMP_SECONDS:
            return
        logger.warning("the wall clock jumped %s by %.1fs (clock change or suspend); "
                       "re-planning calendar tasks", "forward" if skew > 0 else "back", abs(skew))
        if self._explain is not None:
            self._explain(Decision(DecisionKind.CLOCK_JUMPED, now.wall, delay_seconds=skew))
        with self._lock:
            for generation in self._generations.values():
                if generation.slot is not None and not generation.task.schedule.on_monotonic_clock:
                    # A new slot, same generation: the old slot's event goes stale,
                    # a pending retry or extra run does not.
                    slot = planning.moved_slot(generation.task, generation.slot, last, now,
                                               self._random)
                    self._enqueue(generation, slot, now)

    # -- a run is due ------------------------------------------------------------

    def _enter(self, when: float, action: Callable[[str, _Generation, Any], None],
               task_id: str, generation: _Generation, payload: Any) -> None:
        """Queue `action(task_id, generation, payload)`: every event has this shape."""
        self._queue.enter(when, action, task_id, generation, payload)

    def _drop_stale_events(self) -> None:
        """Events of removed, replaced or re-planned tasks are ignored when they
        fire; once they pile up, the queue is rebuilt without them."""
        if not self._queue.is_bloated(len(self._generations)):
            return
        with self._lock:
            dropped = self._queue.drop_stale(self._is_live)
        logger.debug("dropped %d stale events from the queue", dropped)

    def _is_live(self, event: tuple[Any, ...]) -> bool:
        """Does a queued `(action, task_id, generation, payload)` still count?"""
        return self._generations.get(event[1]) is event[2]

    def _on_due(self, task_id: str, generation: _Generation, slot: Slot) -> None:
        """A planned run is due: plan the next run first (no drift), then start or skip this one."""
        with self._lock:
            if self._generations.get(task_id) is not generation or generation.slot is not slot:
                return  # the task was removed or changed, or a clock jump moved this slot
            now = self._pass
            run = self._book.new_run(generation.task, slot.wall, slot.monotonic,
                                     self._registry.secrets())
            self._plan_next_run(generation, now)
        self._dispatch(run, now.monotonic)

    # Retries and extra runs are entered between passes, for "now" or later, so
    # they read the clock afresh: the pass's reading may be older than their time.

    def _on_retry_due(self, task_id: str, generation: _Generation, run: Run) -> None:
        """A retry's wait is over: start its next attempt."""
        with self._lock:
            if self._generations.get(task_id) is not generation or not self._book.take_retry(run):
                return  # the task was removed or replaced: its retry goes with it
        self._dispatch(run, self._clock.monotonic())

    def _on_run_now(self, task_id: str, generation: _Generation,
                    trigger: RunTrigger | None) -> None:
        """The action of `run_now`: an extra run, planned for now."""
        with self._lock:
            if self._generations.get(task_id) is not generation:
                logger.info("task %s: the extra run asked for was dropped: the task was "
                            "changed or removed before it started", task_id)
                return
            now = self._now()
            run = self._book.new_run(generation.task, now.wall, now.monotonic,
                                     self._registry.secrets())
        if trigger is not None:  # a notification: its retries carry it too (replace)
            run = replace(run, trigger=trigger)
        self._dispatch(run, now.monotonic)

    def _dispatch(self, run: Run, now: float) -> None:
        """Skip the run if it is too late or too many are in flight, else hand it off."""
        reason = policies.misfire_reason(run.task, now - run.planned_monotonic)
        if reason:
            self._skip(run, RunStatus.MISSED, reason)
        elif reason := self._book.reserve(run):
            self._skip(run, RunStatus.SKIPPED, reason)
        else:
            self._hand_off(run)

    def _hand_off(self, run: Run) -> None:
        try:
            self._executor.submit(run, self._reporter)
        except Exception:
            logger.exception("task %s run %d could not be handed to the executor",
                             run.task.task_id, run.run_number)
            self._run_released(run)

    def _skip(self, run: Run, status: RunStatus, reason: str) -> None:
        """Record a run that ends without running: skipped (overlap) or missed (too late)."""
        now = self._clock.wall()
        self._book.skipped(run, RunResult.of(run, status, now, now, 0.0, error=reason))

    # -- reports from the executor (pool threads), through self._reporter ------

    def _run_started(self, run: Run, started_at: datetime, started_monotonic: float) -> bool:
        """Executor callback: a run's code is about to start.

        Returns:
            False if it must not start: it waited for a worker longer than its
            misfire grace (it is then recorded as missed).
        """
        lateness = started_monotonic - run.planned_monotonic
        reason = policies.misfire_reason(run.task, lateness)
        if reason:
            self._skip(run, RunStatus.MISSED, reason)
            return False
        self._book.started(run, started_at, lateness)
        return True

    def _run_finished(self, run: Run, result: RunResult) -> None:
        """Executor callback: a run's result is known; retry it if its task says so."""
        delay = policies.retry_delay(run.task, result.status, run.attempt)
        if delay is not None and not self._plan_retry(run, result, delay):
            delay = None
        self._book.finished(run, result, delay)

    def _run_released(self, run: Run) -> None:
        """Executor callback: a run's thread is free, so it no longer counts as running."""
        self._book.released(run)

    def _plan_retry(self, run: Run, result: RunResult, delay: float) -> bool:
        """Queue the next attempt of `run`, unless its task is gone or its next run comes first.

        Only a retry takes the engine's lock from a pool thread: a run that
        simply ends never contends with the engine's loop.
        """
        due = self._clock.monotonic() + delay
        with self._lock:
            generation = self._generations.get(run.task.task_id)
            if generation is None or not self._book.is_current(run):
                return False  # removed (and perhaps added again): the run's task is gone
            if generation.slot is not None and due >= generation.slot.monotonic:
                logger.warning("task %s run %d not retried: its next run is due before the "
                               "retry would be", run.task.task_id, run.run_number)
                self._explain_retry(DecisionKind.RETRY_DROPPED, run, result, delay)
                return False
            retry = replace(run, task=generation.task, planned_monotonic=due,
                            attempt=run.attempt + 1, secrets=self._registry.secrets())
            self._book.hold_retry(retry, result)
            self._enter(due, self._on_retry_due, run.task.task_id, generation, retry)
            self._alarm.wake_for(due)
            self._explain_retry(DecisionKind.RETRY_PLANNED, run, result, delay)
        return True

    def _explain_retry(self, kind: DecisionKind, run: Run, result: RunResult,
                       delay: float) -> None:
        if self._explain is not None:
            now = self._clock.wall()
            self._explain(Decision(kind, now, run.task.task_id, now + timedelta(seconds=delay),
                                   delay, run_number=run.run_number, attempt=run.attempt + 1,
                                   status=result.status))

    # -- helpers -----------------------------------------------------------------

    def _now(self) -> ClockReading:
        return ClockReading(self._clock.monotonic(), self._clock.wall())

    def _state_and_next_run(self, task: Task,
                            tally: RunTally) -> tuple[TaskState, datetime | None]:
        generation = self._generations.get(task.task_id)
        if generation is None:  # not planned yet: the engine has not started
            return (TaskState.SCHEDULED if task.enabled else TaskState.DISABLED), None
        slot = generation.slot
        next_run_at = slot.wall if slot is not None and self._running else None
        return _state_of(generation, tally), next_run_at

    def _snapshot(self, task: Task, tally: RunTally, state: TaskState,
                  next_run_at: datetime | None) -> TaskSnapshot:
        if task.task_id not in self._generations:  # not planned: no runs to show yet
            return TaskSnapshot(task, state, None, 0, None, tally.counts)
        return TaskSnapshot(task, state, next_run_at, tally.running, tally.last_result,
                            tally.counts, tally.queued)


def _state_of(generation: _Generation, tally: RunTally) -> TaskState:
    if not generation.task.enabled:
        return TaskState.DISABLED
    if tally.running:
        return TaskState.RUNNING
    if tally.queued:
        return TaskState.QUEUED
    return TaskState.SCHEDULED if generation.slot is not None else TaskState.FINISHED
