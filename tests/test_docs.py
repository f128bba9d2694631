"""The docs cannot rot: every code name and file they mention exists, excerpts match the code,
and runnable examples print what the docs show.

In `docs/*.md` (and the hints of `docs/exercises.md`, whose exercise
statements name what a solution adds):

- a backticked dotted name (`module.function`, `module.Class.method`,
  `Class.attribute`, `sched.scheduler`) must resolve by import and getattr
  (or, for an instance attribute like `Engine._lock`, be set on `self` in
  the class's code):
  its first part is a module of the package (by its last name: `planning`,
  `engine.event_queue`), a name defined in one, or a standard module;
- a backticked path (`engine/planning.py`, `config/tasks.json`) must exist
  in the repository or the package;
- a fenced block after `<!-- excerpt: NAME -->` must appear, line by line
  (indentation aside; a `...` line skips code), in the source of NAME;
- a ```python block after `<!-- runnable -->` is executed, and what it
  prints must equal the fenced block that follows it.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import inspect
import io
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import configure_task_scheduler

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_ROOT = REPO_ROOT / "configure_task_scheduler"
DOCS = sorted((REPO_ROOT / "docs").glob("*.md"))
DOTTED = re.compile(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\(\))?`")
PATH = re.compile(r"`([\w./-]+\.(?:py|md|json|toml))`")
EXCERPT = re.compile(r"<!-- excerpt: ([\w.]+) -->\n```\w*\n(.*?)\n```", re.DOTALL)
RUNNABLE = re.compile(r"<!-- runnable -->\n```python\n(.*?)\n```\n+```\w*\n(.*?)\n```", re.DOTALL)


def package_modules() -> dict[str, ModuleType]:
    """Every module of the package, imported, by its full name."""
    modules = {configure_task_scheduler.__name__: configure_task_scheduler}
    for info in pkgutil.walk_packages(configure_task_scheduler.__path__,
                                      f"{configure_task_scheduler.__name__}."):
        if not info.name.endswith("__main__"):
            modules[info.name] = importlib.import_module(info.name)
    return modules


MODULES = package_modules()


def checked_text(doc: Path) -> str:
    """The text of a doc whose names must exist (for the exercises: their hints only)."""
    text = doc.read_text()
    if doc.name != "exercises.md":
        return text
    return "\n".join(re.findall(r"^- Hint: .*?(?=^- |^#|\Z)", text, flags=re.M | re.S))


def starts(first: str) -> list[Any]:
    """What the first part of a dotted name can be: modules, names defined in one, stdlib."""
    found: list[Any] = [module for name, module in MODULES.items()
                        if name.endswith(f".{first}") or name == first]
    found += [getattr(module, first) for module in MODULES.values() if hasattr(module, first)]
    with contextlib.suppress(ImportError):
        found.append(importlib.import_module(first))
    if hasattr(builtins, first):  # `list.remove`, `object.__setattr__`
        found.append(getattr(builtins, first))
    return found


def resolve(dotted: str) -> Any:
    """The object a dotted name stands for, or None."""
    first, *rest = dotted.split(".")
    for start in starts(first):
        target: Any = start
        for part in rest:
            owner, target = target, getattr(target, part, None)
            if target is None and inspect.isclass(owner) and assigned_on_self(owner, part):
                target = f"{owner.__name__}.{part}"  # an instance attribute (`Engine._lock`)
            if target is None and isinstance(start, ModuleType):
                with contextlib.suppress(ImportError):
                    target = importlib.import_module(f"{start.__name__}.{part}")
            if target is None:
                break
        if target is not None:
            return target
    return None


def assigned_on_self(cls: type, name: str) -> bool:
    """Does the class (or a base of the package) set `self.name` in its code?"""
    for klass in cls.__mro__:
        if klass.__module__.startswith(configure_task_scheduler.__name__) and re.search(
                rf"\bself\.{re.escape(name)}\b[^=\n]*=", inspect.getsource(klass)):
            return True
    return False


def names_in(doc: Path) -> list[str]:
    """The dotted names a doc mentions in backticks (file names aside: see PATH)."""
    return sorted(name for name in set(DOTTED.findall(checked_text(doc)))
                  if not PATH.fullmatch(f"`{name}`"))


def path_exists(path: str) -> bool:
    return any((root / path).exists() for root in (REPO_ROOT, PACKAGE_ROOT, REPO_ROOT / "docs"))


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_every_dotted_name_in_the_doc_exists_in_the_code(doc: Path) -> None:
    assert [name for name in names_in(doc) if resolve(name) is None] == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_every_file_the_doc_names_exists(doc: Path) -> None:
    paths = sorted(set(PATH.findall(checked_text(doc))))

    assert [path for path in paths if not path_exists(path)] == []


def excerpt_lines(excerpt: str) -> list[str]:
    return [line.strip() for line in excerpt.splitlines() if line.strip()]


def appears_in(excerpt: list[str], source: list[str]) -> bool:
    """Do the excerpt's lines appear in order in the source (`...` skips lines, others follow
    each other)?"""
    position = 0
    gap = False
    for line in excerpt:
        if line == "...":
            gap = True
            continue
        try:
            found = source.index(line, position)
        except ValueError:
            return False
        if position and not gap and found != position:
            return False
        position, gap = found + 1, False
    return True


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_every_excerpt_is_quoted_from_the_code_it_names(doc: Path) -> None:
    stale = []
    for name, excerpt in EXCERPT.findall(doc.read_text()):
        target = resolve(name)
        source = excerpt_lines(inspect.getsource(target)) if target is not None else []
        if not appears_in(excerpt_lines(excerpt), source):
            stale.append(name)
    assert stale == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_every_runnable_example_prints_what_the_doc_shows(
        doc: Path, utc_local_time: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)  # examples name files as from the repository's root
    for code, shown in RUNNABLE.findall(doc.read_text()):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, str(doc), "exec"), {"__name__": "__doc_example__"})
        assert printed.getvalue().rstrip("\n") == shown


def test_the_checks_catch_a_missing_name_a_stale_excerpt_and_a_missing_file() -> None:
    assert resolve("planning.next_slot") is not None
    assert resolve("engine.Engine._on_due") is not None
    assert resolve("planning.next_slot_renamed") is None
    assert resolve("EventQueue.run_due") is not None
    assert resolve("Engine._lock") is not None
    assert resolve("Engine._no_such_lock") is None
    assert not path_exists("engine/no_such_module.py")
    source = excerpt_lines(inspect.getsource(resolve("policies.misfire_reason")))
    assert appears_in(["grace = task.misfire_grace_seconds", "...", 'return ""'], source)
    assert not appears_in(["grace = task.misfire_grace_seconds", 'return ""'], source)
