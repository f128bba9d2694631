"""The file tree is the architecture: imports point one way, and this test says which.

The rules (also in the README's "Code style" section):

1. `errors` and `clock` import nothing of the package; `schedules/` imports only
   `errors`; `task` imports only `schedules`; `registry` only `task`.
2. `config/` never imports `clock`, `registry`, `engine/`, `execution/` or `addons/`.
3. `execution/` never imports `engine/`, `config/`, `registry` or `schedules/`
   (the engine satisfies `RunReporter` structurally).
4. `engine/` never imports `config/` or `addons/`.
5. `addons/` import only what a package's `__init__` exports, never another
   package's inner modules; and no core stage imports an add-on.
6. Nothing imports `cli` except `__main__` (and `main.py`, outside the package).

Imports are read with `ast`, so an import inside a function counts too.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PACKAGE = "configure_task_scheduler"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
STAGES = ("config", "schedules", "engine", "execution", "addons")
CORE = ("errors", "clock", "task", "registry", "config", "schedules", "engine", "execution")

# unit -> the units it may import (None: no "only" rule; see FORBIDDEN).
ONLY: dict[str, set[str]] = {
    "errors": set(), "clock": set(), "schedules": {"errors"},
    "task": {"schedules"}, "registry": {"task"},
}
FORBIDDEN: dict[str, set[str]] = {
    "config": {"clock", "registry", "engine", "execution", "addons"},
    "execution": {"engine", "config", "registry", "schedules"},
    "engine": {"config", "addons"},
}


def module_name(path: Path) -> str:
    """Return the dotted name of a file of the package ("configure_task_scheduler.engine.engine")."""
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> list[str]:
    """Return every module of the package that `path` imports, as absolute dotted names.

    `from pkg import name` counts as importing `pkg.name` when `name` is a module.
    """
    here = module_name(path)
    is_package = path.name == "__init__.py"
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = resolve(here, is_package, node.level, node.module)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append(candidate if is_module(candidate) else base)
    return [name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")]


def resolve(here: str, is_package: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    parts = here.split(".")
    anchor = parts if is_package else parts[:-1]
    anchor = anchor[:len(anchor) - (level - 1)]
    return ".".join(anchor + ([module] if module else []))


def is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    return (ROOT / relative).with_suffix(".py").is_file() or (ROOT / relative / "__init__.py").is_file()


def unit_of(name: str) -> str:
    """Return the stage or top-level module a dotted name belongs to ("engine", "task", ...)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def violations(importer: str, imported: str) -> list[str]:
    """Return the rules that `importer` importing `imported` breaks (both absolute dotted names)."""
    source, target = unit_of(importer), unit_of(imported)
    if source == target or target == "__init__" and imported != PACKAGE:
        return []
    broken = []
    if source in ONLY and target not in ONLY[source]:
        allowed = ", ".join(sorted(ONLY[source])) or "nothing of the package"
        broken.append(f"{importer} imports {imported}: {source} may import only {allowed}")
    if target in FORBIDDEN.get(source, set()):
        broken.append(f"{importer} imports {imported}: {source}/ never imports {target}")
    if source in CORE and target == "addons":
        broken.append(f"{importer} imports {imported}: the core never imports add-ons")
    if source == "addons" and target in STAGES and imported.count(".") > 1:
        broken.append(f"{importer} imports {imported}: add-ons use only what "
                      f"{PACKAGE}.{target} exports, not its inner modules")
    if target == "cli" and unit_of(importer) != "__main__":
        broken.append(f"{importer} imports {imported}: nothing imports cli but __main__")
    return broken


def all_imports() -> list[tuple[str, str]]:
    return [(module_name(path), imported)
            for path in sorted(ROOT.rglob("*.py")) for imported in imported_modules(path)]


def test_every_import_of_the_package_follows_the_rules() -> None:
    broken = [rule for importer, imported in all_imports() for rule in violations(importer, imported)]
    assert broken == []


def test_the_walk_sees_the_imports_it_checks() -> None:
    pairs = set(all_imports())
    assert ("configure_task_scheduler.engine.engine", "configure_task_scheduler.execution") in pairs
    assert ("configure_task_scheduler.schedules.cron", "configure_task_scheduler.errors") in pairs
    assert ("configure_task_scheduler.__main__", "configure_task_scheduler.cli") in pairs
    assert ("configure_task_scheduler.engine.engine", "configure_task_scheduler.engine.planning") in pairs


@pytest.mark.parametrize(("importer", "imported", "rule"), [
    ("errors", "clock", "errors may import only nothing of the package"),
    ("schedules.cron", "clock", "schedules may import only errors"),
    ("task", "registry", "task may import only schedules"),
    ("registry", "schedules", "registry may import only task"),
    ("config.loader", "engine", "config/ never imports engine"),
    ("config.loader", "clock", "config/ never imports clock"),
    ("execution.executor", "engine.engine", "execution/ never imports engine"),
    ("execution.shell", "schedules", "execution/ never imports schedules"),
    ("engine.engine", "config.loader", "engine/ never imports config"),
    ("engine.engine", "addons.reload", "engine/ never imports addons"),
    ("addons.preview", "engine.planning", "add-ons use only what configure_task_scheduler.engine "
                                          "exports, not its inner modules"),
    ("scheduler", "cli", "nothing imports cli but __main__"),
], ids=lambda value: value if "." not in value and " " not in value else None)
def test_a_forbidden_import_is_named_with_its_rule(importer: str, imported: str, rule: str) -> None:
    importer, imported = f"{PACKAGE}.{importer}", f"{PACKAGE}.{imported}"
    assert f"{importer} imports {imported}: {rule}" in violations(importer, imported)


@pytest.mark.parametrize(("importer", "imported"), [
    ("engine.engine", "execution"), ("engine.engine", "engine.planning"),
    ("addons.preview", "engine"), ("scheduler", "addons.reload"), ("__main__", "cli"),
    ("config.fields", "schedules"), ("schedules.interval", "errors"),
])
def test_an_allowed_import_breaks_no_rule(importer: str, imported: str) -> None:
    assert violations(f"{PACKAGE}.{importer}", f"{PACKAGE}.{imported}") == []


def test_each_stage_package_init_is_a_docstring_and_re_exports() -> None:
    for stage in STAGES:
        tree = ast.parse((ROOT / stage / "__init__.py").read_text())
        assert ast.get_docstring(tree), stage
        kinds = {type(node).__name__ for node in tree.body[1:]}
        assert kinds <= {"ImportFrom", "Assign"}, (stage, kinds)


def test_a_built_wheel_holds_every_module_of_the_package(tmp_path: Path) -> None:
    """Package discovery in pyproject.toml: an installed wheel has the stage packages too."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT.parent / name, source / name)
    shutil.copytree(ROOT, source / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    # Build isolation: pip fetches the build backend pyproject.toml names (a system
    # setuptools may be too old to build wheels).
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "-w", str(tmp_path / "dist"), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = {name for name in archive.namelist() if name.endswith(".py")}
    in_tree = {path.relative_to(ROOT.parent).as_posix() for path in ROOT.rglob("*.py")}
    assert in_tree - in_wheel == set()
