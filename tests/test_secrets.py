"""Env values are secrets: a task gets them, nothing the scheduler shows contains them.

The secret comes from the scheduler's own environment through `"${SECRET_TOKEN}"`
in a config loaded by the real loader, and runs on a real `PoolExecutor` with
real subprocesses. Every test then looks for the secret everywhere it could
leak: each captured log record (message, arguments, extras, traceback), the
task's and the result's repr, and the output of `python3 main.py`.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import RecordingReporter
from test_cli import run_cli
from test_executor import new_run, output_lines

from configure_task_scheduler.config.loader import load_config
from configure_task_scheduler.execution.executor import PoolExecutor
from configure_task_scheduler.execution.shell import OUTPUT_TAIL_BYTES
from configure_task_scheduler.task import RunContext, RunStatus, Task

WriteConfig = Callable[..., Path]

SECRET = "hunter2-very-secret"
PACKAGE_LOGGER = "configure_task_scheduler"
UNSET = "CTS_TEST_NEVER_SET"


@pytest.fixture(autouse=True)
def secret_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_TOKEN", SECRET)
    monkeypatch.delenv(UNSET, raising=False)


@pytest.fixture
def caplog_everything(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, PACKAGE_LOGGER)
    return caplog


@pytest.fixture
def jobs_module(tmp_path: Path) -> Iterator[str]:
    """A module `secret_jobs` next to the config, whose callables record what they get."""
    (tmp_path / "secret_jobs.py").write_text(
        "received = []\n"
        "def keep(context):\n"
        "    received.append(context)\n"
        "def leak(context):\n"
        "    token = context.env['TOKEN']\n"
        "    try:\n"
        "        raise KeyError(token)\n"
        "    except KeyError as cause:\n"
        "        raise RuntimeError(f'login failed with {token}') from cause\n")
    yield "secret_jobs"
    sys.modules.pop("secret_jobs", None)


def shell_entry(task_id: str, command: str, **fields: Any) -> dict[str, Any]:
    return {"task_id": task_id, "task_type": "shell", "entry_point": command,
            "interval_seconds": 60, "env": {"TOKEN": "${SECRET_TOKEN}"}, **fields}


def python_entry(task_id: str, entry_point: str) -> dict[str, Any]:
    return {"task_id": task_id, "task_type": "python", "entry_point": entry_point,
            "interval_seconds": 60, "env": {"TOKEN": "${SECRET_TOKEN}"}}


def load_task(write_config: WriteConfig, entry: dict[str, Any]) -> Task:
    config = load_config(write_config([entry]))
    assert config.problems == []
    [task] = config.tasks
    return task


def assert_not_in_any_record(caplog: pytest.LogCaptureFixture, secret: str = SECRET) -> None:
    """The secret is in no record's fields (message, args, extras) nor in the formatted log."""
    assert caplog.records, "nothing was logged: the test would prove nothing"
    assert [r.getMessage() for r in caplog.records if secret in repr(vars(r))] == []
    assert secret not in caplog.text


# -- shell tasks ------------------------------------------------------------------


def test_shell_command_receives_the_env_value_taken_from_the_scheduler_environment(
        write_config: WriteConfig, executor: PoolExecutor, reporter: RecordingReporter,
        tmp_path: Path) -> None:
    received = tmp_path / "received"
    task = load_task(write_config, shell_entry("x", f'printf %s "$TOKEN" > {received}'))

    executor.submit(new_run(task), reporter)

    assert reporter.result_of("x").status is RunStatus.SUCCEEDED
    assert received.read_text() == SECRET


def test_env_value_printed_by_a_command_is_logged_and_kept_as_stars(
        write_config: WriteConfig, executor: PoolExecutor, reporter: RecordingReporter,
        caplog_everything: pytest.LogCaptureFixture) -> None:
    task = load_task(write_config, shell_entry(
        "x", 'echo "token=$TOKEN"; echo "$TOKEN" >&2; echo "$TOKEN$TOKEN"; exit 3'))

    executor.submit(new_run(task), reporter)
    result = reporter.result_of("x")

    assert output_lines(caplog_everything, logging.INFO) == ["task x | token=***",
                                                             "task x | ******"]
    assert output_lines(caplog_everything, logging.WARNING) == ["task x | ***"]
    assert (result.status, result.error) == (RunStatus.FAILED, "exit code 3")
    assert (result.stdout_tail, result.stderr_tail) == ("token=***\n******\n", "***\n")
    assert SECRET not in repr(result)
    assert SECRET not in repr(task) and SECRET not in str(task)
    assert_not_in_any_record(caplog_everything)


