"""The only module that reads the real clock.

The engine never calls `time` or `datetime.now()` itself: it is handed a
`Clock`, which gives it two readings (monotonic seconds for the `sched` queue,
an aware wall-clock datetime for calendars and logs) and a wakeable sleep.
`RealClock` sleeps on a `threading.Event`, so adding a task or stopping wakes
the engine at once. `FakeClock` sleeps by advancing time, so tests and
`--simulate` run days of schedule in milliseconds.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    """What the engine needs from time."""

    def monotonic(self) -> float:
        """Return seconds on a clock that never goes back (the queue's time)."""

    def wall(self) -> datetime:
        """Return the current wall-clock time as an aware UTC datetime."""

    def sleep(self, seconds: float) -> None:
        """Wait up to `seconds`; may return early after `wake()`."""

    def wake(self) -> None:
        """Make a current or the next `sleep` return at once."""


class RealClock:
    """The machine's clocks, with a sleep that other threads can interrupt."""

    def __init__(self) -> None:
        # A lock used as a one-permit semaphore: wake() releases it, sleep()
        # waits to take it. Cheaper than an Event, whose every wait allocates a
        # lock and a Condition waiter: the engine may sleep 20,000 times a second.
        self._wakeup = threading.Lock()
        self._wakeup.acquire()

    def monotonic(self) -> float:
        """Return `time.monotonic()`."""
        return time.monotonic()

    def wall(self) -> datetime:
        """Return the aware current time in UTC."""
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        """Wait up to `seconds`, or until `wake()` (a wake-up before the sleep counts)."""
        # sched calls delayfunc(0) after every event: make that free.
        if seconds <= 0:
            return
        self._wakeup.acquire(timeout=seconds)  # taking the permit consumes the wake-up

    def wake(self) -> None:
        """End the current (or the next) `sleep` at once; callable from any thread."""
        try:
            self._wakeup.release()
        except RuntimeError:  # released already: a wake-up is pending
            pass


class FakeClock:
    """A clock that moves only when slept on or told to, for tests and simulation.

    Invariants: monotonic time never goes back; `sleep(d)` advances both
    readings by exactly `d`. `jump_wall` and `suspend` model the two ways the
    wall clock and the monotonic clock disagree on a real machine.
    """

    def __init__(self, start: datetime | None = None, monotonic_start: float = 1000.0) -> None:
        self._wall = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
        if self._wall.tzinfo is None:
            raise ValueError("FakeClock needs an aware start datetime")
        self._monotonic = monotonic_start

    def monotonic(self) -> float:
        """Return the fake monotonic reading."""
        return self._monotonic

    def wall(self) -> datetime:
        """Return the fake wall-clock reading."""
        return self._wall

    def sleep(self, seconds: float) -> None:
        """Advance both readings by `seconds` at once (0 is fine; negative raises ValueError)."""
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time: {seconds}")
        self.advance(seconds)

    def wake(self) -> None:
        """Nothing to do: a fake sleep never blocks."""

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by `seconds`, as time passing normally does."""
        self._monotonic += seconds
        self._wall += timedelta(seconds=seconds)

    def jump_wall(self, seconds: float) -> None:
        """Step the wall clock alone (an NTP step or a manual change); may be negative."""
        self._wall += timedelta(seconds=seconds)

    def suspend(self, seconds: float) -> None:
        """Model a suspended machine: wall time passes, Linux's monotonic clock does not."""
        self._wall += timedelta(seconds=seconds)


class Alarm:
    """Sleeps on a clock until a deadline; other threads wake it only for something sooner.

    A scheduler's loop sleeps until its next event. A change made meanwhile
    needs the loop awake only if it queues something before that: adding
    100,000 hourly tasks should not wake it 100,000 times. While the loop is
    awake (between two sleeps), a wake-up makes its next sleep return at
    once, so nothing queued during a pass is slept through.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._deadline: float | None = None  # None while awake

    def sleep(self, seconds: float, now: float) -> None:
        """Sleep `seconds` from monotonic time `now`, unless woken sooner."""
        with self._lock:
            self._deadline = now + seconds
        self._clock.sleep(seconds)
        with self._lock:
            self._deadline = None

    def wake_for(self, when: float) -> None:
        """Wake the sleeper if it would sleep past monotonic time `when`."""
        with self._lock:
            needed = self._deadline is None or when < self._deadline
        if needed:
            self._clock.wake()
