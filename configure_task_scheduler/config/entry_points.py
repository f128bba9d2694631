"""Python entry points: from "package.module:function" to the function itself.

The loader imports each Python task's function once, when the config is
loaded, looking in the config file's directory, the current directory and
installed packages; the directories are put on `sys.path` only for the
import. The library API can also hand over a function object directly.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import re
import sys
import types
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Any

_NOT_IN_ID = re.compile(r"[^A-Za-z0-9_.-]")
_NO_NAME: Any = object()


def import_entry_point(entry_point: str) -> Callable[..., Any]:
    """Import "package.module:function" (or "package.module.function").

    Raises:
        ImportError: with a one-line message naming the module or attribute that failed.
    """
    module_name, _, attribute_path = entry_point.rpartition(":")
    if not module_name:
        module_name, _, attribute_path = entry_point.rpartition(".")
    target: Any = _import_quietly(module_name)
    for attribute in attribute_path.split("."):
        if not hasattr(target, attribute):
            raise ImportError(f'module "{module_name}" has no attribute "{attribute_path}"')
        target = getattr(target, attribute)
    if not callable(target):
        raise ImportError(f'"{entry_point}" is not callable')
    return target  # type: ignore[no-any-return]


def _import_quietly(module_name: str) -> Any:
    """Import a module, turning anything its top-level code raises into an ImportError.

    A script with `argparse` or `sys.exit()` at module level raises SystemExit:
    a problem with the task, not the end of the scheduler. What the module
    writes to stdout or stderr meanwhile (an argparse usage line) is kept out of
    ours, and the last line it wrote to stderr goes into the message. (The
    streams are swapped process-wide for the import: a line another thread
    prints through `print` meanwhile is lost; logging handlers keep their stream.)
    """
    written = io.StringIO()
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(written):
            return importlib.import_module(module_name)
    except Exception as error:  # any exception from the module's own top-level code
        message = f'cannot import module "{module_name}": {type(error).__name__}: {error}'
    except BaseException as error:  # SystemExit, KeyboardInterrupt, ...: still the module's
        message = f'importing "{module_name}" raised {type(error).__name__}{_arguments(error)}'
    last_line = next((line for line in reversed(written.getvalue().splitlines()) if line.strip()),
                     "")
    if last_line:
        message += f"; its last line on stderr: {json.dumps(last_line[:200])}"
    raise ImportError(message) from None


def _arguments(error: BaseException) -> str:
    """'(2)' for SystemExit(2), '()' for KeyboardInterrupt(): the exception's repr args."""
    return "(" + ", ".join(repr(argument) for argument in error.args) + ")"


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


def callable_name(target: Callable[..., Any]) -> str:
    """Name a function as an entry point: "package.module:function".

    Interned: 100,000 tasks of one function share one string.
    """
    module = getattr(target, "__module__", None) or "?"
    name = getattr(target, "__qualname__", _NO_NAME)  # repr() only when needed: it can be slow
    return sys.intern(f"{module}:{repr(target) if name is _NO_NAME else name}")


def default_task_id(target: Callable[..., Any]) -> str:
    """A function's qualified name, made a valid task id ("main.<locals>.job" -> "main.locals.job")."""
    name = str(getattr(target, "__qualname__", None) or getattr(target, "__name__", "task"))
    return _NOT_IN_ID.sub("", name)[:64] or "task"


def check_arguments(target: Callable[..., Any], entry_point: str, args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> tuple[str, str] | None:
    """Bind `args` and `kwargs` to `target`'s signature, as every run will call it.

    A parameter named `context` (positional-or-keyword or keyword-only) is
    passed by the executor as `context=`, so it is bound here too.

    Returns:
        None if they bind, else (the field at fault, a one-line message).
    """
    bound = _bound_signature(target)
    if bound is None:  # a builtin without a signature: the call will tell
        return None
    if not args and not kwargs and bound.binds_empty:
        return None
    signature, passes_context = bound.signature, bound.passes_context
    named = f"{entry_point}{signature}"
    if passes_context and "context" in kwargs:
        return "kwargs", (f'"context" is passed by the scheduler (a RunContext) to {named}; '
                          "rename this argument")
    try:
        signature.bind(*args, **kwargs, **({"context": None} if passes_context else {}))
    except TypeError as error:
        return _binding_problem(signature, named, args, kwargs, passes_context, str(error))
    return None


@dataclass(frozen=True, slots=True)
class _BoundSignature:
    """A function's signature, read once: 100,000 tasks of one function share it."""

    signature: inspect.Signature
    passes_context: bool
    binds_empty: bool  # a call with no args and no kwargs binds (the common case)
    source: tuple[Any, ...]  # what the signature was read from, to notice a change


# Keyed weakly: a cached signature never keeps a function (or its closure) alive.
_SIGNATURES: weakref.WeakKeyDictionary[Any, _BoundSignature] = weakref.WeakKeyDictionary()


def _bound_signature(target: Callable[..., Any]) -> _BoundSignature | None:
    """`target`'s signature; cached for plain functions while what it is read from is unchanged."""
    plain = isinstance(target, types.FunctionType)
    # The signature of a plain function is read from these; replacing one (a
    # decorator setting __signature__ or __wrapped__, new defaults) reads it again.
    source = (target.__code__, target.__defaults__, target.__kwdefaults__,
              target.__dict__.get("__signature__"), target.__dict__.get("__wrapped__")) \
        if plain else ()
    known = _SIGNATURES.get(target) if plain else None
    if known is not None and known.source == source:
        return known
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    context = signature.parameters.get("context")
    passes_context = context is not None and context.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    try:
        signature.bind(**({"context": None} if passes_context else {}))
        binds_empty = True
    except TypeError:
        binds_empty = False
    bound = _BoundSignature(signature, passes_context, binds_empty, source)
    if plain:
        _SIGNATURES[target] = bound
    return bound


def _binding_problem(signature: inspect.Signature, named: str, args: tuple[Any, ...],
                     kwargs: dict[str, Any], passes_context: bool,
                     reason: str) -> tuple[str, str]:
    kinds = inspect.Parameter
    parameters = list(signature.parameters.values())
    if not any(p.kind is kinds.VAR_POSITIONAL for p in parameters):
        positional = [p.name for p in parameters
                      if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)]
        if passes_context and "context" in positional:  # it comes by keyword
            positional = positional[:positional.index("context")]
        if len(args) > len(positional):
            plural = "" if len(positional) == 1 else "s"
            return "args", (f"expected at most {len(positional)} positional argument{plural} "
                            f"for {named}, found {len(args)}")
    unknown = [name for name in kwargs if name not in signature.parameters
               or signature.parameters[name].kind is kinds.POSITIONAL_ONLY]
    if unknown and not any(p.kind is kinds.VAR_KEYWORD for p in parameters):
        return "kwargs", f'{named} has no parameter "{unknown[0]}" to pass by keyword'
    missing = re.search(r"missing a required argument: '(\w+)'", reason)
    if missing:
        kind = signature.parameters[missing[1]].kind
        field = "kwargs" if kind is kinds.KEYWORD_ONLY else "args"
        return field, f'no value for the parameter "{missing[1]}" of {named}'
    repeated = re.search(r"multiple values for argument '(\w+)'", reason)
    if repeated:
        return "kwargs", f'"{repeated[1]}" is given both by position (args) and by name for {named}'
    return "args", f"cannot call {named} with them: {reason}"