def test_each_line_of_a_multi_line_env_value_is_hidden_in_the_line_by_line_log(
        write_config: WriteConfig, executor: PoolExecutor, reporter: RecordingReporter,
        caplog_everything: pytest.LogCaptureFixture) -> None:
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0\n-----END KEY-----"
    task = load_task(write_config, shell_entry("x", 'printf "%s\\n" "$KEY"',
                                               env={"KEY": key}))

    executor.submit(new_run(task), reporter)
    result = reporter.result_of("x")

    assert output_lines(caplog_everything, logging.INFO) == ["task x | ***"] * 3
    assert result.stdout_tail == "***\n"
    assert_not_in_any_record(caplog_everything, "MIIEvQIBADANBgkqhkiG9w0")


def test_tail_cut_inside_a_secret_shows_none_of_it(
        write_config: WriteConfig, executor: PoolExecutor, reporter: RecordingReporter) -> None:
    # The last 64 KiB of the raw output would start 10 bytes into the secret.
    filler = OUTPUT_TAIL_BYTES + 10 - len(SECRET)
    task = load_task(write_config, shell_entry(
        "x", f"printf %s \"$TOKEN\"; head -c {filler} /dev/zero | tr '\\0' x"))

    executor.submit(new_run(task), reporter)
    result = reporter.result_of("x")

    assert result.stdout_tail == "***" + "x" * filler


def test_line_longer_than_the_bound_is_cut_with_a_marker_that_never_splits_a_secret(
        write_config: WriteConfig, executor: PoolExecutor, reporter: RecordingReporter,
        tmp_path: Path, caplog_everything: pytest.LogCaptureFixture) -> None:
    # One write of a 160 KiB line with a secret across every 4 KiB boundary (a pipe
    # hands it over in whole pages), and one across the 64 KiB cut itself.
    writer = tmp_path / "writer.py"
    writer.write_text("import os\n"
                      "unit = os.environ['TOKEN'].encode().ljust(4096, b'x')\n"
                      "os.write(1, b'x' * 4087 + unit * 40 + b'end\\nnext\\n')\n")
    task = load_task(write_config, shell_entry("x", f"{sys.executable} {writer}"))

    executor.submit(new_run(task), reporter)
    reporter.result_of("x")

    redacted = "x" * 4087 + ("***" + "x" * (4096 - len(SECRET))) * 40 + "end"
    assert output_lines(caplog_everything, logging.INFO) == [
        f"task x | {redacted[:65536]}[... line of {4087 + 4096 * 40 + 3} bytes cut at 65536]",
        "task x | next"]
    assert_not_in_any_record(caplog_everything, SECRET[:4])
    assert_not_in_any_record(caplog_everything, SECRET[-4:])


def test_tuple_entry_point_gets_the_env_too(
        executor: PoolExecutor, reporter: RecordingReporter, tmp_path: Path,
        write_config: WriteConfig) -> None:
    received = tmp_path / "received"
    task = load_task(write_config, shell_entry(
        "x", "", entry_point=["sh", "-c", f'printf %s "$TOKEN" > {received}']))

    executor.submit(new_run(task), reporter)

    assert reporter.result_of("x").status is RunStatus.SUCCEEDED
    assert received.read_text() == SECRET


# -- Python callables ---------------------------------------------------------------


def test_python_callable_gets_the_env_in_a_read_only_context_whose_repr_hides_it(
        write_config: WriteConfig, executor: PoolExecutor, reporter: RecordingReporter,
        jobs_module: str) -> None:
    task = load_task(write_config, python_entry("py", f"{jobs_module}:keep"))

    executor.submit(new_run(task), reporter)

    assert reporter.result_of("py").status is RunStatus.SUCCEEDED
    [context] = sys.modules[jobs_module].received
    assert isinstance(context, RunContext)
    assert context.env["TOKEN"] == SECRET
    assert SECRET not in repr(context)
    with pytest.raises(TypeError):
        context.env["TOKEN"] = "changed"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.task_id = "other"  # type: ignore[misc]


