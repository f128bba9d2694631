"""The command line's log formats, on real `LogRecord`s formatted in-process.

Records are made by a real `Logger.makeRecord` (so `extra=` works as in the
engine) with a fixed creation time, in a fixed local time zone one hour east
of UTC, so every line can be compared whole.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

import pytest

from configure_task_scheduler.log_formats import (
    JsonFormatter,
    TextFormatter,
    escape_control,
)
from configure_task_scheduler.task import RunStatus

# 2026-01-01 09:30:00.123 UTC, 10:30:00.123 in the test's local time.
CREATED = datetime(2026, 1, 1, 9, 30, 0, 123000, tzinfo=timezone.utc).timestamp()
JSON_KEYS = ["timestamp", "level", "logger", "task_id", "run", "attempt", "event", "status",
             "duration", "exit_code", "message"]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType]


@pytest.fixture(autouse=True)
def local_time_is_utc_plus_one(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "CET-1")  # POSIX rule: always UTC+1, no tz database needed
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def make_record(message: str, *args: object, level: int = logging.INFO,
                exc_info: Any = None, extra: dict[str, Any] | None = None) -> logging.LogRecord:
    """A record as `logging.getLogger("configure_task_scheduler.engine")` would make it."""
    logger = logging.getLogger("configure_task_scheduler.engine")
    record = logger.makeRecord(logger.name, level, __file__, 1, message, args, exc_info,
                               extra=extra)
    record.created, record.msecs = CREATED, 123.0
    return record


def raised(error: BaseException) -> ExcInfo:
    """The `exc_info` of `error` after it was raised and caught."""
    try:
        raise error
    except BaseException:
        exc_type, value, traceback = sys.exc_info()
        assert exc_type is not None and value is not None and traceback is not None
        return exc_type, value, traceback


# -- escape_control -------------------------------------------------------------------


@pytest.mark.parametrize(("text", "escaped"), [
    ("plain text, accents é and 🙂", "plain text, accents é and 🙂"),
    ("tab\tstays", "tab\tstays"),
    ("a\nb", "a\\nb"),
    ("a\rb", "a\\rb"),
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("nul\x00 bell\x07 vt\x0b ff\x0c fs\x1c", "nul\\x00 bell\\x07 vt\\x0b ff\\x0c fs\\x1c"),
    ("del\x7f", "del\\x7f"),
    ("nel\x85 csi\x9b", "nel\\x85 csi\\x9b"),
    ("ls\u2028ps\u2029", "ls\\u2028ps\\u2029"),
], ids=["plain", "tab", "newline", "carriage-return", "ansi", "other-c0", "del", "c1",
        "unicode-separators"])
def test_escape_control_makes_line_breaks_and_controls_visible(text: str, escaped: str) -> None:
    assert escape_control(text) == escaped
    assert escape_control(text).splitlines() == [escaped]


# -- TextFormatter --------------------------------------------------------------------


def test_text_line_is_local_time_level_and_message() -> None:
    record = make_record("task %s run %d finished: %s in %.2fs", "backup", 4, "succeeded", 0.31)

    line = TextFormatter().format(record)

    assert line == "2026-01-01 10:30:00 INFO    task backup run 4 finished: succeeded in 0.31s"


def test_text_level_is_padded_to_seven_characters() -> None:
    lines = [TextFormatter().format(make_record("m", level=level))
             for level in (logging.DEBUG, logging.WARNING, logging.ERROR)]

    assert lines == ["2026-01-01 10:30:00 DEBUG   m", "2026-01-01 10:30:00 WARNING m",
                     "2026-01-01 10:30:00 ERROR   m"]


def test_text_forged_newline_and_ansi_in_a_message_stay_on_one_escaped_line() -> None:
    forged = "x\r2026-01-01 00:00:00 INFO    fake\x1b[2J\n2026-01-01 00:00:01 ERROR   fake"
    record = make_record("task %s | %s", "forge", forged)

    line = TextFormatter().format(record)

    assert line.splitlines() == [
        "2026-01-01 10:30:00 INFO    task forge | x\\r2026-01-01 00:00:00 INFO    "
        "fake\\x1b[2J\\n2026-01-01 00:00:01 ERROR   fake"]


def test_text_ignores_the_run_fields() -> None:
    record = make_record("m", extra={"task_id": "t", "run": 1, "event": "run_started"})

    assert TextFormatter().format(record) == "2026-01-01 10:30:00 INFO    m"


# A traceback as the executor renders it (already redacted), from a task whose
# exception message tries to forge a record and clear the screen.
TASK_TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/jobs.py", line 3, in leak\n'
    "    raise ValueError(message)\n"
    "ValueError: bad ***\n2026-01-01 00:00:00 INFO    fake\x1b[2J")


def task_failure(traceback_text: str = TASK_TRACEBACK) -> logging.LogRecord:
    """The executor's record of a task that raised: its traceback rendered in advance."""
    record = make_record("task %s run %d raised %s", "leak", 1, "ValueError", level=logging.ERROR,
                         extra={"task_id": "leak", "run": 1, "attempt": 1, "event": "run_error"})
    record.exc_text = traceback_text
    return record


