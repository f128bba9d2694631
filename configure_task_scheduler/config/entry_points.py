"""Python entry points: from "package.module:function" to the function itself.

The loader imports each Python task's function once, when the config is
loaded, looking in the config file's directory, the current directory and
installed packages; the directories are put on `sys.path` only for the
import. The library API can also hand over a function object directly.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_NOT_IN_ID = re.compile(r"[^A-Za-z0-9_.-]")


def import_entry_point(entry_point: str) -> Callable[..., Any]:
    """Import "package.module:function" (or "package.module.function").

    Raises:
        ImportError: with a one-line message naming the module or attribute that failed.
    """
    module_name, _, attribute_path = entry_point.rpartition(":")
    if not module_name:
        module_name, _, attribute_path = entry_point.rpartition(".")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as error:  # any exception from the module's own top-level code
        raise ImportError(f'cannot import module "{module_name}": '
                          f"{type(error).__name__}: {error}") from None
    for attribute in attribute_path.split("."):
        if not hasattr(target, attribute):
            raise ImportError(f'module "{module_name}" has no attribute "{attribute_path}"')
        target = getattr(target, attribute)
    if not callable(target):
        raise ImportError(f'"{entry_point}" is not callable')
    return target  # type: ignore[no-any-return]


@contextmanager
def import_path(directories: list[str]) -> Iterator[None]:
    """Let entry points be imported from these directories, without leaving them on sys.path."""
    added = [d for d in dict.fromkeys(directories) if d not in sys.path]
    sys.path[:0] = added
    # A module written since the last import may be hidden by the finders' directory caches.
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for directory in added:
            if directory in sys.path:
                sys.path.remove(directory)


def describe_callable(target: Callable[..., Any]) -> str:
    """Name a function as an entry point: "package.module:function".

    Interned: 100,000 tasks of one function share one string.
    """
    module = getattr(target, "__module__", None) or "?"
    return sys.intern(f"{module}:{getattr(target, '__qualname__', repr(target))}")


def default_task_id(target: Callable[..., Any]) -> str:
    """A function's qualified name, made a valid task id ("main.<locals>.job" -> "main.locals.job")."""
    name = str(getattr(target, "__qualname__", None) or getattr(target, "__name__", "task"))
    return _NOT_IN_ID.sub("", name)[:64] or "task"