def test_exception_holding_the_secret_is_hidden_in_the_result_and_the_logged_traceback(
        write_config: WriteConfig, executor: PoolExecutor, reporter: RecordingReporter,
        jobs_module: str, caplog_everything: pytest.LogCaptureFixture) -> None:
    task = load_task(write_config, python_entry("py", f"{jobs_module}:leak"))

    executor.submit(new_run(task), reporter)
    result = reporter.result_of("py")

    assert (result.status, result.error) == (RunStatus.FAILED,
                                             "RuntimeError: login failed with ***")
    assert SECRET not in repr(result)
    [record] = [r for r in caplog_everything.records if r.levelno == logging.ERROR]
    assert record.getMessage().partition("\n")[0] == "task py run 1 raised RuntimeError"
    # The whole traceback is still logged, its cause included, with the secret hidden.
    assert caplog_everything.text.count("Traceback (most recent call last):") == 2
    assert "KeyError: '***'" in caplog_everything.text
    assert caplog_everything.text.rstrip().endswith("RuntimeError: login failed with ***")
    assert_not_in_any_record(caplog_everything)


# -- the config and the command line ------------------------------------------------


def test_unset_reference_is_reported_by_name_without_the_value_of_a_set_one(
        write_config: WriteConfig) -> None:
    path = write_config([shell_entry("x", "true",
                                     env={"URL": f"https://${{SECRET_TOKEN}}@${{{UNSET}}}/"})])

    config = load_config(path)

    assert [str(problem) for problem in config.problems] == [
        f'{path}: task #1 "x": env.URL: ${{{UNSET}}} is not set in the environment '
        f"the scheduler was started with (a fallback: ${{{UNSET}:-default}})"]
    assert config.tasks == []


def test_check_output_never_shows_an_env_value(write_config: WriteConfig) -> None:
    path = write_config([
        shell_entry("ok", "true"),
        shell_entry("literal", "true", env={"PASSWORD": "literal-password-1"}),
        shell_entry("broken", "true", env={"TOKEN": "${SECRET_TOKEN}", "N": 42,
                                           "GONE": f"${{{UNSET}}}"}),
    ])

    completed = run_cli("--check", "--config", path)

    assert completed.returncode == 2
    assert completed.stdout.splitlines()[-2:] == [
        f'{path}: task #3 "broken": env.N: expected a string, found a number',
        f'{path}: task #3 "broken": env.GONE: ${{{UNSET}}} is not set in the environment '
        f"the scheduler was started with (a fallback: ${{{UNSET}:-default}})"]
    output = completed.stdout + completed.stderr
    assert SECRET not in output and "literal-password-1" not in output


def test_run_from_the_command_line_shows_the_secret_nowhere(write_config: WriteConfig) -> None:
    path = write_config([shell_entry("x", 'echo "token=$TOKEN"; echo "$TOKEN" >&2; exit 3')])

    completed = run_cli("--run", "x", "--config", path)

    assert completed.returncode == 1
    assert re.fullmatch(r"task x: failed in \d+\.\d\ds: exit code 3\n", completed.stdout)
    assert "task x | token=***" in completed.stderr
    assert SECRET not in completed.stdout + completed.stderr


def test_run_from_the_command_line_withholds_and_masks_another_task_secret(
        write_config: WriteConfig, tmp_path: Path) -> None:
    (tmp_path / "copy.txt").write_text(SECRET)
    path = write_config([
        shell_entry("owner", "true"),
        {"task_id": "other", "task_type": "shell", "interval_seconds": 60, "cwd": ".",
         "entry_point": 'echo "inherited=${SECRET_TOKEN:-no}"; echo "copy=$(cat copy.txt)"'}])

    completed = run_cli("--run", "other", "--config", path)

    assert completed.returncode == 0
    assert [line.partition("INFO    ")[2] for line in completed.stderr.splitlines()
            if "task other |" in line] == ["task other | inherited=no", "task other | copy=***"]
    assert SECRET not in completed.stdout + completed.stderr
