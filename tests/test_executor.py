"""The executor with real subprocesses and real threads.

Every wait here is on a `threading.Event` or `wait_until`, with a deadline:
no test sleeps for a fixed time. Shell commands print or write what the test
needs to know (a pid, a line) instead of the test guessing how long they take.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import DEADLINE_SECONDS, RecordingReporter, shell_task, wait_until

from configure_task_scheduler.clock import RealClock
from configure_task_scheduler.config.loader import load_config
from configure_task_scheduler.execution.executor import PoolExecutor, describe_age
from configure_task_scheduler.execution.shell import OUTPUT_TAIL_BYTES
from configure_task_scheduler.task import Run, RunContext, RunStatus, Task, TaskType

EXECUTOR_LOGGER = "configure_task_scheduler.executor"
SHELL_LOGGER = "configure_task_scheduler.shell"
# Generous: only reached when something is broken, never on the happy path.


def shell_run(task_id: str, command: str | tuple[str, ...],
              timeout_seconds: float | None = None) -> Run:
    task = replace(shell_task(task_id, 60, timeout_seconds=timeout_seconds), entry_point=command)
    return new_run(task)


def python_run(task_id: str, target: Callable[[], Any],
               timeout_seconds: float | None = None) -> Run:
    task = Task(task_id=task_id, task_type=TaskType.PYTHON, entry_point=f"tests:{task_id}",
                schedule=shell_task(task_id, 60).schedule, timeout_seconds=timeout_seconds,
                target=target)
    return new_run(task)


def new_run(task: Task) -> Run:
    clock = RealClock()
    return Run(task, 1, clock.wall(), clock.monotonic())


def output_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == SHELL_LOGGER and r.levelno == level and " | " in r.getMessage()]


def read_pid(pidfile: Path) -> int:
    """Wait for a command to write its pid (and a newline) to `pidfile`; return it."""
    wait_until(lambda: pidfile.exists() and pidfile.read_text().endswith("\n"), DEADLINE_SECONDS)
    return int(pidfile.read_text())


def process_is_gone(pid: int) -> bool:
    """True if `pid` no longer runs.

    A killed grandchild is orphaned and reparented to PID 1; in a container
    PID 1 may never reap it, so a zombie ("Z" in /proc) counts as gone.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


# -- shell commands ---------------------------------------------------------------


def test_shell_string_runs_through_bin_sh(executor: PoolExecutor, reporter: RecordingReporter,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, SHELL_LOGGER)
    executor.submit(shell_run("sh", 'echo "$0" | tr a-z A-Z'), reporter)

    result = reporter.result_of("sh")

    assert (result.status, result.exit_code, result.error) == (RunStatus.SUCCEEDED, 0, "")
    assert output_lines(caplog, logging.INFO) == ["task sh | /BIN/SH"]
    assert reporter.calls == [("started", "sh"), ("released", "sh"), ("finished", "sh")]


def test_list_entry_point_runs_without_a_shell(executor: PoolExecutor,
                                               reporter: RecordingReporter,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, SHELL_LOGGER)
    executor.submit(shell_run("argv", ("echo", "$HOME", "a;b", "*")), reporter)

    result = reporter.result_of("argv")

    assert (result.status, result.exit_code, result.error) == (RunStatus.SUCCEEDED, 0, "")
    assert output_lines(caplog, logging.INFO) == ["task argv | $HOME a;b *"]


def test_failing_command_is_failed_with_its_exit_code(executor: PoolExecutor,
                                                      reporter: RecordingReporter) -> None:
    executor.submit(shell_run("fail", "exit 3"), reporter)

    result = reporter.result_of("fail")

    assert (result.status, result.exit_code, result.error) == (RunStatus.FAILED, 3, "exit code 3")


def test_missing_program_in_a_list_entry_point_fails_without_raising(
        executor: PoolExecutor, reporter: RecordingReporter) -> None:
    executor.submit(shell_run("nope", ("/nonexistent/program",)), reporter)

    result = reporter.result_of("nope")

    assert (result.status, result.exit_code) == (RunStatus.FAILED, None)
    assert result.error == "[Errno 2] No such file or directory: '/nonexistent/program'"


