"""A task's environment: defaults merged, "${NAME}" expansion, secrets, inheritance, shell.

Configs go through the real loader; commands run as real subprocesses on a
real `PoolExecutor`, and the cross-task tests through a real `Scheduler`
built from the config file, so the secrets travel the way they do in use:
registry -> engine -> run -> executor.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import DEADLINE_SECONDS, RecordingReporter
from test_executor import new_run, output_lines

from configure_task_scheduler import Scheduler
from configure_task_scheduler.config.loader import load_config
from configure_task_scheduler.execution.executor import PoolExecutor
from configure_task_scheduler.schedules import IntervalSchedule
from configure_task_scheduler.task import (
    BASE_ENVIRONMENT_NAMES,
    EventKind,
    Run,
    RunEvent,
    RunResult,
    RunStatus,
    Secrets,
    Task,
    TaskType,
)

WriteConfig = Callable[..., Path]

MY_TOKEN = "tok-1234567890-abcdef"
UNSET = "CTS_ENV_TEST_UNSET"
# Prints the environment as NAME=value lines, sorted, with nothing added by a shell.
PRINT_ENVIRONMENT = [sys.executable, "-c",
                     "import os\nfor k in sorted(os.environ): print(f'{k}={os.environ[k]}')"]


@pytest.fixture(autouse=True)
def scheduler_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_TOKEN", MY_TOKEN)
    monkeypatch.setenv("CTS_EMPTY", "")
    monkeypatch.setenv("CTS_USER", "alice")
    monkeypatch.delenv(UNSET, raising=False)


def shell_entry(task_id: str, command: Any = "true", **fields: Any) -> dict[str, Any]:
    return {"task_id": task_id, "task_type": "shell", "entry_point": command,
            "interval_seconds": 3600, **fields}


def load_tasks(write_config: WriteConfig, document: Any) -> list[Task]:
    config = load_config(write_config(document))
    assert [str(problem) for problem in config.problems] == []
    return config.tasks


def problems_of(write_config: WriteConfig, document: Any) -> list[str]:
    path = write_config(document)
    return [str(problem).removeprefix(f"{path}: ") for problem in load_config(path).problems]


# -- defaults apply to every task form, env merged --------------------------------


def test_defaults_apply_to_a_compact_task(write_config: WriteConfig) -> None:
    [task] = load_tasks(write_config, {
        "defaults": {"timeout_seconds": 1, "retries": 2, "env": {"PATH": "/opt/bin:/usr/bin"},
                     "shell": "/bin/sh", "description": "from cron", "timezone": "UTC",
                     "interval_seconds": 60, "task_type": "python"},
        "tasks": [{"name": "nightly", "command": "sleep 3", "schedule": "0 2 * * *"}]})

    assert (task.task_id, task.entry_point, task.timeout_seconds, task.retries,
            dict(task.env), task.shell, task.description, str(task.schedule.timezone)) == (
        "nightly", "sleep 3", 1, 2, {"PATH": "/opt/bin:/usr/bin"}, "/bin/sh", "from cron", "UTC")


def test_compact_task_with_a_timeout_from_defaults_times_out(
        write_config: WriteConfig, executor: PoolExecutor, reporter: RecordingReporter) -> None:
    [task] = load_tasks(write_config, {
        "defaults": {"timeout_seconds": 0.2},
        "tasks": [{"name": "slow", "command": "sleep 30", "schedule": "@daily"}]})

    executor.submit(new_run(task), reporter)

    result = reporter.result_of("slow")
    assert (result.status, result.error) == (
        RunStatus.TIMED_OUT, "timed out after 0.2s; process group terminated")


def test_bad_default_is_reported_on_a_compact_task_as_set_in_defaults(
        write_config: WriteConfig) -> None:
    assert problems_of(write_config, {
        "defaults": {"timeout_seconds": 0},
        "tasks": [{"name": "a", "command": "true", "schedule": "@daily"}]}) == [
        'task #1 "a": timeout_seconds: expected a number > 0 and <= 315360000 (10 years), '
        "or null, found 0 (set in defaults)"]


def test_defaults_env_is_merged_with_the_task_env_the_task_winning_per_name(
        write_config: WriteConfig) -> None:
    tasks = load_tasks(write_config, {
        "defaults": {"env": {"PATH": "/usr/bin:/bin", "STAGE": "test", "MAILTO": "ops"}},
        "tasks": [shell_entry("a", env={"STAGE": "production", "EXTRA": "1"}),
                  shell_entry("b"),
                  {"name": "c", "command": "true", "schedule": "@daily"}]})

    assert [dict(task.env) for task in tasks] == [
        {"PATH": "/usr/bin:/bin", "STAGE": "production", "MAILTO": "ops", "EXTRA": "1"},
        {"PATH": "/usr/bin:/bin", "STAGE": "test", "MAILTO": "ops"},
        {"PATH": "/usr/bin:/bin", "STAGE": "test", "MAILTO": "ops"}]


# -- expansion -------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    ("plain", "plain"),
    ("${CTS_USER}", "alice"),
    ("${CTS_USER:-bob}", "alice"),
    ("${UNSET_X:-fallback}".replace("UNSET_X", UNSET), "fallback"),
    ("${CTS_EMPTY:-fallback}", "fallback"),
    ("${CTS_EMPTY}", ""),
    ("${UNSET_X:-}".replace("UNSET_X", UNSET), ""),
    ("cost: $$5 and $${HOME}", "cost: $5 and ${HOME}"),
    ("$$$$", "$$"),
    ("a ${CTS_USER}:${UNSET_X:-x y} b".replace("UNSET_X", UNSET), "a alice:x y b"),
], ids=["literal", "reference", "default-unused", "default-for-unset", "default-for-empty",
        "empty-without-default", "empty-default", "escapes", "two-escapes", "mixed"])
def test_env_value_expands_references_defaults_and_escapes(
        write_config: WriteConfig, value: str, expected: str) -> None:
    [task] = load_tasks(write_config, [shell_entry("a", env={"V": value})])

    assert dict(task.env) == {"V": expected}


@pytest.mark.parametrize("value, shown", [
    ("$CTS_USER", "$CTS_USER"),
    ("x ${CTS_USER", "${CTS_USER"),
    ("${1}", "${1}"),
    ("${CTS_USER:?missing}", "${CTS_USER:?missing}"),
    ("${CTS_USER-default}", "${CTS_USER-default}"),
    ("${CTS_USER:-${HOME}}", "${CTS_USER:-${HOME}"),
    ("cost $", "$"),
    ("${}", "${}"),
], ids=["bare-name", "unclosed", "positional", "error-form", "dash-without-colon",
        "nested", "trailing-dollar", "empty-braces"])
def test_any_other_dollar_syntax_is_a_problem_naming_the_variable(
        write_config: WriteConfig, value: str, shown: str) -> None:
    quoted = shown.replace('"', '\\"')
    assert problems_of(write_config, [shell_entry("a", env={"GREETING": value})]) == [
        f'task #1 "a": env.GREETING: "{quoted}" is not supported: write ${{NAME}}, '
        '${NAME:-default}, or $$ for a literal "$"']


# -- what is a secret ----------------------------------------------------------------


def test_secrets_are_values_from_the_scheduler_environment_and_secret_named_keys(
        write_config: WriteConfig) -> None:
    [task] = load_tasks(write_config, [shell_entry("a", env={
        "STAGE": "production", "URL": "https://${CTS_USER}:${MY_TOKEN}@host/",
        "API_KEY": "literal-key-value", "db_password": "hunter22", "FALLBACK": f"${{{UNSET}:-x}}",
        "PATH": "${PATH}:/opt/bin", "HOME_DIR": "${HOME}"})])

    assert task.secret_names == frozenset({"CTS_USER", "MY_TOKEN"})
    assert task.secret_values == frozenset({
        f"https://alice:{MY_TOKEN}@host/", "alice", MY_TOKEN, "literal-key-value", "hunter22"})


def test_literal_values_are_shown_and_secrets_masked_in_a_command_output(
        write_config: WriteConfig, executor: PoolExecutor, reporter: RecordingReporter,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "configure_task_scheduler")
    [task] = load_tasks(write_config, [shell_entry(
        "a", 'echo "$STAGE $MODE"; echo "$TOKEN"; echo "$API_KEY"',
        env={"STAGE": "production", "MODE": "fast", "TOKEN": "${MY_TOKEN}",
             "API_KEY": "literal-key-value"})])

    executor.submit(new_run(task), reporter)

    assert reporter.result_of("a").stdout_tail == "production fast\n***\n***\n"
    assert output_lines(caplog, logging.INFO) == [
        "task a | production fast", "task a | ***", "task a | ***"]


# -- other tasks' secrets: withheld, masked -----------------------------------------


def run_through_scheduler(path: Path, task_id: str) -> RunResult:
    """Build a real Scheduler from the config, run `task_id` once, return its result."""
    finished: list[RunResult] = []
    done = threading.Event()

    def listen(event: RunEvent) -> None:
        if event.kind is EventKind.RUN_FINISHED and event.run.task.task_id == task_id:
            assert event.result is not None
            finished.append(event.result)
            done.set()

    scheduler = Scheduler.from_config(str(path))
    scheduler.subscribe(listen)
    with scheduler:
        scheduler.run_now(task_id)
        assert done.wait(DEADLINE_SECONDS)
    return finished[0]


def test_task_printing_its_environment_shows_neither_another_task_secret_nor_its_variable(
        write_config: WriteConfig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "configure_task_scheduler")
    path = write_config([shell_entry("a", env={"TOKEN": "${MY_TOKEN}"}),
                         shell_entry("b", 'env; echo "leak: $(cat "$SECRET_FILE")"',
                                     env={"SECRET_FILE": "secret.txt"}, cwd=".")])
    (path.parent / "secret.txt").write_text(MY_TOKEN)

    result = run_through_scheduler(path, "b")

    lines = result.stdout_tail.splitlines()
    assert result.status is RunStatus.SUCCEEDED
    assert [line for line in lines if "MY_TOKEN" in line or "TOKEN=" in line] == []
    assert "leak: ***" in lines
    assert MY_TOKEN not in result.stdout_tail and MY_TOKEN not in caplog.text


def test_task_keeps_the_variables_it_takes_itself(write_config: WriteConfig) -> None:
    path = write_config([shell_entry("a", 'echo "${MY_TOKEN:+inherited}"',
                                     env={"TOKEN": "${MY_TOKEN}"})])

    assert run_through_scheduler(path, "a").stdout_tail == "inherited\n"


def test_inherit_environment_true_gets_everything_but_output_still_masks_secrets(
        write_config: WriteConfig) -> None:
    path = write_config([shell_entry("a", env={"TOKEN": "${MY_TOKEN}"}),
                         shell_entry("b", 'echo "$MY_TOKEN"', inherit_environment=True)])

    assert run_through_scheduler(path, "b").stdout_tail == "***\n"


def test_inherit_environment_false_gives_cron_base_environment_and_env(
        write_config: WriteConfig, executor: PoolExecutor, reporter: RecordingReporter,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in BASE_ENVIRONMENT_NAMES:
        monkeypatch.setenv(name, f"scheduler-{name.lower()}")
    monkeypatch.setenv("PATH", os.environ["PATH"])  # the command must still be found
    # A real locale: with an unknown one, Python adds LC_CTYPE to its own environment (PEP 538).
    monkeypatch.setenv("LANG", "C.UTF-8")
    [task] = load_tasks(write_config, [shell_entry("a", PRINT_ENVIRONMENT,
                                                   inherit_environment=False,
                                                   env={"STAGE": "production"})])

    executor.submit(new_run(task), reporter)

    assert reporter.result_of("a").stdout_tail.splitlines() == [
        "HOME=scheduler-home", "LANG=C.UTF-8", "LOGNAME=scheduler-logname",
        f"PATH={os.environ['PATH']}", "SHELL=/bin/sh", "STAGE=production",
        "TZ=scheduler-tz", "USER=scheduler-user"]


def test_python_task_error_masks_every_task_secret(
        executor: PoolExecutor, reporter: RecordingReporter,
        caplog: pytest.LogCaptureFixture) -> None:
    def fail() -> None:
        raise RuntimeError(f"saw {MY_TOKEN}")

    task = Task("py", TaskType.PYTHON, "tests:fail", IntervalSchedule(60), target=fail)
    run = new_run(task)
    executor.submit(Run(task, 1, run.planned_at, run.planned_monotonic,
                        secrets=Secrets(frozenset({"MY_TOKEN"}), frozenset({MY_TOKEN}))),
                    reporter)

    assert reporter.result_of("py").error == "RuntimeError: saw ***"
    assert MY_TOKEN not in caplog.text


# -- shell ------------------------------------------------------------------------------


@pytest.mark.skipif(not os.access("/bin/bash", os.X_OK), reason="needs /bin/bash")
def test_shell_field_runs_the_command_string_with_that_shell(
        write_config: WriteConfig, executor: PoolExecutor, reporter: RecordingReporter) -> None:
    tasks = load_tasks(write_config, [
        shell_entry("bash", "set -o pipefail; false | true", shell="/bin/bash"),
        shell_entry("name", 'echo "$BASH_VERSION" | cut -c1', shell="/bin/bash")])

    for task in tasks:
        executor.submit(new_run(task), reporter)

    bash = reporter.result_of("bash")
    assert (bash.status, bash.error) == (RunStatus.FAILED, "exit code 1")
    assert reporter.result_of("name").stdout_tail.strip().isdigit()


def test_default_shell_is_bin_sh(write_config: WriteConfig) -> None:
    [task] = load_tasks(write_config, [shell_entry("a")])
    assert task.shell == "/bin/sh"


def test_shell_that_is_not_an_executable_file_is_a_problem(
        write_config: WriteConfig, tmp_path: Path) -> None:
    text_file = tmp_path / "not-executable"
    text_file.write_text("")
    assert problems_of(write_config, [
        shell_entry("a", shell="bash"), shell_entry("b", shell="/no/such/shell"),
        shell_entry("c", shell=str(tmp_path)), shell_entry("d", shell=str(text_file)),
        shell_entry("e", shell=5)]) == [
        'task #1 "a": shell: expected the absolute path of an executable file, found "bash" '
        "(not an absolute path)",
        'task #2 "b": shell: expected the absolute path of an executable file, found '
        '"/no/such/shell" (no such file)',
        f'task #3 "c": shell: expected the absolute path of an executable file, found '
        f'"{tmp_path}" (a directory)',
        f'task #4 "d": shell: expected the absolute path of an executable file, found '
        f'"{text_file}" (not executable)',
        'task #5 "e": shell: expected a string, found 5']


def test_inherit_environment_must_be_a_boolean_or_null(write_config: WriteConfig) -> None:
    assert problems_of(write_config, [shell_entry("a", inherit_environment="false")]) == [
        'task #1 "a": inherit_environment: expected true, false or null, found "false" '
        "(a string)"]


def test_bad_dollar_in_a_secret_named_key_is_located_without_quoting_the_value(
        write_config: WriteConfig) -> None:
    assert problems_of(write_config, [shell_entry("a", env={"DB_PASSWORD": "pa$word-9"})]) == [
        'task #1 "a": env.DB_PASSWORD: "$" at character 3 is not supported: write ${NAME}, '
        '${NAME:-default}, or $$ for a literal "$"']
