"""The event queue: `sched` read at pass times, with lazy cancellation.

The engine queues events ("task X is due") here and, once per pass of its
loop, runs those due when the pass began. `sched.cancel` is O(n) (a list
search and a re-heapify), so cancelling 100,000 events one by one would be
quadratic. An event is therefore never cancelled: its owner ignores it when
it fires (the engine checks that the event's plan is still the task's
current one), and when ignored events pile up, `drop_stale` rebuilds the
queue without them in one O(n log n) pass, so memory follows the number of
tasks, not the number of changes.

Every action runs behind a guard: an exception escaping `sched.run()` would
stop every task. The queue never reads a clock and never sleeps.
"""

from __future__ import annotations

import logging
import sched
from collections.abc import Callable
from typing import Any

# A stable public name (the JSON log's "logger" field), kept from before the stage packages.
logger = logging.getLogger("configure_task_scheduler.event_queue")

# Below this many surplus events, rebuilding costs more than the memory it frees.
DROP_STALE_MIN_EVENTS = 1024
_NO_KWARGS: dict[str, Any] = {}  # shared by every event; sched only unpacks it

Arguments = tuple[Any, ...]


class EventQueue:
    """A `sched.scheduler` whose time is the current pass's, plus a count of its events.

    `enter` may be called from any thread under the engine's lock; `run_due`
    and `drop_stale` only from the engine's loop.
    """

    def __init__(self) -> None:
        self._pass_time = 0.0
        self._sched = sched.scheduler(lambda: self._pass_time, _never_sleep)
        self._entered = 0  # changed under the engine's lock
        self._fired = 0  # changed only by the loop's thread
        self._guard = self._guarded  # bound once: every event refers to it

    def enter(self, when: float, action: Callable[..., None], *args: Any) -> None:
        """Queue `action(*args)` at monotonic time `when`."""
        # One flat argument tuple and the shared empty kwargs (sched would make a
        # dict per event): an idle task's queued event is much of its memory.
        self._sched.enterabs(when, 0, self._guard, (action, *args), _NO_KWARGS)
        self._entered += 1

    def run_due(self, pass_time: float) -> float | None:
        """Run every event due by `pass_time`, the monotonic time the engine's pass began.

        `sched` reads its time function before each event; here that function
        answers `pass_time` throughout, so a pass runs only what was due when it
        began. A run that comes due while the pass is busy waits for the next
        pass, and an overloaded engine still returns to its loop (to notice a
        stop or a clock jump) between passes.

        Returns:
            The monotonic time of the next queued event, or None if none is left.
        """
        self._pass_time = pass_time
        delay = self._sched.run(blocking=False)  # measured from pass_time
        return None if delay is None else pass_time + delay

    def __len__(self) -> int:
        """Events queued, stale ones included."""
        return self._entered - self._fired

    def is_bloated(self, expected: int) -> bool:
        """True if the queue holds far more events than the `expected` live ones."""
        return len(self) > 2 * expected + DROP_STALE_MIN_EVENTS

    def drop_stale(self, is_live: Callable[[Arguments], bool]) -> int:
        """Rebuild the queue with only the events `is_live` keeps; return how many were dropped.

        Args:
            is_live: says, from an event's `(action, *args)`, if it still counts.
        """
        events = self._sched.queue  # in firing order, so the rebuild keeps ties in order
        live = [event for event in events if is_live(event.argument)]
        fresh = sched.scheduler(self._sched.timefunc, self._sched.delayfunc)
        for event in live:
            fresh.enterabs(event.time, event.priority, event.action, event.argument,
                           event.kwargs)
        self._sched, self._entered, self._fired = fresh, len(live), 0
        return len(events) - len(live)

    def _guarded(self, action: Callable[..., None], *args: Any) -> None:
        """Every event's action runs through here, and never raises."""
        self._fired += 1
        try:
            action(*args)
        except Exception:
            logger.exception("engine error in %s for task %s; the scheduler goes on",
                             getattr(action, "__name__", action), args[0] if args else "?")


def _never_sleep(seconds: float) -> None:
    """sched's delay function: `run_due` never blocks, and the engine sleeps on its clock."""
