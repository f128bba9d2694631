"""The config file itself: a path in, a parsed document (JSON or TOML) out.

The first step of the loader. It refuses anything but a regular file before
opening it (a FIFO would block the open, a device could be read without end),
opens with O_NONBLOCK so a file swapped for a FIFO in between cannot block
either, reads at most `MAX_CONFIG_BYTES`, accepts a UTF-8 byte-order mark and
parses the text. Every failure is one `Problem` in a `ConfigError`; it never
looks at what the document means (that is the loader's job).
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

from ..errors import ConfigError, Problem

# Far above any real config (50,000 tasks take about 5 MiB), far below what
# would exhaust a small machine's memory once parsed.
MAX_CONFIG_BYTES = 64 * 1024 * 1024
UTF8_BOM = b"\xef\xbb\xbf"  # editors on Windows start UTF-8 files with it

_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_text(file: str) -> str:
    """Return the file's text, or raise a one-problem `ConfigError` saying why not.

    Raises:
        ConfigError: missing, not a regular file, unreadable, too large or not UTF-8.
    """
    try:
        data = _read_bytes(file)
        if data.startswith(UTF8_BOM):
            return data[len(UTF8_BOM):].decode("utf-8")
        return data.decode("utf-8")
    except FileNotFoundError:
        reason = "no such file (give another one with --config PATH)"
    except UnicodeDecodeError as error:
        skipped = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
        reason = f"not UTF-8 text (byte {error.start + skipped})"
    except _Refused as refusal:
        reason = str(refusal)
    except OSError as error:
        reason = f"cannot read: {error.strerror}"
    raise ConfigError([Problem(file, "", "", reason)])


class _Refused(Exception):
    """The file is not something a config can be read from; the message says why."""


def _read_bytes(file: str) -> bytes:
    _refuse_unless_regular(os.stat(file))  # before open(): opening a FIFO blocks
    descriptor = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb") as stream:
        _refuse_unless_regular(os.fstat(descriptor))  # replaced since the stat above?
        data = stream.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:  # it grew since fstat
        raise _Refused(_TOO_LARGE)
    return data


_TOO_LARGE = f"larger than {MAX_CONFIG_BYTES // 2**20} MiB, the most a config file may hold"


def _refuse_unless_regular(status: os.stat_result) -> None:
    if stat.S_ISREG(status.st_mode):
        if status.st_size > MAX_CONFIG_BYTES:
            raise _Refused(_TOO_LARGE)
        return
    kind = next((name for test, name in _FILE_KINDS if test(status.st_mode)), "not a file")
    raise _Refused(f"is {kind}, expected a config file")


def parse_document(text: str, file: str) -> Any:
    """Parse JSON, or TOML for a `.toml` file; a syntax error names line and column."""
    if file.endswith(".toml"):
        return _parse_toml(text, file)
    try:
        return json.loads(text, object_pairs_hook=_reject_repeated_keys)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise ConfigError([Problem(file, where, "", f"invalid JSON: {error.msg}")]) from None
    except (ValueError, RecursionError) as error:  # a repeated key, a 5000-digit int, deep nesting
        raise ConfigError([Problem(file, "", "", f"invalid JSON: {error}")]) from None


def _reject_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of two equal keys silently; TOML rejects them, and so do we.
    document = dict(pairs)
    if len(document) < len(pairs):
        keys = [key for key, _ in pairs]
        repeated = next(key for key in keys if keys.count(key) > 1)
        raise ValueError(f"key {json.dumps(repeated)} appears twice in one object")
    return document


def _parse_toml(text: str, file: str) -> Any:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        reason = "TOML configs need Python 3.11 or later (tomllib); use JSON here"
        raise ConfigError([Problem(file, "", "", reason)]) from None
    try:
        return tomllib.loads(text)
    except (ValueError, RecursionError) as error:  # TOMLDecodeError is a ValueError
        raise ConfigError([Problem(file, "", "", f"invalid TOML: {error}")]) from None