def test_output_lines_are_logged_with_the_task_id_stdout_at_info_stderr_at_warning(
        executor: PoolExecutor, reporter: RecordingReporter,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, SHELL_LOGGER)
    command = r"printf 'one\ntwo\n'; printf 'oops\nno newline' >&2; printf 'last'"
    executor.submit(shell_run("out", command), reporter)

    reporter.result_of("out")

    assert output_lines(caplog, logging.INFO) == ["task out | one", "task out | two",
                                                  "task out | last"]
    assert output_lines(caplog, logging.WARNING) == ["task out | oops", "task out | no newline"]


def test_last_partial_line_is_logged_when_a_background_process_keeps_the_pipe_open(
        executor: PoolExecutor, reporter: RecordingReporter, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, SHELL_LOGGER)
    pidfile = tmp_path / "leader.pid"
    executor.submit(shell_run("bg", f"echo $$ > {pidfile}; printf 'no newline'; sleep 30 &"),
                    reporter)
    leader = read_pid(pidfile)
    try:
        result = reporter.result_of("bg")
    finally:
        os.killpg(leader, signal.SIGKILL)

    assert (result.status, result.exit_code) == (RunStatus.SUCCEEDED, 0)
    assert output_lines(caplog, logging.INFO) == ["task bg | no newline"]


