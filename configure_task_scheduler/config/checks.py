"""Field checks: the types and ranges a config value must have, as one-line help.

The loader reads every object of a config through a `FieldReader`, which
merges defaults, drops `_comment` keys, flags unknown keys with the closest
known one, and turns each failed check into a `Problem` that says what was
expected and what was found. A check is a function that returns None when a
value is fine, or the text of what was expected ("a number > 0"). A check
never coerces a value and never imports or runs anything.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Collection
from typing import Any

from ..errors import Problem

Check = Callable[[Any], "str | None"]

_MISSING: Any = object()
_TASK_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ENTRY_POINT = re.compile(r"[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*|\.[A-Za-z_]\w*)")


def describe_value(value: Any) -> str:
    """Describe a found value for a message: '"10" (a string)', 'true (a boolean)'."""
    if value is None:
        return "null"
    text = json.dumps(value, default=str)
    if len(text) > 40:
        text = text[:37] + "..."
    if isinstance(value, bool):
        return f"{text} (a boolean)"
    if isinstance(value, str):
        return f"{text} (a string)"
    if isinstance(value, (int, float)):
        return text
    kind = "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else \
        f"a {type(value).__name__}"
    return f"{text} ({kind})"


def kind_of(value: Any) -> str:
    """Name a value's JSON type without showing it (for secrets): "a number", "a list"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object" \
        if isinstance(value, dict) else f"a {type(value).__name__}"


def task_place(position: int, task_id: Any) -> str:
    """Name a task in a message: 'task #3 "backup"', or 'task #3' without a usable id.

    Position 0 means the task came from the library API: 'task "backup"'.
    """
    number = f" #{position}" if position else ""
    if isinstance(task_id, str) and _TASK_ID.fullmatch(task_id):  # JSON quoting adds nothing
        return f'task{number} "{task_id}"'
    if isinstance(task_id, str) and task_id:
        return f"task{number} {json.dumps(task_id)}"
    return f"task{number}"


def unknown_keys(mapping: dict[str, Any], known: Collection[str], file: str,
                 where: str) -> list[Problem]:
    """Return a problem for each key that is neither known nor a `_comment`."""
    problems = []
    for key in mapping:
        if key in known or key.startswith("_"):
            continue
        names = list(known)
        close = closest_key(key, names)
        hint = f'did you mean "{close}"?' if close else f"known keys: {', '.join(names)}"
        problems.append(Problem(file, where, json.dumps(key), f"unknown key, {hint}"))
    return problems


def closest_key(key: str, known: list[str]) -> str | None:
    """Return the known key the user most likely meant, or None.

    A key that is the start of exactly one known key wins ("timeout" ->
    "timeout_seconds"); otherwise the closest spelling, if close enough.
    """
    extended = [name for name in known if name.startswith(key)]
    if len(extended) == 1:
        return extended[0]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return close[0] if close else None


class FieldReader:
    """Reads the fields of one config object, collecting a problem per bad value.

    Args:
        entry: the object as parsed.
        file, where: where it is, for messages.
        known: the field names allowed in it.
        defaults: values for fields the entry does not set.
    """

    def __init__(self, entry: Any, file: str, where: str, known: Collection[str],
                 defaults: dict[str, Any] | None = None) -> None:
        self.file, self.where = file, where
        self.problems: list[Problem] = []
        self.values: dict[str, Any] = {}
        self._from_defaults: set[str] = set()
        self.ok = isinstance(entry, dict)
        if not self.ok:
            self.problem("", f"expected an object, found {describe_value(entry)}")
            return
        if _all_known(entry, known):  # the common case: no unknown key, no `_comment`
            own = dict(entry)
        else:
            self.problems = unknown_keys(entry, known, file, where)
            own = {key: value for key, value in entry.items() if not key.startswith("_")}
        if defaults:
            self._from_defaults = set(defaults) - set(own)
            own = {**defaults, **own}
        self.values = own

    def read(self, name: str, check: Check, default: Any = _MISSING) -> Any:
        """Return the field's value if it passes `check`, else record a problem.

        Returns:
            The value; `default` if the field is absent; None if it is invalid
            (or absent with no default: then it is reported as missing).
        """
        if name not in self.values:
            if default is _MISSING:
                self.problem(name, f"missing: expected {check(_MISSING)}")
                return None
            return default
        value = self.values[name]
        expected = check(value)
        if expected is None:
            return value
        self.problem(name, f"expected {expected}, found {describe_value(value)}{self.origin(name)}")
        return None

    def origin(self, name: str) -> str:
        """Return " (set in defaults)" if the field's value came from defaults, else ""."""
        return " (set in defaults)" if name in self._from_defaults else ""

    def problem(self, field: str, message: str) -> None:
        """Record a problem with `field` ("" for the whole object)."""
        self.problems.append(Problem(self.file, self.where, field, message))


def _all_known(entry: dict[str, Any], known: Collection[str]) -> bool:
    """True if every key of `entry` is a known field (none of which starts with "_")."""
    if isinstance(known, dict):
        return entry.keys() <= known.keys()
    return all(key in known for key in entry)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # a JSON integer too big for a float: 1 followed by 400 zeros
        return False


