"""A Python task's output captured like a shell task's, and the level of stderr lines.

With capture on (the CLI, or `Scheduler(capture_output=True)`), what a Python
task writes to `sys.stdout`/`sys.stderr` from its thread is logged line by
line as `task ID | line`, redacted and kept in the result's tails, and its
log records carry its run fields. Off (the library default), nothing global
changes. The runs here are real: the pool executor, the CLI as a subprocess.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import DEADLINE_SECONDS, RecordingReporter, shell_task
from test_cli import log_messages, run_cli, shell_task_entry
from test_executor import python_run, shell_run

from configure_task_scheduler import Scheduler
from configure_task_scheduler.config.loader import load_config
from configure_task_scheduler.execution.capture import (
    RunLogFilter,
    capture_output,
)
from configure_task_scheduler.execution.executor import PoolExecutor
from configure_task_scheduler.task import Run, RunStatus

CAPTURE_LOGGER = "configure_task_scheduler.capture"
SHELL_LOGGER = "configure_task_scheduler.shell"
SECRET = "s3cret-token-value"
WriteConfig = Callable[..., Path]


def lines_of(caplog: pytest.LogCaptureFixture, logger: str) -> list[tuple[str, str]]:
    """(level, message) of each output line `logger` logged."""
    return [(record.levelname, record.getMessage()) for record in caplog.records
            if record.name == logger and " | " in record.getMessage()]


def with_env(run: Run, **env: str) -> Run:
    from dataclasses import replace
    # Built by hand, so the secrets are stated as the loader would find them (key names).
    return replace(run, task=replace(run.task, env=env, secret_values=frozenset(env.values())))


def with_level(run: Run, stderr_level: str) -> Run:
    from dataclasses import replace
    return replace(run, task=replace(run.task, stderr_level=stderr_level))


def chatty() -> None:
    print("one")
    print("two", SECRET, end="")
    print(" end")
    sys.stderr.write("careful\npartial")


# -- through the executor ----------------------------------------------------------


def test_captured_print_is_logged_line_by_line_redacted_and_kept_in_the_tails(
        executor: PoolExecutor, reporter: RecordingReporter,
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.INFO, CAPTURE_LOGGER)
    with capture_output():
        executor.submit(with_env(python_run("chatty", chatty), TOKEN=SECRET), reporter)
        result = reporter.result_of("chatty")

    assert result.status is RunStatus.SUCCEEDED
    assert lines_of(caplog, CAPTURE_LOGGER) == [
        ("INFO", "task chatty | one"), ("INFO", "task chatty | two *** end"),
        ("WARNING", "task chatty | careful"), ("WARNING", "task chatty | partial")]
    assert (result.stdout_tail, result.stderr_tail) == ("one\ntwo *** end\n", "careful\npartial")
    assert capsys.readouterr() == ("", "")


def test_captured_stderr_lines_are_logged_at_the_tasks_stderr_level(
        executor: PoolExecutor, reporter: RecordingReporter,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, CAPTURE_LOGGER)
    with capture_output():
        executor.submit(with_level(python_run("chatty", chatty), "DEBUG"), reporter)
        reporter.result_of("chatty")

    assert [level for level, message in lines_of(caplog, CAPTURE_LOGGER)
            if "careful" in message or "partial" in message] == ["DEBUG", "DEBUG"]


def test_output_of_other_threads_goes_to_the_original_streams(
        executor: PoolExecutor, reporter: RecordingReporter,
        capsys: pytest.CaptureFixture[str]) -> None:
    with capture_output():
        print("from the test thread")
        executor.submit(python_run("chatty", chatty), reporter)
        reporter.result_of("chatty")
        sys.stderr.write("after the run\n")

    assert capsys.readouterr() == ("from the test thread\n", "after the run\n")


def test_a_timed_out_task_reports_the_output_so_far_and_its_later_lines_are_still_logged(
        executor: PoolExecutor, reporter: RecordingReporter,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, CAPTURE_LOGGER)
    release = threading.Event()

    def slow() -> None:
        print("before the timeout")
        release.wait(DEADLINE_SECONDS)
        print("after the timeout")

    with capture_output():
        executor.submit(python_run("slow", slow, timeout_seconds=0.1), reporter)
        reporter.finished.wait(DEADLINE_SECONDS)
        release.set()
        result = reporter.result_of("slow")

    assert (result.status, result.stdout_tail) == (RunStatus.TIMED_OUT, "before the timeout\n")
    assert lines_of(caplog, CAPTURE_LOGGER) == [("INFO", "task slow | before the timeout"),
                                                ("INFO", "task slow | after the timeout")]


def test_output_of_a_thread_the_task_starts_itself_is_not_attributed_to_it(
        executor: PoolExecutor, reporter: RecordingReporter,
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.INFO, CAPTURE_LOGGER)

    def starts_a_thread() -> None:
        helper = threading.Thread(target=print, args=("from its own thread",))
        helper.start()
        helper.join()

    with capture_output():
        executor.submit(python_run("spawner", starts_a_thread), reporter)
        result = reporter.result_of("spawner")

    assert (result.stdout_tail, lines_of(caplog, CAPTURE_LOGGER)) == ("", [])
    assert capsys.readouterr().out == "from its own thread\n"


def test_without_capture_a_python_task_has_empty_tails_and_prints_where_it_always_did(
        executor: PoolExecutor, reporter: RecordingReporter,
        capsys: pytest.CaptureFixture[str]) -> None:
    stdout_before = sys.stdout
    executor.submit(python_run("chatty", chatty), reporter)
    result = reporter.result_of("chatty")

    assert sys.stdout is stdout_before
    assert (result.stdout_tail, result.stderr_tail) == ("", "")
    assert capsys.readouterr() == (f"one\ntwo {SECRET} end\n", "careful\npartial")


def test_log_records_of_a_running_task_carry_its_run_fields_and_are_redacted(
        executor: PoolExecutor, reporter: RecordingReporter,
        caplog: pytest.LogCaptureFixture) -> None:
    def logs() -> None:
        logging.getLogger("tasks.sync").warning("token is %s", SECRET)

    caplog.set_level(logging.INFO, "tasks.sync")
    caplog.handler.addFilter(RunLogFilter())
    executor.submit(with_env(python_run("sync", logs), TOKEN=SECRET), reporter)
    reporter.result_of("sync")
    logging.getLogger("tasks.sync").warning("not in a run")

    records = [(r.getMessage(), getattr(r, "task_id", None), getattr(r, "run", None),
                getattr(r, "attempt", None)) for r in caplog.records if r.name == "tasks.sync"]
    assert records == [("token is ***", "sync", 1, 1), ("not in a run", None, None, None)]


def test_a_logged_traceback_holding_a_secret_is_redacted(
        executor: PoolExecutor, reporter: RecordingReporter,
        caplog: pytest.LogCaptureFixture) -> None:
    def logs() -> None:
        try:
            raise ValueError(f"bad token {SECRET}")
        except ValueError:
            logging.getLogger("tasks.sync").exception("sync failed")

    caplog.set_level(logging.INFO, "tasks.sync")
    caplog.handler.addFilter(RunLogFilter())
    executor.submit(with_env(python_run("sync", logs), TOKEN=SECRET), reporter)
    reporter.result_of("sync")

    assert SECRET not in caplog.text
    assert "ValueError: bad token ***" in caplog.text


def test_shell_stderr_lines_are_logged_at_the_tasks_stderr_level(
        executor: PoolExecutor, reporter: RecordingReporter,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, SHELL_LOGGER)
    executor.submit(with_level(shell_run("progress", "echo out; echo 50% >&2"), "INFO"), reporter)
    reporter.result_of("progress")

    assert lines_of(caplog, SHELL_LOGGER) == [("INFO", "task progress | out"),
                                             ("INFO", "task progress | 50%")]


# -- the streams: installed only while capture is on -------------------------------


def test_capture_on_and_off_restores_the_streams_it_found() -> None:
    before = (sys.stdout, sys.stderr)
    with capture_output():
        assert (sys.stdout, sys.stderr) != before
        with capture_output():  # nested: still one proxy each
            inner = (sys.stdout, sys.stderr)
        assert (sys.stdout, sys.stderr) == inner
    assert (sys.stdout, sys.stderr) == before


def test_library_scheduler_leaves_sys_stdout_untouched_by_default(
        capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[object] = []
    ran = threading.Event()

    def job() -> None:
        seen.append(sys.stdout)
        print("plain print")
        ran.set()

    before = sys.stdout
    with Scheduler() as scheduler:
        scheduler.every(60, job, run_on_start=True)
        assert ran.wait(DEADLINE_SECONDS)
    assert seen == [before] and sys.stdout is before
    assert capsys.readouterr().out == "plain print\n"


def test_scheduler_with_capture_output_captures_and_restores_sys_stdout(
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.INFO, CAPTURE_LOGGER)
    ran = threading.Event()

    def job() -> None:
        print("captured print")
        ran.set()

    before = sys.stdout
    scheduler = Scheduler(capture_output=True)
    scheduler.every(60, job, run_on_start=True, task_id="job")
    scheduler.start()
    try:
        assert ran.wait(DEADLINE_SECONDS)
    finally:
        scheduler.stop()
    assert sys.stdout is before
    assert capsys.readouterr().out == ""
    assert lines_of(caplog, CAPTURE_LOGGER) == [("INFO", "task job | captured print")]


# -- through the command line -------------------------------------------------------


JOBS = f'''
import logging, sys

def chatty():
    print("hello from print")
    print("token {SECRET}")
    sys.stderr.write("progress 50%\\n")
    logging.getLogger("jobs").warning("logged with %s", "{SECRET}")
'''


@pytest.fixture
def python_config(write_config: WriteConfig, tmp_path: Path) -> Iterator[Callable[..., Path]]:
    (tmp_path / "jobs.py").write_text(JOBS)

    def write(**fields: object) -> Path:
        task = {"task_id": "chatty", "task_type": "python", "entry_point": "jobs:chatty",
                "interval_seconds": 60, "run_on_start": True,
                "env": {"TOKEN": SECRET}, **fields}
        return write_config({"tasks": [task]})

    yield write


def test_run_of_a_printing_python_task_logs_its_output_and_prints_only_the_result(
        python_config: Callable[..., Path]) -> None:
    completed = run_cli("--run", "chatty", "--config", python_config(stderr_level="INFO"))

    assert completed.returncode == 0
    assert completed.stdout.startswith("task chatty: succeeded in ")
    assert completed.stdout.count("\n") == 1
    assert SECRET not in completed.stderr
    assert log_messages(completed.stderr) == [
        "task chatty started", "task chatty | hello from print", "task chatty | token ***",
        "task chatty | progress 50%", "logged with ***"]
    levels = [line.split()[2] for line in completed.stderr.splitlines() if "50%" in line]
    assert levels == ["INFO"]


def test_json_log_of_a_printing_python_task_is_json_on_every_line(
        python_config: Callable[..., Path]) -> None:
    completed = run_cli("--log-format", "json", "--duration", "0.5",
                        "--config", python_config())

    assert completed.returncode == 0
    assert completed.stdout == ""
    entries = [json.loads(line) for line in completed.stderr.splitlines()]
    assert SECRET not in completed.stderr
    output = [(entry["level"], entry["task_id"], entry["run"], entry["attempt"],
               entry["message"]) for entry in entries
              if entry["logger"] in (CAPTURE_LOGGER, "jobs")]
    assert output == [
        ("INFO", "chatty", 1, 1, "task chatty | hello from print"),
        ("INFO", "chatty", 1, 1, "task chatty | token ***"),
        ("WARNING", "chatty", 1, 1, "task chatty | progress 50%"),
        ("WARNING", "chatty", 1, 1, "logged with ***")]


# -- stderr_level in the config -----------------------------------------------------


def test_stderr_level_is_read_from_the_config_and_defaults_to_warning(
        write_config: WriteConfig) -> None:
    config = load_config(write_config({"tasks": [
        shell_task_entry("quiet", "true", 60, stderr_level="DEBUG"),
        shell_task_entry("plain", "true", 60)]}))

    assert [(task.task_id, task.stderr_level) for task in config.tasks] == [
        ("quiet", "DEBUG"), ("plain", "WARNING")]
    assert shell_task("t", 1).stderr_level == "WARNING"


@pytest.mark.parametrize(("value", "found"), [
    ("warn", '"warn" (a string); did you mean "WARNING"?'),
    ("info", '"info" (a string); did you mean "INFO"?'),
    ("CRITICAL", '"CRITICAL" (a string)'),
    (30, "30"),
], ids=["prefix", "lower-case", "not-a-choice", "a-number"])
def test_bad_stderr_level_is_one_problem_naming_the_choices(
        write_config: WriteConfig, value: object, found: str) -> None:
    path = write_config({"tasks": [shell_task_entry("noisy", "true", 60, stderr_level=value)]})

    config = load_config(path)

    assert [str(problem) for problem in config.problems] == [
        f'{path}: task #1 "noisy": stderr_level: expected "DEBUG", "INFO", "WARNING" or '
        f'"ERROR", found {found}']
