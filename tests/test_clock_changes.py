"""A real `python main.py` process whose wall clock is stepped while it runs.

Stepping the machine's clock needs root, so the process runs under libfaketime
(Debian package `faketime`), which reads the time to fake from a file on
every call: rewriting the file steps the wall clock of the running process,
while its monotonic clock stays real (`FAKETIME_DONT_FAKE_MONOTONIC`). Without
libfaketime these tests are skipped. The exact rules are pinned on the fake
clock in test_engine.py and test_planning.py; here the point is that the real
clocks, read by a real process, give the same behaviour.

The task is a Python callable: libfaketime 0.9.10 breaks `time.sleep` (and so
`subprocess`'s timed waits) in Python 3.11 when the monotonic clock is not
faked (libfaketime issue #426); the scheduler's own waits are lock waits.
"""

from __future__ import annotations

import glob
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_cli import REPO_ROOT, BackgroundScheduler

LIBFAKETIME = next(iter(sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))), None)

pytestmark = pytest.mark.skipif(LIBFAKETIME is None,
                                reason="libfaketime is not installed (Debian package faketime)")


class SteppedScheduler(BackgroundScheduler):
    """The scheduler in the background, its wall clock read from `clock_file` by libfaketime."""

    def __init__(self, config: Path, clock_file: Path) -> None:
        assert LIBFAKETIME is not None
        # Without any faketime setting of this process (when the suite itself runs
        # under faketime): FAKETIME would override the file, FAKETIME_SHARED share its state.
        env = {name: value for name, value in os.environ.items()
               if name not in ("LOG_LEVEL", "LD_PRELOAD") and not name.startswith("FAKETIME")}
        env.update(LD_PRELOAD=LIBFAKETIME, FAKETIME_TIMESTAMP_FILE=str(clock_file),
                   FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1", TZ="UTC")
        self.clock_file = clock_file
        self.process = subprocess.Popen(
            [sys.executable, "main.py", "--config", str(config)], cwd=REPO_ROOT, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._stderr = bytearray()

    def log_lines(self) -> list[str]:
        return self._stderr.decode().splitlines()

    def set_clock(self, start_at: str) -> None:
        """Make the process's wall clock read `start_at` ("YYYY-MM-DD hh:mm:ss") and run on."""
        self.clock_file.write_text(f"@{start_at}\n")


@pytest.fixture
def stepped_scheduler(tmp_path: Path, write_config: Callable[..., Path]
                      ) -> Iterator[Callable[[str], SteppedScheduler]]:
    started: list[SteppedScheduler] = []
    tick = {"task_id": "tick", "task_type": "python", "entry_point": "os:getpid",
            "interval_seconds": 0.5}
    minutely = {"task_id": "minutely", "task_type": "python", "entry_point": "os:getpid",
                "cron": "* * * * *", "timezone": "UTC"}
    config = write_config({"tasks": [tick, minutely]})

    def start(start_at: str) -> SteppedScheduler:
        clock_file = tmp_path / "faketime.rc"
        clock_file.write_text(f"@{start_at}\n")
        started.append(SteppedScheduler(config, clock_file))
        return started[-1]

    yield start
    for scheduler in started:
        scheduler.stop()


def test_every_minute_cron_task_goes_on_at_once_after_the_clock_is_set_back_2_hours(
        stepped_scheduler: Callable[[str], SteppedScheduler]) -> None:
    # The half-second "tick" task keeps the engine's loop passing, so the step
    # is noticed within half a second (an idle engine notices within 60 s).
    scheduler = stepped_scheduler("2026-12-07 09:59:57")
    scheduler.wait_for_log(r"task minutely run 1 started")  # at 10:00:00

    scheduler.set_clock("2026-12-07 08:00:57")  # 1 h 59 min back, 3 s before 08:01
    scheduler.wait_for_log(r"task minutely run 2 started")  # at 08:01:00, not 10:01:00
    scheduler.send(signal.SIGTERM)

    assert scheduler.exit_status() == 0
    lines = [line for line in scheduler.log_lines()
             if "minutely" in line and "started" in line or "wall clock" in line]
    assert [bool(re.fullmatch(pattern, line)) for pattern, line in zip([
        # libfaketime's start-at clock, in a loaded process, may read a few seconds
        # behind the monotonic clock that timed the run.
        r"2026-12-07 (09:59:5\d|10:00:00) INFO +task minutely run 1 started",
        r"2026-12-07 08:00:5\d WARNING +the wall clock jumped back by 71\d\d\.\ds "
        r"\(clock change or suspend\); re-planning calendar tasks",
        r"2026-12-07 08:01:00 INFO +task minutely run 2 started",
    ], lines)] == [True] * 3, "\n".join(lines)
