"""A task's environment fields: `env` (with "${NAME}" expansion), its secrets, `shell`, `cwd`.

`env` values may take variables from the scheduler's environment: "${NAME}",
"${NAME:-default}" (the default when NAME is unset or empty), and "$$" for a
literal "$"; any other "$" is a problem naming the variable (`env.NAME`). A
value taken from the scheduler's environment is a secret, and so is the value
of a key named like one (TOKEN, SECRET, PASSWORD, PASSWD, KEY, CREDENTIAL);
literal values are not. Problems never echo a resolved value. Never runs anything.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..task import BASE_ENVIRONMENT_NAMES
from . import checks
from .checks import FieldReader

# "$$", "${NAME}" or "${NAME:-default}"; the default is literal text without "$" or "}".
_EXPANSION = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^${}]*))?\})")
# What a rejected "$..." looks like in a message: "${...}" up to its "}", or "$" and a word.
_FRAGMENT = re.compile(r"\$\{[^}]{0,30}\}?|\$\w{0,30}|\$.?")
_SECRET_KEY = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL", re.IGNORECASE)
_SYNTAX_HELP = 'write ${NAME}, ${NAME:-default}, or $$ for a literal "$"'


@dataclass(slots=True)
class _Expansion:
    """One env value expanded: the text, the variables it took, or what is wrong."""

    text: str = ""
    taken: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def read_environment(reader: FieldReader, task_type: str | None,
                     entry_point: Any) -> dict[str, Any]:
    """Read `env`, `inherit_environment`, `shell` and `cwd` into `Task` fields."""
    fields: dict[str, Any] = {}
    if "env" in reader.values:
        fields.update(_read_env(reader, reader.values["env"], os.environ))
    for name in ("inherit_environment", "shell", "cwd"):
        if name in reader.values and _applies(reader, name, task_type, entry_point):
            fields[name] = _READERS[name](reader)
    return {name: value for name, value in fields.items() if value is not None}


def _applies(reader: FieldReader, name: str, task_type: str | None, entry_point: Any) -> bool:
    """A shell-only field on a task it does not concern: a problem if set on the task
    itself; skipped if it came from defaults (defaults apply where they make sense)."""
    if task_type == "python":
        reason = f"only shell tasks take {name}; this is a python task"
    elif name == "shell" and isinstance(entry_point, (list, tuple)):
        reason = "only a command string runs through a shell; this entry_point is a list"
    else:
        return True
    if not reader.origin(name):
        reader.problem(name, reason)
    return False


def _read_env(reader: FieldReader, env: Any, scheduler_env: Mapping[str, str]) -> dict[str, Any]:
    """Check and expand `env` without ever echoing a resolved value: it may be a secret."""
    if not isinstance(env, dict):
        reader.problem("env", f"expected an object of strings, found {checks.kind_of(env)}")
        return {}
    resolved: dict[str, str] = {}
    secret_names: set[str] = set()
    secret_values: set[str] = set()
    for name, value in env.items():
        if not name or "=" in name or "\0" in name:  # no program could read these back
            reader.problem("env", f'{json.dumps(name)}: a variable name cannot be empty or '
                           'contain "=" or a NUL character')
            continue
        expansion = _check_value(value, scheduler_env, show=not _SECRET_KEY.search(name))
        for problem in expansion.problems:
            reader.problem(f"env.{name}", problem)
        if expansion.problems:
            continue
        resolved[name] = expansion.text
        taken = expansion.taken - set(BASE_ENVIRONMENT_NAMES)
        secret_names |= taken
        secret_values |= {scheduler_env[taken_name] for taken_name in taken}
        if taken or _SECRET_KEY.search(name):
            secret_values.add(expansion.text)
    return {"env": MappingProxyType(resolved), "secret_names": frozenset(secret_names),
            "secret_values": frozenset(value for value in secret_values if value)}


def _check_value(value: Any, scheduler_env: Mapping[str, str], show: bool) -> _Expansion:
    if not isinstance(value, str):
        return _Expansion(problems=[f"expected a string, found {checks.kind_of(value)}"])
    if "\0" in value:
        return _Expansion(problems=["a value cannot contain a NUL character"])
    return expand(value, scheduler_env, show)


def expand(value: str, scheduler_env: Mapping[str, str], show: bool = True) -> _Expansion:
    """Expand "$$", "${NAME}" and "${NAME:-default}" in `value`.

    Args:
        value: the text as written in the config.
        scheduler_env: where "${NAME}" is looked up.
        show: quote a rejected "$..." in the problem; False for a secret-named
            key's literal value, which is only located ("at character 3").

    Returns:
        The text and the variables it took from `scheduler_env` (a default
        used instead is not taken), or the problems: each unset variable, or
        the first "$" that is none of these.
    """
    result, pieces, position = _Expansion(), [], 0
    while (dollar := value.find("$", position)) != -1:
        pieces.append(value[position:dollar])
        match = _EXPANSION.match(value, dollar)
        if match is None:
            fragment = _FRAGMENT.match(value, dollar)
            shown = json.dumps(fragment[0] if fragment else "$") if show \
                else f'"$" at character {dollar + 1}'
            result.problems.append(f"{shown} is not supported: {_SYNTAX_HELP}")
            return result
        escape, name, default = match.groups()
        if escape:
            pieces.append("$")
        elif scheduler_env.get(name) or (name in scheduler_env and default is None):
            pieces.append(scheduler_env[name])
            result.taken.add(name)
        elif default is not None:  # like sh: unset or empty takes the default
            pieces.append(default)
        else:
            result.problems.append(f"${{{name}}} is not set in the environment the scheduler "
                                   f"was started with (a fallback: ${{{name}:-default}})")
        position = match.end()
    pieces.append(value[position:])
    result.text = "".join(pieces)
    return result


def _read_inherit_environment(reader: FieldReader) -> bool | None:
    inherit: bool | None = reader.read("inherit_environment", checks.BOOLEAN_OR_NULL, None)
    return inherit


def _read_shell(reader: FieldReader) -> str | None:
    shell: str | None = reader.read("shell", checks.STRING)
    if shell is None:
        return None
    path = Path(shell)
    why = ("" if path.is_absolute() and path.is_file() and os.access(path, os.X_OK)
           else "not an absolute path" if not path.is_absolute()
           else "a directory" if path.is_dir()
           else "no such file" if not path.exists()
           else "not executable" if path.is_file() else "not a regular file")
    if why:
        reader.problem("shell", f"expected the absolute path of an executable file, found "
                       f"{json.dumps(shell)} ({why}){reader.origin('shell')}")
        return None
    return shell


def _read_cwd(reader: FieldReader) -> str | None:
    cwd = reader.read("cwd", checks.STRING)
    if cwd is None:
        return None
    # A relative cwd is relative to the config file, wherever the scheduler runs.
    base = Path(reader.file).resolve().parent if reader.file else Path.cwd()
    path = base / Path(cwd).expanduser()
    if not path.is_dir():
        reader.problem("cwd", f'no such directory "{cwd}"' +
                       (f" (resolved to {path})" if str(path) != cwd else ""))
        return None
    return str(path)


_READERS = {"inherit_environment": _read_inherit_environment, "shell": _read_shell,
            "cwd": _read_cwd}
