"""The README's runnable examples run as shown and print exactly the output shown.

A block fenced with "```python runnable" is run in a fresh interpreter from the
repository root. If a plain "```" block follows it (after blank lines and an
optional "Output:" line), that block is the example's exact stdout. Nothing
may reach stderr: the package configures no logging, so even its errors stay
silent unless the application sets logging up.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
README = REPO_ROOT / "README.md"
RUNNABLE_FENCE = "```python runnable"
PLAIN_FENCE = "```"


@dataclass(frozen=True)
class Example:
    """A runnable block: its first line number, its code, and its shown output (or None)."""

    line: int
    code: str
    output: str | None


def read_block(lines: list[str], start: int) -> tuple[str, int]:
    """Return the text of the fenced block opening at `start` and the index after it."""
    end = lines.index(PLAIN_FENCE, start + 1)
    return "".join(line + "\n" for line in lines[start + 1:end]), end + 1


def shown_output(lines: list[str], start: int) -> str | None:
    """The plain block right after a runnable one (blank lines and "Output:" between)."""
    index = start
    while index < len(lines) and lines[index].strip() in ("", "Output:"):
        index += 1
    if index < len(lines) and lines[index] == PLAIN_FENCE:
        return read_block(lines, index)[0]
    return None


def runnable_examples(text: str) -> list[Example]:
    lines = text.splitlines()
    examples, index = [], 0
    while index < len(lines):
        if lines[index] == RUNNABLE_FENCE:
            code, after = read_block(lines, index)
            examples.append(Example(index + 1, code, shown_output(lines, after)))
            index = after
        else:
            index += 1
    return examples


EXAMPLES = runnable_examples(README.read_text(encoding="utf-8"))


def test_the_readme_has_runnable_examples_with_their_output() -> None:
    assert EXAMPLES
    assert any(example.output is not None for example in EXAMPLES)


def test_the_parser_pairs_a_block_with_the_output_that_follows_it() -> None:
    text = "\n".join([
        "```python runnable", "print(1)", "```", "", "Output:", "", "```", "1", "```",
        "```python runnable", "x = 1", "```", "Some prose.", "```", "not output", "```",
        "```python", "print('not runnable')", "```"])

    assert runnable_examples(text) == [Example(1, "print(1)\n", "1\n"),
                                       Example(10, "x = 1\n", None)]


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"line-{e.line}" for e in EXAMPLES])
def test_readme_example_runs_as_shown(example: Example) -> None:
    completed = subprocess.run([sys.executable, "-c", example.code], cwd=REPO_ROOT,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                   [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])},
                               capture_output=True, text=True, timeout=60)

    assert (completed.returncode, completed.stderr) == (0, "")
    if example.output is not None:
        assert completed.stdout == example.output


# The set-up the README opens with must work on a stock Debian or Ubuntu, which
# has `python3` but no `python`, and refuses `pip install` outside a virtual
# environment (PEP 668); CI runs the very same test command.
SET_UP_COMMANDS = [
    "python3 main.py --config config/tasks.json",
    "python3 -m venv .venv && .venv/bin/python -m pip install pytest"
    " && .venv/bin/python -m pytest -q",
]


def first_commands(text: str) -> list[str]:
    """The commands of the README's first ```sh block, without their comments."""
    lines = text.splitlines()
    start = lines.index("```sh")
    block = lines[start + 1:lines.index(PLAIN_FENCE, start + 1)]
    return [line.split("  #")[0].strip() for line in block]


def test_the_readme_opens_with_commands_that_need_only_python3_and_venv() -> None:
    text = README.read_text(encoding="utf-8")

    assert first_commands(text) == SET_UP_COMMANDS
    assert "the separate package `python3-venv`" in text


def test_ci_runs_exactly_the_readme_test_command_from_the_repository_root() -> None:
    script = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()

    assert script[-3:] == ["set -euo pipefail", 'cd "$(dirname "$0")/.."', SET_UP_COMMANDS[1]]


def test_the_virtual_environment_is_ignored_by_git() -> None:
    assert ".venv/" in (REPO_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_no_command_shown_to_users_needs_a_python_command() -> None:
    from configure_task_scheduler.arguments import EXAMPLES

    shown = README.read_text(encoding="utf-8") + "\n".join(args for args, _ in EXAMPLES)
    assert [line for line in shown.splitlines() if "python main.py" in line] == []