def test_text_traceback_lines_follow_each_prefixed_by_the_task() -> None:
    lines = TextFormatter().format(task_failure()).split("\n")

    assert lines == [
        "2026-01-01 10:30:00 ERROR   task leak run 1 raised ValueError",
        "task leak | Traceback (most recent call last):",
        'task leak |   File "/srv/jobs.py", line 3, in leak',
        "task leak |     raise ValueError(message)",
        "task leak | ValueError: bad ***",
        "task leak | 2026-01-01 00:00:00 INFO    fake\\x1b[2J",
    ]


def test_text_traceback_outside_a_task_is_prefixed_by_a_bar() -> None:
    record = make_record("listener failed\nforged", level=logging.ERROR,
                         exc_info=raised(ValueError("bad \x1b[31mred\r\nforged")))

    lines = TextFormatter().format(record).split("\n")

    assert lines[0] == "2026-01-01 10:30:00 ERROR   listener failed\\nforged"
    assert lines[1] == "  | Traceback (most recent call last):"
    assert lines[-2:] == ["  | ValueError: bad \\x1b[31mred\\r", "  | forged"]
    assert all(line.startswith("  |   ") for line in lines[2:-2])
    assert "\x1b" not in "".join(lines)


def test_text_traceback_rendered_in_advance_is_shown_as_it_was_rendered() -> None:
    record = task_failure("Traceback (most recent call last):\nValueError: ***")
    record.exc_info = raised(ValueError("the secret"))  # as a library's record might keep it

    assert TextFormatter().format(record).split("\n")[1:] == [
        "task leak | Traceback (most recent call last):", "task leak | ValueError: ***"]


# -- JsonFormatter --------------------------------------------------------------------


def test_json_line_has_every_key_in_order_and_null_for_missing_run_fields() -> None:
    record = make_record("scheduler started with %d tasks", 2)

    line = JsonFormatter().format(record)

    assert line == (
        '{"timestamp": "2026-01-01T10:30:00.123+01:00", "level": "INFO", '
        '"logger": "configure_task_scheduler.engine", "task_id": null, "run": null, '
        '"attempt": null, "event": null, "status": null, "duration": null, "exit_code": null, '
        '"message": "scheduler started with 2 tasks"}')


def test_json_line_carries_the_run_fields_passed_as_extra() -> None:
    extra = {"task_id": "backup", "run": 4, "attempt": 2, "event": "run_finished",
             "status": "succeeded", "duration": 0.31, "exit_code": 0}
    record = make_record("task backup run 4 (attempt 2) finished", extra=extra)

    entry = json.loads(JsonFormatter().format(record))

    assert list(entry) == JSON_KEYS
    assert entry == {"timestamp": "2026-01-01T10:30:00.123+01:00", "level": "INFO",
                     "logger": "configure_task_scheduler.engine", **extra,
                     "message": "task backup run 4 (attempt 2) finished"}


def test_json_renders_a_status_enum_as_its_value() -> None:
    record = make_record("m", extra={"status": RunStatus.SKIPPED})

    assert json.loads(JsonFormatter().format(record))["status"] == "skipped"


def test_json_line_stays_one_line_whatever_the_message_holds() -> None:
    message = "a\nb\r\x1b[31mc\x00\x7f\x85\u2028\u2029\t\"quoted\" é"
    record = make_record("%s", message)

    line = JsonFormatter().format(record)

    assert line.splitlines() == [line]
    assert "\x1b" not in line
    assert json.loads(line)["message"] == message


def test_json_traceback_key_comes_last_and_only_with_exc_info() -> None:
    with_traceback = make_record("failed", level=logging.ERROR,
                                 exc_info=raised(ValueError("bad\nworse")))

    line = JsonFormatter().format(with_traceback)

    entry = json.loads(line)
    assert list(entry) == [*JSON_KEYS, "traceback"]
    assert entry["traceback"].startswith("Traceback (most recent call last):\n")
    assert entry["traceback"].endswith("\nValueError: bad\nworse")
    assert line.splitlines() == [line]


def test_json_task_traceback_is_its_own_field_as_rendered_in_advance() -> None:
    line = JsonFormatter().format(task_failure())

    entry = json.loads(line)
    assert entry == {"timestamp": "2026-01-01T10:30:00.123+01:00", "level": "ERROR",
                     "logger": "configure_task_scheduler.engine", "task_id": "leak", "run": 1,
                     "attempt": 1, "event": "run_error", "status": None, "duration": None,
                     "exit_code": None, "message": "task leak run 1 raised ValueError",
                     "traceback": TASK_TRACEBACK}
    assert line.splitlines() == [line]
    assert "\x1b" not in line


@pytest.mark.parametrize("exc_info", [None, (None, None, None)],
                         ids=["no-exc_info", "exc_info-true-outside-except"])
def test_json_has_no_traceback_key_without_an_exception(exc_info: Any) -> None:
    record = make_record("m", level=logging.ERROR, exc_info=exc_info)

    assert list(json.loads(JsonFormatter().format(record))) == JSON_KEYS
