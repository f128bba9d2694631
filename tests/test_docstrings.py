"""Every module says its role and what it must not do; every public function says what it does.

Read with `ast`, so nothing is imported: a module's docstring must open it
and name a limit (a "never", "not" or "only": what the module must not do,
or all it does); every public function, class and method (no leading
underscore, dunders aside) of a module has a docstring, except a Protocol's
`...` stubs, which their class's docstring describes.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "configure_task_scheduler"
MODULES = sorted(PACKAGE.rglob("*.py"))
LIMIT = re.compile(r"\b(never|not|nothing|only|no)\b", re.IGNORECASE)


def name_of(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def is_stub(node: ast.AST) -> bool:
    """A `def f(...) -> T: ...` declaration (a Protocol member the class docstring describes)."""
    body = getattr(node, "body", [])
    return (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and len(body) == 1
            and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and body[0].value.value is Ellipsis)


def public_definitions(tree: ast.Module) -> list[tuple[str, ast.AST]]:
    """(qualified name, node) of each public function, class and method, outermost first."""
    found: list[tuple[str, ast.AST]] = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if node.name.startswith("_") or is_stub(node):
                continue  # private, a dunder, or a Protocol's `...` stub: the class says
            found.append((f"{prefix}{node.name}", node))
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")

    visit(tree.body, "")
    return found


@pytest.mark.parametrize("path", MODULES, ids=name_of)
def test_module_opens_with_its_role_and_a_limit(path: Path) -> None:
    docstring = ast.get_docstring(ast.parse(path.read_text()))

    assert docstring, f"{name_of(path)} has no module docstring"
    assert LIMIT.search(docstring), f"{name_of(path)}'s docstring names no limit"


def test_every_public_function_class_and_method_has_a_docstring() -> None:
    missing = [f"{name_of(path)}: {name}" for path in MODULES
               for name, node in public_definitions(ast.parse(path.read_text()))
               if not ast.get_docstring(node)]  # type: ignore[arg-type]

    assert missing == []
