"""For running the suite under libfaketime 0.9.10: put this directory on PYTHONPATH.

    FAKETIME_DONT_FAKE_MONOTONIC=1 PYTHONPATH=tests/faketime \\
        faketime -f "@2026-12-07 09:29:30" python -m pytest -q -p no:cacheprovider

With the monotonic clock left real, libfaketime 0.9.10 mangles the absolute
clock_nanosleep(CLOCK_MONOTONIC) that Python 3.11's `time.sleep` uses, and
every `time.sleep` (and `subprocess`'s timed waits) fails with EINVAL
(libfaketime issue #426). A lock wait with a timeout is not affected, so
`time.sleep` becomes one. Python processes the tests start inherit PYTHONPATH.
"""

import threading
import time


def _sleep(seconds: float) -> None:
    if seconds <= 0:
        return
    lock = threading.Lock()
    lock.acquire()
    lock.acquire(timeout=seconds)


time.sleep = _sleep
