"""The exercises in docs/exercises.md: each has its test file, which skips cleanly on this code
and fails here when forced to run (so it tests something this code does not do)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
EXERCISES = REPO_ROOT / "docs" / "exercises.md"
TESTS = REPO_ROOT / "docs" / "exercises" / "tests"


def listed_test_files() -> list[str]:
    """The test file named by each exercise, in order."""
    return re.findall(r"^- Test: `(docs/exercises/tests/test_ex\d\d_\w+\.py)`$",
                      EXERCISES.read_text(), flags=re.MULTILINE)


def run_exercise_tests(**environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider",
         "docs/exercises/tests"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env={**{name: value for name, value in os.environ.items()
                if name != "CTS_EXERCISES"}, **environment})


def test_every_exercise_names_its_own_test_file_and_every_file_is_named() -> None:
    headings = re.findall(r"^## (\d+)\. ", EXERCISES.read_text(), flags=re.MULTILINE)
    listed = listed_test_files()

    assert headings == [str(number) for number in range(1, len(headings) + 1)]
    assert 10 <= len(headings) <= 12
    assert [int(re.search(r"test_ex(\d\d)", name)[1]) for name in listed] == [  # type: ignore[index]
        int(number) for number in headings]
    assert sorted(listed) == sorted(f"docs/exercises/tests/{path.name}"
                                    for path in TESTS.glob("test_*.py"))


def skipped_exercises(output: str) -> list[int]:
    """The numbers of the exercises whose tests skipped as not attempted, in order."""
    return sorted(int(number) for number in re.findall(
        r"^SKIPPED \[1\] \S+: exercise (\d+) not attempted: .+$", output, flags=re.MULTILINE))


def test_each_exercise_test_skips_with_its_reason_or_passes() -> None:
    result = run_exercise_tests()

    # 5: nothing ran, every module skipped itself (the repository as shipped);
    # 0: some exercise is attempted, and its tests pass.
    assert result.returncode in (0, 5), result.stdout
    assert not re.search(r"^(FAILED|ERROR) ", result.stdout, flags=re.MULTILINE), result.stdout
    skipped = skipped_exercises(result.stdout)
    assert len(skipped) == result.stdout.count("not attempted")
    if result.returncode == 5:  # as shipped: every exercise is open
        assert skipped == list(range(1, len(listed_test_files()) + 1))


def test_each_open_exercise_test_fails_on_this_code_when_forced_to_run() -> None:
    listed = listed_test_files()
    open_exercises = {listed[number - 1] for number in skipped_exercises(run_exercise_tests().stdout)}
    result = run_exercise_tests(CTS_EXERCISES="all")

    outcomes = re.findall(r"^(PASSED|FAILED|ERROR) (docs/exercises/tests/test_ex\d\d_\w+\.py)::",
                          result.stdout, flags=re.MULTILINE)
    assert result.returncode == 1
    assert {path for outcome, path in outcomes if outcome == "FAILED"} >= open_exercises
    assert [(outcome, path) for outcome, path in outcomes
            if path in open_exercises and outcome != "FAILED"] == []
