"""Example task callables used by the sample config (config/tasks.json).

A Python task's entry point names a function like these. They are ordinary
functions: the scheduler imports them once at load time and calls them on a
pool thread at each run. They must not block for long or touch the
scheduler: they are examples of tasks, not part of it.
"""

from __future__ import annotations

import logging
import platform

logger = logging.getLogger(__name__)


def say_hello(name: str = "world") -> None:
    """Log a greeting: the smallest possible task."""
    logger.info("hello, %s (from Python %s)", name, platform.python_version())


def fail_on_purpose() -> None:
    """Raise, to show how a failing task is reported (retries, notifications, the status page).

    Raises:
        RuntimeError: always; the scheduler logs it and carries on.
    """
    raise RuntimeError("this example task fails on purpose")