def number_in_range(low: float, high: float, *, above_low: bool = False,
                    null: bool = False, note: str = "") -> Check:
    """A finite number from `low` (excluded if `above_low`) to `high`; or null if `null`.

    Every number in a config has a stated range: a huge one would overflow a
    date or a timer far from where it was written.
    """
    low_text, high_text = _plain(low), _plain(high)
    bounds = f"> {low_text} and <= {high_text}" if above_low else f"from {low_text} to {high_text}"
    expected = f"a number {bounds}{note}" + (", or null" if null else "")

    def check(value: Any) -> str | None:
        if value is None and null:
            return None
        if _is_number(value) and (value > low if above_low else value >= low) and value <= high:
            return None
        return expected
    return check


def _plain(number: float) -> str:
    """315360000, not 3.1536e+08: a bound the user can copy into the config."""
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def integer_in_range(low: int, high: int) -> Check:
    """A whole number from `low` to `high` (1.0 and true are not)."""
    expected = f"an integer from {low} to {high}"
    return lambda value: None if isinstance(value, int) and not isinstance(value, bool) \
        and low <= value <= high else expected


def one_of(*choices: str) -> Check:
    """Exactly one of these strings."""
    expected = " or ".join(json.dumps(choice) for choice in choices)
    return lambda value: None if isinstance(value, str) and value in choices else expected


def _task_id(value: Any) -> str | None:
    if isinstance(value, str) and _TASK_ID.fullmatch(value):
        return None
    return 'a string of 1-64 letters, digits, "_", "-" or "."'


def _task_id_or_null(value: Any) -> str | None:
    if value is None or isinstance(value, str) and _TASK_ID.fullmatch(value):
        return None
    return 'the id of another task (1-64 letters, digits, "_", "-" or "."), or null'


def _python_entry_point(value: Any) -> str | None:
    if isinstance(value, str) and _ENTRY_POINT.fullmatch(value):
        return None
    if callable(value):  # handed over by the library API
        return None
    return '"package.module:function" or "package.module.function"'


def _shell_command(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return None
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return None
    return "a command string or a non-empty list of strings"


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else "a string"


def _non_empty_string(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "a non-empty string"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _boolean_or_null(value: Any) -> str | None:
    return None if value is None or isinstance(value, bool) else "true, false or null"


def _list(value: Any) -> str | None:
    return None if isinstance(value, list) else "a list"


def _list_or_tuple(value: Any) -> str | None:
    # A tuple can only come from the library API: `every(60, job, args=(1, 2))`.
    return None if isinstance(value, (list, tuple)) else "a list"


def _object(value: Any) -> str | None:
    return None if isinstance(value, dict) else "an object"


def _anything(value: Any) -> str | None:
    return None if value is not _MISSING else "a value"


# Ports below 1024 need root on most systems: a scheduler should never run as root.
_HTTP_ADDRESS = re.compile(r"(?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):)?([0-9]{1,5})")
HTTP_ADDRESS_EXPECTED = '"[HOST:]PORT" with PORT 0 (any free port) or 1024-65535'


def parse_http_address(text: str) -> tuple[str, int] | None:
    """Split "[HOST:]PORT" into (host, port); None if it is not one.

    The host defaults to 127.0.0.1 (only this machine); an IPv6 host is
    written in brackets ("[::1]:8080"). Privileged ports (1-1023) are refused.
    Whether the host exists is only known when the server binds.
    """
    match = _HTTP_ADDRESS.fullmatch(text)
    if match is None:
        return None
    port = int(match[2])
    if 0 < port < 1024 or port > 65535:
        return None
    return (match[1] or "127.0.0.1").strip("[]"), port


def _http_address(value: Any) -> str | None:
    return None if isinstance(value, str) and parse_http_address(value) is not None \
        else HTTP_ADDRESS_EXPECTED


TASK_ID: Check = _task_id
TASK_ID_OR_NULL: Check = _task_id_or_null
PYTHON_ENTRY_POINT: Check = _python_entry_point
SHELL_COMMAND: Check = _shell_command
STRING: Check = _string
NON_EMPTY_STRING: Check = _non_empty_string
BOOLEAN: Check = _boolean
LIST: Check = _list
LIST_OR_TUPLE: Check = _list_or_tuple
BOOLEAN_OR_NULL: Check = _boolean_or_null
OBJECT: Check = _object
ANYTHING: Check = _anything
HTTP_ADDRESS: Check = _http_address
TASK_TYPE: Check = one_of("python", "shell")

# The stated ranges (README, Config reference). Ten years is longer than any
# schedule or wait a machine keeps running for, and far from datetime's year 9999.
MAX_SECONDS = 315_360_000
_TEN_YEARS = " (10 years)"
POSITIVE_SECONDS: Check = number_in_range(0, MAX_SECONDS, above_low=True, note=_TEN_YEARS)
POSITIVE_SECONDS_OR_NULL: Check = number_in_range(0, MAX_SECONDS, above_low=True, null=True,
                                                  note=_TEN_YEARS)
SECONDS: Check = number_in_range(0, MAX_SECONDS, note=_TEN_YEARS)
SECONDS_OR_NULL: Check = number_in_range(0, MAX_SECONDS, null=True, note=_TEN_YEARS)
BACKOFF: Check = number_in_range(1, 100)
MAX_INSTANCES: Check = integer_in_range(1, 10_000)
RETRIES: Check = integer_in_range(0, 10_000)
MAX_WORKERS: Check = integer_in_range(1, 1_000)
HISTORY_DAYS: Check = number_in_range(0, 36_500, above_low=True)
HISTORY_MAX_ROWS: Check = integer_in_range(1, 100_000_000)
