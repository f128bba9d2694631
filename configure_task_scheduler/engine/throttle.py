"""A cap on repeated warnings: one per task a minute, and a count of the rest.

When the machine or the pool cannot keep up, every run of every task is
late, and a warning per run would flood the log (thousands of lines a
second) and cost the overloaded scheduler more time still. So "started
late" and "coalesced" warnings (one throttle each) pass at most once per
task every `WARNING_INTERVAL_SECONDS`; the next one that passes says how many were held
back meanwhile. A held-back run is still logged at its usual lower level,
and its lateness is still in its run event (history, metrics). Thread-safe:
pool threads and the engine's loop both ask. It reads no clock: the caller
passes its monotonic time.
"""

from __future__ import annotations

import threading

WARNING_INTERVAL_SECONDS = 60.0


class WarningThrottle:
    """Decides, per task id, whether one kind of warning passes now."""

    def __init__(self, interval_seconds: float = WARNING_INTERVAL_SECONDS) -> None:
        self._interval_seconds = interval_seconds
        self._lock = threading.Lock()
        # task id -> (monotonic time of the last warning that passed, held back since)
        self._last: dict[str, tuple[float, int]] = {}

    def admit(self, task_id: str, now_monotonic: float) -> int | None:
        """Return None to hold this warning back (it is counted), else how many were held back."""
        with self._lock:
            last = self._last.get(task_id)
            if last is not None and now_monotonic - last[0] < self._interval_seconds:
                self._last[task_id] = (last[0], last[1] + 1)
                return None
            self._last[task_id] = (now_monotonic, 0)
            return 0 if last is None else last[1]

    def forget(self, task_id: str) -> None:
        """A removed task's warnings start afresh if it is added again."""
        with self._lock:
            self._last.pop(task_id, None)


def held_back_note(count: int) -> str:
    """The suffix of a warning that passes after `count` others were held back."""
    if not count:
        return ""
    return f" ({count} more like this since the last one were not logged)"