def test_shell_timeout_terminates_the_whole_process_group_grandchildren_included(
        executor: PoolExecutor, reporter: RecordingReporter, tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    executor.submit(shell_run("slow", f"sleep 60 & echo $! > {pidfile}; wait", 0.3), reporter)
    grandchild = read_pid(pidfile)

    result = reporter.result_of("slow")

    assert (result.status, result.exit_code) == (RunStatus.TIMED_OUT, -15)
    assert result.error == "timed out after 0.3s; process group terminated"
    wait_until(lambda: process_is_gone(grandchild), DEADLINE_SECONDS)


# -- Python callables -------------------------------------------------------------


def test_raising_python_task_fails_and_is_logged_while_other_runs_go_on(
        reporter: RecordingReporter, caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise ValueError("boom")

    ran = threading.Event()
    one_worker = PoolExecutor(max_workers=1, clock=RealClock())
    try:
        one_worker.submit(python_run("boom", boom), reporter)
        one_worker.submit(python_run("fine", ran.set), reporter)
        failed, succeeded = reporter.result_of("boom"), reporter.result_of("fine")
    finally:
        one_worker.shutdown(DEADLINE_SECONDS)

    assert (failed.status, failed.error) == (RunStatus.FAILED, "ValueError: boom")
    assert (succeeded.status, succeeded.error) == (RunStatus.SUCCEEDED, "")
    assert ran.is_set()
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "task boom run 1 raised ValueError"
    assert record.exc_info is not None and record.exc_info[0] is ValueError
    assert "Traceback (most recent call last)" in caplog.text


def test_task_calling_sys_exit_fails_and_its_worker_lives_on(
        reporter: RecordingReporter) -> None:
    def quit_process() -> None:
        sys.exit(3)

    one_worker = PoolExecutor(max_workers=1, clock=RealClock())
    try:
        one_worker.submit(python_run("quitter", quit_process), reporter)
        one_worker.submit(python_run("after", lambda: None), reporter)
        quitter, after = reporter.result_of("quitter"), reporter.result_of("after")
    finally:
        one_worker.shutdown(DEADLINE_SECONDS)

    assert (quitter.status, quitter.error) == (RunStatus.FAILED, "SystemExit: 3")
    assert after.status is RunStatus.SUCCEEDED


def test_python_callable_past_its_timeout_is_reported_at_once_but_released_when_it_returns(
        executor: PoolExecutor, reporter: RecordingReporter,
        caplog: pytest.LogCaptureFixture) -> None:
    let_return = threading.Event()
    executor.submit(python_run("stuck", lambda: let_return.wait(DEADLINE_SECONDS), 0.1),
                    reporter)

    assert reporter.finished.wait(DEADLINE_SECONDS)
    result = reporter.results["stuck"]
    assert (result.status, result.error) == (
        RunStatus.TIMED_OUT, "timed out after 0.1s (the call is still running)")
    assert not reporter.released.is_set()

    let_return.set()
    assert reporter.released.wait(DEADLINE_SECONDS)
    assert reporter.calls == [("started", "stuck"), ("finished", "stuck"), ("released", "stuck")]
    # The late return is logged just after the release, on the pool thread.
    wait_until(lambda: any("returned" in r.getMessage() for r in caplog.records),
               DEADLINE_SECONDS)
    [late] = [r.getMessage() for r in caplog.records if "returned" in r.getMessage()]
    assert re.fullmatch(r"task stuck run 1 returned \d+\.\d\ds after it timed out: succeeded",
                        late)


# -- shutdown ---------------------------------------------------------------------


def test_shutdown_terminates_a_shell_run_still_going_after_the_timeout_as_cut_short(
        reporter: RecordingReporter, tmp_path: Path) -> None:
    pidfile = tmp_path / "leader.pid"
    pool = PoolExecutor(max_workers=1, clock=RealClock())
    run = shell_run("long", f"echo $$ > {pidfile}; exec sleep 30")
    pool.submit(run, reporter)
    leader = read_pid(pidfile)

    started = time.monotonic()
    cut_short = pool.shutdown(timeout_seconds=0.2)
    elapsed = time.monotonic() - started

    assert cut_short == [run]
    assert 0.2 <= elapsed < 2.0
    result = reporter.result_of("long")
    assert (result.status, result.exit_code, result.error) == (
        RunStatus.FAILED, -15, "killed by SIGTERM")
    wait_until(lambda: process_is_gone(leader), DEADLINE_SECONDS)


def test_shutdown_waits_for_runs_that_finish_within_the_timeout(
        reporter: RecordingReporter) -> None:
    pool = PoolExecutor(max_workers=1, clock=RealClock())
    pool.submit(shell_run("quick", "sleep 0.2"), reporter)
    assert reporter.started.wait(DEADLINE_SECONDS)

    assert pool.shutdown(timeout_seconds=DEADLINE_SECONDS) == []
    assert reporter.results["quick"].status is RunStatus.SUCCEEDED


def test_shutdown_leaves_no_pool_threads_behind(reporter: RecordingReporter) -> None:
    pool = PoolExecutor(max_workers=2, clock=RealClock())
    pool.submit(shell_run("a", "true"), reporter)
    pool.submit(python_run("b", lambda: None), reporter)
    reporter.result_of("a"), reporter.result_of("b")

    assert pool.shutdown(timeout_seconds=1.0) == []

    assert [t.name for t in threading.enumerate() if t.name.startswith("cts-worker")] == []


def test_runs_due_together_run_at_the_same_time_on_up_to_max_workers_threads(
        reporter: RecordingReporter) -> None:
    together = threading.Barrier(3, timeout=DEADLINE_SECONDS)  # opens only for all three at once
    threads: list[str] = []

    def meet() -> None:
        threads.append(threading.current_thread().name)
        together.wait()

    pool = PoolExecutor(max_workers=3, clock=RealClock())
    try:
        for task_id in ("a", "b", "c"):
            pool.submit(python_run(task_id, meet), reporter)
        statuses = [reporter.result_of(task_id).status for task_id in ("a", "b", "c")]
    finally:
        pool.shutdown(DEADLINE_SECONDS)

    assert statuses == [RunStatus.SUCCEEDED] * 3
    assert sorted(threads) == ["cts-worker-0", "cts-worker-1", "cts-worker-2"]


def test_a_busy_pool_queues_runs_for_its_workers_instead_of_starting_more_threads(
        reporter: RecordingReporter) -> None:
    release = threading.Event()
    threads: list[str] = []

    def hold() -> None:
        threads.append(threading.current_thread().name)
        release.wait(DEADLINE_SECONDS)

    pool = PoolExecutor(max_workers=2, clock=RealClock())
    try:
        for task_id in ("a", "b", "c", "d"):
            pool.submit(python_run(task_id, hold), reporter)
        wait_until(lambda: len(threads) == 2, DEADLINE_SECONDS)
        running = sorted(threads)
        release.set()
        statuses = [reporter.result_of(task_id).status for task_id in ("a", "b", "c", "d")]
    finally:
        pool.shutdown(DEADLINE_SECONDS)

    assert running == ["cts-worker-0", "cts-worker-1"]
    assert statuses == [RunStatus.SUCCEEDED] * 4
    assert sorted(set(threads)) == ["cts-worker-0", "cts-worker-1"]


def test_run_still_queued_at_shutdown_is_released_without_starting(
        reporter: RecordingReporter, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pidfile = tmp_path / "leader.pid"
    pool = PoolExecutor(max_workers=1, clock=RealClock())
    pool.submit(shell_run("long", f"echo $$ > {pidfile}; exec sleep 30"), reporter)
    pool.submit(shell_run("queued", "true"), reporter)
    read_pid(pidfile)

    pool.shutdown(timeout_seconds=0.1)

    assert [call for call in reporter.calls if call[1] == "queued"] == [("released", "queued")]
    assert "task queued run 1 not started: the scheduler is stopping" in caplog.messages


def test_run_submitted_after_shutdown_is_released_without_starting(
        reporter: RecordingReporter, caplog: pytest.LogCaptureFixture) -> None:
    pool = PoolExecutor(max_workers=1, clock=RealClock())
    pool.shutdown(timeout_seconds=0)

    pool.submit(shell_run("late", "true"), reporter)

    assert reporter.calls == [("released", "late")]
    assert caplog.messages == ["task late run 1 not started: the scheduler is stopping"]


# -- cwd, context, output tails -----------------------------------------------------


def test_shell_command_runs_in_the_task_cwd(executor: PoolExecutor, reporter: RecordingReporter,
                                            tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, SHELL_LOGGER)
    run = shell_run("where", "pwd -P")
    executor.submit(replace(run, task=replace(run.task, cwd=str(tmp_path))), reporter)

    assert reporter.result_of("where").status is RunStatus.SUCCEEDED
    assert output_lines(caplog, logging.INFO) == [f"task where | {tmp_path.resolve()}"]


def test_relative_cwd_from_the_config_runs_in_the_config_directory_not_the_current_one(
        executor: PoolExecutor, reporter: RecordingReporter, tmp_path: Path,
        write_config: Callable[..., Path], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, SHELL_LOGGER)
    (tmp_path / "work").mkdir()
    config = load_config(write_config([{
        "task_id": "where", "task_type": "shell", "entry_point": "pwd -P",
        "interval_seconds": 60, "cwd": "work"}]))
    assert Path.cwd() != tmp_path and config.problems == []

    executor.submit(new_run(config.tasks[0]), reporter)

    assert reporter.result_of("where").status is RunStatus.SUCCEEDED
    assert output_lines(caplog, logging.INFO) == [f"task where | {(tmp_path / 'work').resolve()}"]


def test_missing_cwd_at_run_time_fails_the_run_without_raising(
        executor: PoolExecutor, reporter: RecordingReporter, tmp_path: Path) -> None:
    gone = tmp_path / "removed-after-loading"
    run = shell_run("gone", "true")
    executor.submit(replace(run, task=replace(run.task, cwd=str(gone))), reporter)

    result = reporter.result_of("gone")

    assert (result.status, result.exit_code) == (RunStatus.FAILED, None)
    assert result.error == f"[Errno 2] No such file or directory: '{gone}'"


def test_env_name_the_os_cannot_pass_fails_the_run_instead_of_leaving_it_running(
        executor: PoolExecutor, reporter: RecordingReporter) -> None:
    run = shell_run("bad-env", "true")
    executor.submit(replace(run, task=replace(run.task, env={"A=B": "value"})), reporter)

    result = reporter.result_of("bad-env")

    assert (result.status, result.error) == (RunStatus.FAILED, "illegal environment variable name")
    assert reporter.calls == [("started", "bad-env"), ("released", "bad-env"),
                              ("finished", "bad-env")]


def python_run_with(task_id: str, target: Callable[..., Any], run_number: int = 1,
                    attempt: int = 1, **fields: Any) -> Run:
    run = python_run(task_id, target)
    return replace(run, task=replace(run.task, **fields), run_number=run_number,
                   attempt=attempt)


def test_callable_with_a_context_parameter_gets_the_run_context(
        executor: PoolExecutor, reporter: RecordingReporter) -> None:
    received: list[tuple[str, RunContext]] = []

    def job(name: str, context: RunContext) -> None:
        received.append((name, context))

    run = python_run_with("ctx", job, run_number=7, attempt=3, args=("you",),
                          env={"MODE": "test"})
    executor.submit(run, reporter)

    result = reporter.result_of("ctx")
    assert (result.status, result.attempt) == (RunStatus.SUCCEEDED, 3)
    assert received == [("you", RunContext("ctx", 7, 3, run.planned_at, {"MODE": "test"}))]


def test_callable_with_a_keyword_only_context_parameter_gets_the_run_context(
        executor: PoolExecutor, reporter: RecordingReporter) -> None:
    received: list[RunContext] = []

    def job(*, context: RunContext) -> None:
        received.append(context)

    executor.submit(python_run_with("kw", job), reporter)

    assert reporter.result_of("kw").status is RunStatus.SUCCEEDED
    assert [context.task_id for context in received] == ["kw"]


def test_callable_without_a_context_parameter_is_called_with_its_arguments_only(
        executor: PoolExecutor, reporter: RecordingReporter) -> None:
    received: list[tuple[str, str]] = []

    def job(name: str, greeting: str = "hello") -> None:
        received.append((name, greeting))

    executor.submit(python_run_with("plain", job, args=("you",), kwargs={"greeting": "hi"}),
                    reporter)

    assert reporter.result_of("plain").status is RunStatus.SUCCEEDED
    assert received == [("you", "hi")]


def test_kwargs_catch_all_does_not_receive_context_only_a_parameter_named_context_does(
        executor: PoolExecutor, reporter: RecordingReporter) -> None:
    received: list[dict[str, Any]] = []

    def job(**kwargs: Any) -> None:
        received.append(kwargs)

    executor.submit(python_run_with("catch-all", job, kwargs={"size": 3}), reporter)

    assert reporter.result_of("catch-all").status is RunStatus.SUCCEEDED
    assert received == [{"size": 3}]


def test_star_args_named_context_does_not_receive_context_and_the_call_still_works(
        executor: PoolExecutor, reporter: RecordingReporter) -> None:
    received: list[tuple[Any, ...]] = []

    def job(*context: Any) -> None:
        received.append(context)

    executor.submit(python_run_with("star", job, args=(1, 2)), reporter)

    assert reporter.result_of("star").status is RunStatus.SUCCEEDED
    assert received == [(1, 2)]


def test_output_tails_keep_exactly_the_last_64_kib_of_each_stream(
        executor: PoolExecutor, reporter: RecordingReporter,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, SHELL_LOGGER)
    printed = "".join(f"line {number:06d}\n" for number in range(1, 10001))  # 117 KiB
    command = "seq -f 'line %06g' 1 10000; seq -f 'line %06g' 1 10000 >&2"
    executor.submit(shell_run("big", command), reporter)

    result = reporter.result_of("big")

    assert OUTPUT_TAIL_BYTES == 65536 and len(printed) > 100 * 1024
    assert result.stdout_tail == printed[-65536:]
    assert result.stderr_tail == printed[-65536:]
    assert result.stdout_tail.startswith("539\nline 004540\n")  # cut inside a line, as printed
    logged = output_lines(caplog, logging.INFO)
    assert (len(logged), logged[0], logged[-1]) == (
        10000, "task big | line 000001", "task big | line 010000")


@pytest.mark.filterwarnings("error")  # an unclosed pipe is a ResourceWarning when collected
def test_shell_run_closes_both_of_its_pipes(executor: PoolExecutor,
                                            reporter: RecordingReporter) -> None:
    executor.submit(shell_run("pipes", "echo out; echo err >&2"), reporter)

    assert reporter.result_of("pipes").status is RunStatus.SUCCEEDED
    gc.collect()


# -- a hung Python callable ------------------------------------------------------------


def test_a_timed_out_python_call_gives_its_worker_back_so_other_runs_go_on(
        reporter: RecordingReporter, caplog: pytest.LogCaptureFixture) -> None:
    # max_workers 1: before, the hung call held the only worker and "other" never ran.
    hung = threading.Event()
    pool = PoolExecutor(max_workers=1, clock=RealClock())
    try:
        pool.submit(python_run("hung", lambda: hung.wait(DEADLINE_SECONDS), 0.05), reporter)
        pool.submit(python_run("other", lambda: None), reporter)
        other = reporter.result_of("other")
        still_released = ("released", "hung") in reporter.calls
    finally:
        hung.set()
        pool.shutdown(DEADLINE_SECONDS)

    assert other.status is RunStatus.SUCCEEDED
    assert reporter.results["hung"].status is RunStatus.TIMED_OUT
    assert not still_released  # the hung run still counts as running until it returns
    assert ("configure_task_scheduler.executor", logging.WARNING,
            "task hung run 1: its worker thread is abandoned to the call (1 of at most "
            "16 abandoned threads); a new worker takes its place") in caplog.record_tuples


def test_abandoned_threads_are_capped_and_the_refusal_is_logged(
        reporter: RecordingReporter, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("configure_task_scheduler.execution.executor.MAX_ABANDONED_THREADS", 1)
    hung = threading.Event()
    pool = PoolExecutor(max_workers=2, clock=RealClock())
    try:
        for task_id in ("a", "b"):
            pool.submit(python_run(task_id, lambda: hung.wait(DEADLINE_SECONDS), 0.05),
                        reporter)
        wait_until(lambda: {"a", "b"} <= set(reporter.results), DEADLINE_SECONDS)
        wait_until(lambda: any("not replaced" in m for m in caplog.messages), DEADLINE_SECONDS)
    finally:
        hung.set()
        pool.shutdown(DEADLINE_SECONDS)

    # Both calls time out together: each timer logs its verdict after the pool's
    # lock, so the two lines may come in either order; which one is which is fixed.
    verdicts = [m for m in caplog.messages if "abandoned" in m and "timed out" not in m]
    first, second = sorted(verdicts, key=lambda message: "not replaced" in message)
    assert re.fullmatch(r"task [ab] run 1: its worker thread is abandoned to the call \(1 of "
                        r"at most 1 abandoned threads\); a new worker takes its place", first)
    assert re.fullmatch(r"task [ab] run 1: its worker is not replaced: 1 thread is already "
                        r"abandoned to a timed-out call \(the most kept\); the pool has one "
                        r"worker less until a call returns", second)


def test_shutdown_does_not_wait_for_an_abandoned_thread_and_reports_its_run(
        reporter: RecordingReporter) -> None:
    hung = threading.Event()
    pool = PoolExecutor(max_workers=1, clock=RealClock())
    hung_run = python_run("hung", lambda: hung.wait(DEADLINE_SECONDS), 0.05)
    pool.submit(hung_run, reporter)
    wait_until(lambda: "hung" in reporter.results, DEADLINE_SECONDS)

    left = pool.shutdown(DEADLINE_SECONDS)  # returns before the call: hung is still unset
    hung_set_after = not hung.is_set()
    hung.set()

    assert (left, hung_set_after) == ([hung_run], True)


def test_all_workers_busy_is_logged_once_with_the_longest_run_and_the_runs_waiting(
        reporter: RecordingReporter, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="configure_task_scheduler.executor")
    release = threading.Event()
    pool = PoolExecutor(max_workers=2, clock=RealClock())
    try:
        for task_id in ("backup", "sync"):  # one after the other: backup is the longest
            pool.submit(python_run(task_id, release.wait), reporter)
            wait_until(lambda: ("started", task_id) in reporter.calls, DEADLINE_SECONDS)
        for number in range(3):
            pool.submit(python_run(f"waiting{number}", lambda: None), reporter)
        release.set()
        for task_id in ("waiting0", "waiting1", "waiting2"):
            reporter.result_of(task_id)
    finally:
        pool.shutdown(DEADLINE_SECONDS)

    [message] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert re.fullmatch(r"all 2 workers busy \(longest: backup run 1 for \d+s\); "
                        r"1 run waiting", message), message


@pytest.mark.parametrize(("seconds", "words"), [
    (0.4, "0s"), (42, "42s"), (59.4, "59s"), (720, "12m"), (3599, "59m"), (3900, "1h05m"),
])
def test_ages_in_log_lines_are_short(seconds: float, words: str) -> None:
    assert describe_age(seconds) == words
