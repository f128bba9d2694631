"""Log formats for the command line; the library never uses it on its own.

`cli.configure_logging` puts one of these formatters on its stderr handler:
`TextFormatter` for people (one line per event, control characters escaped so
a task's output cannot forge log lines or drive the terminal; a traceback
follows on prefixed lines), `MessageFormatter` for the errors the CLI prints
before anything runs, and
`JsonFormatter` for log collectors (one JSON object per line, with the run
fields the engine passes as `extra=`). Nothing here configures logging.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"
TEXT_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
# The `extra=` fields of run-related log calls, in the order JSON lines show them.
RUN_FIELDS = ("task_id", "run", "attempt", "event", "status", "duration", "exit_code")


def _escape_table() -> dict[int, str]:
    """Map every character that could break or forge a log line to a visible escape."""
    # C0 controls, DEL and C1 controls (NEL U+0085 ends a line for some readers,
    # CSI U+009B starts a terminal sequence for others); tab is harmless.
    controls = [*range(0x00, 0x20), *range(0x7F, 0xA0)]
    table = {code: f"\\x{code:02x}" for code in controls if code != 0x09}
    table.update({0x0A: "\\n", 0x0D: "\\r"})
    # Unicode line and paragraph separators: str.splitlines() and editors break on them.
    table.update({0x2028: "\\u2028", 0x2029: "\\u2029"})
    return table


_ESCAPES = _escape_table()


def escape_control(text: str) -> str:
    """Return `text` with line breaks and control characters made visible.

    "\\n" becomes the two characters backslash-n, "\\r" backslash-r, ESC (which
    starts ANSI terminal sequences) "\\x1b", every other C0 or C1 control and
    DEL "\\xNN", and U+2028/U+2029 "\\u2028"/"\\u2029". Tab is kept.

    Args:
        text: any text, e.g. a line a task printed.

    Returns:
        The text, guaranteed to be one line with no terminal control characters.
    """
    return text.translate(_ESCAPES)


# Starts each continuation line (a traceback's) of a record with no task_id; a
# record's first line always starts with its date, so neither can pass for one.
CONTINUATION_PREFIX = "  | "


def traceback_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    """Return the record's traceback, or None if it has none.

    A traceback rendered in advance (`exc_text`: the executor's, with the task's
    secrets hidden) wins over `exc_info`, as with logging's own formatters.
    """
    if record.exc_text:
        return record.exc_text
    if record.exc_info and record.exc_info[0] is not None:  # not exc_info=True outside except
        return formatter.formatException(record.exc_info)
    return None


def continuation_prefix(record: logging.LogRecord) -> str:
    """Return "task ID | " for a record about a task, else `CONTINUATION_PREFIX`."""
    task_id = getattr(record, "task_id", None)
    return f"task {escape_control(str(task_id))} | " if task_id else CONTINUATION_PREFIX


class TextFormatter(logging.Formatter):
    """`2026-01-01 09:30:00 INFO    message`, with the message on one escaped line.

    A traceback (or stack) follows on lines of its own, each escaped and
    prefixed by "task ID | " (a task's record) or `CONTINUATION_PREFIX`: a task
    whose exception message holds a newline and a date cannot forge a record.
    """

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT, TEXT_DATE_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """Return the record's line, then its traceback's lines, prefixed."""
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        lines = [self.formatMessage(record)]
        prefix = continuation_prefix(record)
        for text in (traceback_text(self, record), record.stack_info):
            if text:
                lines += [prefix + escape_control(line) for line in text.split("\n")]
        return "\n".join(lines)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        """Return the record's line (time, level, message) with control characters escaped."""
        return escape_control(super().formatMessage(record))


class MessageFormatter(logging.Formatter):
    """The message alone, escaped to one line: for errors the user reads before anything runs."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        """Return the record's message with control characters escaped."""
        return escape_control(record.getMessage())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, the run fields, message.

    Keys, always in this order: timestamp (local time, ISO 8601 with
    milliseconds and UTC offset), level, logger, task_id, run, attempt, event,
    status, duration, exit_code, message; a run field the record lacks is null.
    A "traceback" key (a string: see `traceback_text`) follows only when the
    record has one.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON."""
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created).astimezone()
                                 .isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            **{name: getattr(record, name, None) for name in RUN_FIELDS},
            "message": record.getMessage(),
        }
        trace = traceback_text(self, record)
        if trace is not None:
            entry["traceback"] = trace
        line = json.dumps(entry, ensure_ascii=False, default=str)
        # json.dumps escapes C0 controls only; these end a line for some readers too.
        return line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") \
                   .replace("\x85", "\\u0085")
