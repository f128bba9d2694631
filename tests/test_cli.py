"""The command line, through real `python3 main.py` processes.

Each test runs the program as a user would and checks its exit status and
its whole output lines. The signal tests start it in the background and read
its log as it comes, waiting (with a deadline) for the line that says it is
ready for the next step, never for a fixed time.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_until
from test_executor import process_is_gone, read_pid

from configure_task_scheduler import __version__
from configure_task_scheduler.config.safety import insecure_config_reason

REPO_ROOT = Path(__file__).resolve().parent.parent
# Only reached when something is broken, never on the happy path.
DEADLINE_SECONDS = 10.0
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR)\s+(.*)")
RUN_STARTED = re.compile(r"task \S+ run \d+ (\(attempt \d+\) )?started( \d+\.\d+s late)?")


def environment() -> dict[str, str]:
    """The test's environment without LOG_LEVEL, so every run logs at INFO."""
    return {name: value for name, value in os.environ.items() if name != "LOG_LEVEL"}


def run_cli(*args: str | Path, module: bool = False,
            timeout_seconds: float = 60) -> subprocess.CompletedProcess[str]:
    program = ["-m", "configure_task_scheduler"] if module else ["main.py"]
    return subprocess.run([sys.executable, *program, *map(str, args)], cwd=REPO_ROOT,
                          env=environment(), capture_output=True, text=True,
                          timeout=timeout_seconds)


def log_messages(stderr: str) -> list[str]:
    """The messages of the log lines on stderr, without their time and level."""
    return [match[2] for match in map(LOG_LINE.fullmatch, stderr.splitlines()) if match]


def shell_task_entry(task_id: str, command: str, interval_seconds: Any,
                     **fields: Any) -> dict[str, Any]:
    """A shell task as the config file spells it."""
    return {"task_id": task_id, "task_type": "shell", "entry_point": command,
            "interval_seconds": interval_seconds, **fields}


class BackgroundScheduler:
    """`python3 main.py --config PATH [OPTIONS]` in the background; its log is read as it comes."""

    def __init__(self, config: Path, *options: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "main.py", "--config", str(config), *options], cwd=REPO_ROOT,
            env=environment(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        self._stderr = bytearray()

    @property
    def messages(self) -> list[str]:
        return log_messages(self._stderr.decode())

    def wait_for_log(self, pattern: str) -> None:
        """Read the log until a message matches `pattern` whole; fail after the deadline."""
        assert self.process.stderr is not None
        deadline = time.monotonic() + DEADLINE_SECONDS
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stderr, selectors.EVENT_READ)
            while not any(re.fullmatch(pattern, m) for m in self.messages):
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no {pattern!r} in the log:\n{self._stderr.decode()}"
                if selector.select(remaining):
                    chunk = os.read(self.process.stderr.fileno(), 65536)
                    assert chunk, f"exited before logging {pattern!r}:\n{self._stderr.decode()}"
                    self._stderr += chunk

    def send(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def exit_status(self) -> int:
        """Wait for the process to exit and read the rest of its log; return its exit status."""
        _, rest = self.process.communicate(timeout=DEADLINE_SECONDS)
        self._stderr += rest
        return self.process.returncode

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=DEADLINE_SECONDS)


@pytest.fixture
def start_scheduler() -> Iterator[Callable[[Path], BackgroundScheduler]]:
    started: list[BackgroundScheduler] = []

    def start(config: Path) -> BackgroundScheduler:
        started.append(BackgroundScheduler(config))
        return started[-1]

    yield start
    for scheduler in started:
        scheduler.stop()



# -- --check ------------------------------------------------------------------------


def test_check_lists_the_tasks_of_the_sample_config_and_exits_0() -> None:
    completed = run_cli("--check")

    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout.splitlines() == [
        "config/tasks.json: 5 valid tasks (4 enabled), 0 problems",
        "  hello           python  every minute                           enabled",
        "  disk_usage      shell   every 5 minutes, on the clock          enabled",
        "  weekday_report  shell   at 09:30 on Monday to Friday           enabled",
        "  month_end       shell   at 23:00 on the last day of the month  enabled",
        "  nightly_backup  shell   at 00:00                               disabled",
    ]


def test_check_prints_each_problem_on_one_line_and_exits_2(
        write_config: Callable[..., Path]) -> None:
    config = write_config({"tasks": [shell_task_entry("backup", "true", "10"),
                                     shell_task_entry("ok", "true", 5)]})

    completed = run_cli("--check", "--config", config)

    assert (completed.returncode, completed.stderr) == (2, "")
    assert completed.stdout.splitlines() == [
        f"{config}: 1 valid task (1 enabled), 1 problem",
        "  ok  shell  every 5 seconds  enabled",
        f'{config}: task #1 "backup": interval_seconds: expected a number > 0 and <= 315360000 (10 '
        f'years), '
        'found "10" (a string)',
    ]


# -- --run --------------------------------------------------------------------------


def test_run_runs_one_task_now_and_prints_its_result() -> None:
    completed = run_cli("--run", "hello")

    assert completed.returncode == 0
    assert re.fullmatch(r"task hello: succeeded in \d+\.\d\ds\n", completed.stdout)


def test_run_of_a_failing_task_prints_why_and_exits_1(
        write_config: Callable[..., Path]) -> None:
    config = write_config({"tasks": [shell_task_entry("fail", "exit 3", 60)]})

    completed = run_cli("--run", "fail", "--config", config)

    assert completed.returncode == 1
    assert re.fullmatch(r"task fail: failed in \d+\.\d\ds: exit code 3\n", completed.stdout)


def test_run_of_an_unknown_task_exits_2_and_lists_the_known_ids() -> None:
    completed = run_cli("--run", "unknown")

    assert (completed.returncode, completed.stdout) == (2, "")
    assert completed.stderr == ('config/tasks.json: no task "unknown"; '
                                "known task ids: hello, disk_usage, weekday_report, month_end, "
                                "nightly_backup\n")


# -- bad input ----------------------------------------------------------------------


def test_missing_config_file_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"

    completed = run_cli("--config", missing)

    assert (completed.returncode, completed.stdout) == (2, "")
    assert completed.stderr == f"{missing}: no such file (give another one with --config PATH)\n"


def test_check_reports_an_entry_point_module_that_exits_at_import_and_exits_2(
        write_config: Callable[..., Path]) -> None:
    config = write_config({"tasks": [
        shell_task_entry("ok", "true", 60),
        {"task_id": "script", "task_type": "python", "entry_point": "cli_exiting_script:main",
         "interval_seconds": 60}]})
    (config.parent / "cli_exiting_script.py").write_text(
        "import argparse\n"
        "parser = argparse.ArgumentParser(prog='script.py')\n"
        "parser.add_argument('target')\n"
        "arguments = parser.parse_args()\n")

    completed = run_cli("--check", "--config", config)

    assert completed.returncode == 2
    assert completed.stdout.splitlines() == [
        f"{config}: 1 valid task (1 enabled), 1 problem",
        "  ok  shell  every minute  enabled",
        # argparse read the scheduler's own command line: its error says so.
        f'{config}: task #2 "script": entry_point: importing "cli_exiting_script" raised '
        'SystemExit(2); its last line on stderr: "script.py: error: unrecognized arguments: '
        '--check --config"']
    assert "usage:" not in completed.stdout + completed.stderr


EXTREME_PROBLEM = ('task #1 "huge": interval_seconds: expected a number > 0 and <= 315360000 '
                   "(10 years), found 300000000000.0")


@pytest.mark.parametrize("mode, status, last_line", [
    (["--check"], 2, "  last  shell  once at 9999-12-31 23:59:00+00:00  enabled"),  # listed
    (["--next", "2"], 0, "  9999-12-31 23:59:00+00:00"),
    (["--simulate", "1d"], 0, "last  0 runs"),
    (["--run", "last"], 0, None),
    (["--duration", "0.2"], 0, None),
], ids=["check", "next", "simulate", "run", "duration"])
def test_huge_interval_and_an_at_in_year_9999_end_in_one_line_problems_in_every_mode(
        write_config: Callable[..., Path], mode: list[str], status: int,
        last_line: str | None) -> None:
    config = write_config({"scheduler": {"timezone": "UTC"}, "tasks": [
        shell_task_entry("huge", "true", 3e11),
        {"task_id": "last", "task_type": "shell", "entry_point": "true",
         "at": "9999-12-31T23:59:00", "jitter_seconds": 315360000}]})

    completed = run_cli(*mode, "--config", config)

    output = completed.stdout + completed.stderr
    assert completed.returncode == status
    assert "Traceback" not in output and "OverflowError" not in output
    problem_lines = [line for line in output.splitlines() if EXTREME_PROBLEM in line]
    assert [line.partition(f"{config}: ")[2] for line in problem_lines] in (
        [EXTREME_PROBLEM], [EXTREME_PROBLEM + " (task skipped)"])
    if last_line is not None:
        assert last_line in completed.stdout.splitlines()
    if mode[0] == "--run":
        assert re.fullmatch(r"task last: succeeded in \d+\.\d\ds\n", completed.stdout)


def test_invalid_json_exits_2_naming_line_and_column(write_config: Callable[..., Path]) -> None:
    config = write_config('{\n  "tasks": [}\n')

    completed = run_cli("--config", config)

    assert (completed.returncode, completed.stdout) == (2, "")
    assert completed.stderr == f"{config}: line 2, column 13: invalid JSON: Expecting value\n"


def test_zero_duration_is_rejected_by_the_argument_parser() -> None:
    completed = run_cli("--duration", "0")

    assert completed.returncode == 2
    assert completed.stderr.splitlines()[-1] == (
        "python3 main.py: error: argument --duration: "
        "expected a number of seconds > 0, found '0'")


def test_strict_refuses_a_config_with_one_bad_task(write_config: Callable[..., Path]) -> None:
    config = write_config({"tasks": [shell_task_entry("bad", "true", 0),
                                     shell_task_entry("ok", "echo ran", 60, run_on_start=True)]})

    completed = run_cli("--strict", "--duration", "5", "--config", config)

    assert (completed.returncode, completed.stdout) == (2, "")
    assert completed.stderr == (f'{config}: task #1 "bad": interval_seconds: '
                                "expected a number > 0 and <= 315360000 (10 years), found 0\n")


def test_without_strict_a_bad_task_is_logged_and_the_valid_tasks_run(
        write_config: Callable[..., Path]) -> None:
    config = write_config({"tasks": [shell_task_entry("bad", "true", 0),
                                     shell_task_entry("ok", "echo ran", 60, run_on_start=True)]})

    completed = run_cli("--duration", "0.3", "--config", config)

    assert completed.returncode == 0
    messages = log_messages(completed.stderr)
    assert messages[0] == (f'{config}: task #1 "bad": interval_seconds: '
                           "expected a number > 0 and <= 315360000 (10 years), found 0 (task "
                           "skipped)")
    assert "task ok | ran" in messages


# -- the scheduler ------------------------------------------------------------------


def test_duration_runs_the_scheduler_then_stops_it(write_config: Callable[..., Path]) -> None:
    config = write_config({"tasks": [shell_task_entry("tick", "echo tick", 0.2)]})

    completed = run_cli("--duration", "1", "--config", config)

    assert (completed.returncode, completed.stdout) == (0, "")
    messages = log_messages(completed.stderr)
    assert messages[0] == "scheduler started with 1 task (1 enabled)"
    assert "task tick | tick" in messages
    assert ("scheduler stopping: waiting up to 10s for runs in flight, then up to 3s to "
            "terminate what is left") in messages
    assert messages[-1] == "scheduler stopped"


CONSOLE_SCRIPT = """\
import sys
from configure_task_scheduler.cli import main
sys.exit(main())
"""


def run_console_script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as pip's `configure-task-scheduler` script does: `main()`, named by argv[0]."""
    script = tmp_path / "configure-task-scheduler"
    script.write_text(CONSOLE_SCRIPT)
    return subprocess.run([sys.executable, str(script), *args], cwd=REPO_ROOT,
                          env={**environment(), "PYTHONPATH": str(REPO_ROOT)},
                          capture_output=True, text=True, timeout=DEADLINE_SECONDS)


def test_version_names_the_command_as_it_was_invoked(tmp_path: Path) -> None:
    results = [run_cli("--version"), run_cli("--version", module=True),
               run_console_script(tmp_path, "--version")]

    assert [(r.returncode, r.stdout, r.stderr) for r in results] == [
        (0, f"python3 main.py {__version__}\n", ""),
        (0, f"python3 -m configure_task_scheduler {__version__}\n", ""),
        (0, f"configure-task-scheduler {__version__}\n", "")]


def test_usage_and_examples_name_the_command_as_it_was_invoked(tmp_path: Path) -> None:
    module_help = run_cli("--help", module=True).stdout
    script_help = run_console_script(tmp_path, "--help").stdout

    assert module_help.splitlines()[0].startswith(
        "usage: python3 -m configure_task_scheduler [-h] [--config PATH]")
    assert "  python3 -m configure_task_scheduler --check" in module_help
    assert "python main.py" not in module_help
    assert script_help.splitlines()[0].startswith("usage: configure-task-scheduler [-h]")
    assert "  configure-task-scheduler --simulate 7d" in script_help


def test_help_says_configs_may_be_json_or_toml() -> None:
    help_text = " ".join(run_cli("--help").stdout.split())

    assert "Run tasks from a JSON or TOML config on interval, cron and one-shot schedules." \
        in help_text
    assert "--config PATH the config file, .json or .toml (default: config/tasks.json)" \
        in help_text


# -- log formats --------------------------------------------------------------------


JSON_KEYS = ["timestamp", "level", "logger", "task_id", "run", "attempt", "event", "status",
             "duration", "exit_code", "message"]
JSON_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d")


def test_json_log_format_writes_one_json_object_per_stderr_line(
        write_config: Callable[..., Path]) -> None:
    config = write_config({"tasks": [shell_task_entry("colour", r"printf 'a\nb\033[31m'", 0.2)]})

    completed = run_cli("--log-format", "json", "--duration", "1", "--config", config)

    assert (completed.returncode, completed.stdout) == (0, "")
    entries = [json.loads(line) for line in completed.stderr.splitlines()]
    assert [list(entry) for entry in entries] == [JSON_KEYS] * len(entries)
    assert all(JSON_TIMESTAMP.fullmatch(entry["timestamp"]) for entry in entries)
    assert entries[0]["message"] == "scheduler started with 1 task (1 enabled)"
    assert entries[-1]["message"] == "scheduler stopped"
    output = {entry["message"] for entry in entries if entry["event"] == "output"}
    assert output == {"task colour | a", "task colour | b\x1b[31m"}
    finished = next(entry for entry in entries if entry["event"] == "run_finished")
    assert isinstance(finished.pop("duration"), float)
    assert re.fullmatch(r"task colour run 1 finished: succeeded in \d\.\d\ds",
                        finished.pop("message"))
    assert finished == {"timestamp": finished["timestamp"], "level": "INFO",
                        "logger": "configure_task_scheduler.runbook", "task_id": "colour",
                        "run": 1, "attempt": 1, "event": "run_finished", "status": "succeeded",
                        "exit_code": 0}


def test_json_output_lines_name_their_run_and_a_finished_run_its_exit_code(
        write_config: Callable[..., Path]) -> None:
    config = write_config({"tasks": [
        shell_task_entry("fail", "echo out; echo err >&2; exit 3", 60, run_on_start=True)]})

    completed = run_cli("--log-format", "json", "--duration", "1", "--config", config)

    entries = [json.loads(line) for line in completed.stderr.splitlines()]
    fields = ["level", "task_id", "run", "attempt", "event", "status", "exit_code", "message"]
    assert [[entry[field] for field in fields] for entry in entries
            if entry["task_id"] == "fail" and entry["event"] != "run_started"] == [
        ["INFO", "fail", 1, 1, "output", None, None, "task fail | out"],
        ["WARNING", "fail", 1, 1, "output", None, None, "task fail | err"],
        ["ERROR", "fail", 1, 1, "run_finished", "failed", 3,
         next(e["message"] for e in entries if e["event"] == "run_finished")],
    ]


def json_errors(completed: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """The JSON lines of stderr, each without its timestamp (checked to be one)."""
    entries = [json.loads(line) for line in completed.stderr.splitlines()]
    assert all(JSON_TIMESTAMP.fullmatch(entry.pop("timestamp")) for entry in entries)
    return entries


def error_entry(message: str, event: str | None = "config_error") -> dict[str, Any]:
    return {"level": "ERROR", "logger": "configure_task_scheduler.cli.errors",
            "task_id": None, "run": None, "attempt": None, "event": event, "status": None,
            "duration": None, "exit_code": None, "message": message}


def test_json_log_format_reports_an_unreadable_config_as_json(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"

    completed = run_cli("--log-format", "json", "--config", missing)

    assert (completed.returncode, completed.stdout) == (2, "")
    assert json_errors(completed) == [
        error_entry(f"{missing}: no such file (give another one with --config PATH)")]


def test_json_log_format_reports_strict_problems_and_unknown_tasks_as_json(
        write_config: Callable[..., Path]) -> None:
    config = write_config({"tasks": [shell_task_entry("bad", "true", 0),
                                     shell_task_entry("ok", "true", 60)]})

    strict = run_cli("--log-format", "json", "--strict", "--config", config)
    unknown = run_cli("--log-format", "json", "--run", "nope", "--config", config)

    assert (strict.returncode, strict.stdout, unknown.returncode, unknown.stdout) == (2, "", 2, "")
    problem = f'{config}: task #1 "bad": interval_seconds: expected a number > 0 and <= 315360000 (10 years), found 0'
    assert json_errors(strict) == [error_entry(problem)]
    skipped = json_errors(unknown)
    assert skipped[0]["message"] == f"{problem} (task skipped)"
    assert skipped[1:] == [error_entry(f'{config}: no task "nope"; known task ids: ok', None)]


def test_text_log_shows_a_line_forged_by_a_task_as_one_escaped_line(
        write_config: Callable[..., Path]) -> None:
    forger = r"printf 'x\r2026-01-01 00:00:00 INFO    fake\033[2J\n'"
    config = write_config({"tasks": [shell_task_entry("forge", forger, 60, run_on_start=True)]})

    completed = run_cli("--duration", "0.5", "--config", config)

    assert completed.returncode == 0
    assert "\x1b" not in completed.stderr
    forged = [line for line in completed.stderr.splitlines() if "fake" in line]
    assert len(forged) == 1
    assert log_messages(forged[0]) == [
        r"task forge | x\r2026-01-01 00:00:00 INFO    fake\x1b[2J"]


SECRET_TOKEN = "s3cr3t-t0ken-value"
FAILING_JOB = """\
def leak(context):
    token = context.env["API_TOKEN"]
    raise ValueError(f"login failed with {token}\\n2026-01-01 00:00:00 INFO    forged")
"""


def run_failing_python_task(write_config: Callable[..., Path],
                            *options: str) -> subprocess.CompletedProcess[str]:
    """Run a Python task whose exception holds a secret and a forged record, for 1 second."""
    config = write_config({"tasks": [{
        "task_id": "leak", "task_type": "python", "entry_point": "failing_job:leak",
        "interval_seconds": 60, "run_on_start": True,
        "env": {"API_TOKEN": "${CTS_TEST_TOKEN}"}}]})
    (config.parent / "failing_job.py").write_text(FAILING_JOB)
    return subprocess.run([sys.executable, "main.py", "--config", str(config), "--duration", "1",
                           *options], cwd=REPO_ROOT,
                          env={**environment(), "CTS_TEST_TOKEN": SECRET_TOKEN},
                          capture_output=True, text=True, timeout=60)


def test_text_log_shows_a_task_traceback_on_lines_prefixed_by_the_task(
        write_config: Callable[..., Path]) -> None:
    completed = run_failing_python_task(write_config)

    lines = completed.stderr.splitlines()
    start = lines.index(next(line for line in lines if line.endswith(" raised ValueError")))
    trace = list(itertools.takewhile(lambda line: line.startswith("task leak | "),
                                     lines[start + 1:]))
    assert completed.returncode == 0
    assert log_messages(lines[start]) == ["task leak run 1 raised ValueError"]
    assert trace[0] == "task leak | Traceback (most recent call last):"
    assert trace[-2:] == ["task leak | ValueError: login failed with ***",
                          "task leak | 2026-01-01 00:00:00 INFO    forged"]
    assert not any(line.startswith("2026-01-01 00:00:00") for line in lines)
    assert SECRET_TOKEN not in completed.stderr


def test_json_log_puts_a_task_traceback_in_its_own_redacted_field(
        write_config: Callable[..., Path]) -> None:
    completed = run_failing_python_task(write_config, "--log-format", "json")

    entries = [json.loads(line) for line in completed.stderr.splitlines()]
    [error] = [entry for entry in entries if entry["event"] == "run_error"]
    assert completed.returncode == 0
    assert list(error) == [*JSON_KEYS, "traceback"]
    assert (error["level"], error["task_id"], error["run"], error["message"]) == (
        "ERROR", "leak", 1, "task leak run 1 raised ValueError")
    assert error["traceback"].startswith("Traceback (most recent call last):\n")
    assert error["traceback"].endswith(
        "\nValueError: login failed with ***\n2026-01-01 00:00:00 INFO    forged")
    assert SECRET_TOKEN not in completed.stderr


# -- config file safety -------------------------------------------------------------


# "group-writable" is left out when the file's group is the owner's private group.
INSECURE_CONFIG_MESSAGE = (
    r'(?P<path>\S+): refusing a config that other users can change \(owner \S+, mode 0666, '
    r'(group-writable, )?writable by others\); anyone who can edit it can run commands as '
    r'you: run "chmod g-w,o-w (?P=path)", or pass --allow-insecure-config for a throwaway setup')
MODES = {"serve": (), "duration": ("--duration", "5"), "run": ("--run", "ok"),
         "check": ("--check",), "next": ("--next", "1"), "simulate": ("--simulate", "1h")}


@pytest.fixture
def group_writable_config(write_config: Callable[..., Path]) -> Path:
    """A valid config that group and others may write to (chmod works even as root)."""
    config = write_config({"tasks": [shell_task_entry("ok", "echo ran", 60)]})
    config.chmod(0o666)
    return config


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_a_group_writable_config_is_refused_in_every_mode_with_one_line(
        group_writable_config: Path, mode: tuple[str, ...]) -> None:
    completed = run_cli(*mode, "--config", group_writable_config,
                        timeout_seconds=DEADLINE_SECONDS)

    assert (completed.returncode, completed.stdout) == (2, "")
    assert completed.stderr == f"{insecure_config_reason(str(group_writable_config))}\n"
    message = re.fullmatch(INSECURE_CONFIG_MESSAGE, completed.stderr.rstrip("\n"))
    assert message is not None and message["path"] == str(group_writable_config)


def test_allow_insecure_config_loads_a_group_writable_config(group_writable_config: Path) -> None:
    completed = run_cli("--allow-insecure-config", "--run", "ok",
                        "--config", group_writable_config)

    assert completed.returncode == 0
    assert re.fullmatch(r"task ok: succeeded in \d+\.\d\ds\n", completed.stdout)


# -- signals ------------------------------------------------------------------------


def test_sigterm_lets_the_run_in_flight_finish_then_exits_0(
        write_config: Callable[..., Path],
        start_scheduler: Callable[[Path], BackgroundScheduler]) -> None:
    config = write_config({"tasks": [
        shell_task_entry("slow", "sleep 0.5; echo done", 0.1, run_on_start=True)]})
    scheduler = start_scheduler(config)
    scheduler.wait_for_log(r"task slow run 1 started")

    scheduler.send(signal.SIGTERM)

    assert scheduler.exit_status() == 0
    messages = scheduler.messages
    received = messages.index("received SIGTERM: no new runs will start")
    assert messages.index("task slow | done") > received
    assert [m for m in messages[received:] if RUN_STARTED.fullmatch(m)] == []
    assert any(re.fullmatch(r"task slow run 1 finished: succeeded in 0\.\d\ds", m)
               for m in messages)
    assert messages[-1] == "scheduler stopped"


def start_long_run(write_config: Callable[..., Path], tmp_path: Path,
                   start_scheduler: Callable[[Path], BackgroundScheduler],
                   shutdown_timeout_seconds: float) -> tuple[BackgroundScheduler, int]:
    """Start the scheduler with a 30 s shell run in flight; return it and the run's pid."""
    pidfile = tmp_path / "long.pid"
    long_task = shell_task_entry("long", f"echo $$ > {pidfile}; exec sleep 30", 60,
                                 run_on_start=True)
    config = write_config({"scheduler": {"shutdown_timeout_seconds": shutdown_timeout_seconds},
                           "tasks": [long_task]})
    scheduler = start_scheduler(config)
    return scheduler, read_pid(pidfile)


def group_is_gone(pgid: int) -> bool:
    """True if no live process is left in process group `pgid`.

    A killed member is reparented to PID 1 once the scheduler exits; in a
    container PID 1 may never reap it, so zombies count as gone.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # it exited meanwhile
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return False
    return True


@pytest.mark.parametrize(("signals", "status", "first_line"), [
    ((signal.SIGINT, signal.SIGINT), 130, "second SIGINT: stopping at once"),
    ((signal.SIGQUIT,), 131, "received SIGQUIT: stopping at once"),
], ids=["second-sigint", "sigquit"])
def test_second_sigint_exits_at_once_with_130(
        write_config: Callable[..., Path], tmp_path: Path,
        start_scheduler: Callable[[Path], BackgroundScheduler],
        kill_groups_at_exit: list[int], signals: tuple[signal.Signals, ...], status: int,
        first_line: str) -> None:
    # A shutdown timeout of an hour: an exit within the test's deadline is an exit "at once".
    scheduler, leader = start_long_run(write_config, tmp_path, start_scheduler, 3600)
    kill_groups_at_exit.append(leader)
    if len(signals) == 2:
        scheduler.send(signals[0])
        scheduler.wait_for_log(r"scheduler stopping: waiting up to 3600s for runs in flight, "
                               r"then up to 3s to terminate what is left")

    scheduler.send(signals[-1])

    assert scheduler.exit_status() == status
    messages = scheduler.messages
    terminating = messages.index(f"terminating 1 process group still running: long run 1 "
                                 f"(pgid {leader}); SIGTERM, then SIGKILL after 2s")
    assert messages.index(first_line) < terminating  # the engine's thread may log between
    assert messages[-1] == f"exiting at once with status {status}: 1 process group terminated"
    wait_until(lambda: group_is_gone(leader), DEADLINE_SECONDS)


SIGTERM_IGNORED = "trap '' TERM; echo $$ > {pidfile}; while :; do sleep 0.05; done"


def test_shutdown_announces_its_whole_length_then_keeps_to_its_phases(
        write_config: Callable[..., Path], tmp_path: Path,
        start_scheduler: Callable[[Path], BackgroundScheduler],
        kill_groups_at_exit: list[int]) -> None:
    # Before, the message announced only the 0.5s wait, although a command that
    # ignores SIGTERM adds the kill grace (and the drain) to it.
    pidfile = tmp_path / "stubborn.pid"
    task = shell_task_entry("stubborn", SIGTERM_IGNORED.format(pidfile=pidfile), 60,
                            run_on_start=True)
    config = write_config({"scheduler": {"shutdown_timeout_seconds": 0.5}, "tasks": [task]})
    scheduler = start_scheduler(config)
    leader = read_pid(pidfile)
    kill_groups_at_exit.append(leader)

    scheduler.send(signal.SIGTERM)

    assert scheduler.exit_status() == 0
    phases = [m for m in scheduler.messages if not m.startswith(("task stubborn run 1 started",
                                                                 "scheduler started"))]
    assert [re.sub(r"in \d+\.\d\ds", "in Ns", m) for m in phases] == [
        "received SIGTERM: no new runs will start",
        "scheduler stopping: waiting up to 0.5s for runs in flight, then up to 3s to "
        "terminate what is left",
        f"terminating 1 process group still running: stubborn run 1 (pgid {leader}); "
        "SIGTERM, then SIGKILL after 2s",
        "task stubborn run 1 finished: failed in Ns (killed by SIGKILL)",
        "task stubborn run 1 was cut short by the shutdown",
        "scheduler stopped",
    ]
    assert group_is_gone(leader)


def test_sigusr1_logs_a_status_dump_and_the_scheduler_keeps_running(
        write_config: Callable[..., Path], tmp_path: Path,
        start_scheduler: Callable[[Path], BackgroundScheduler],
        kill_groups_at_exit: list[int]) -> None:
    scheduler, leader = start_long_run(write_config, tmp_path, start_scheduler, 0.5)
    kill_groups_at_exit.append(leader)

    scheduler.send(signal.SIGUSR1)
    scheduler.wait_for_log(r"status: long: .*")
    scheduler.send(signal.SIGTERM)

    assert scheduler.exit_status() == 0  # before: killed by SIGUSR1, status -10, no log line
    messages = scheduler.messages
    at = messages.index("received SIGUSR1: status dump")
    assert re.fullmatch(r"status: long: running; 1 run in flight; next run at "
                        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d", messages[at + 1])
    assert messages[-1] == "scheduler stopped"
    assert group_is_gone(leader)


def test_sigterm_during_run_terminates_the_command_and_exits_143(
        write_config: Callable[..., Path], tmp_path: Path,
        kill_groups_at_exit: list[int]) -> None:
    pidfile = tmp_path / "slow.pid"
    config = write_config({"tasks": [
        shell_task_entry("slow", f"echo $$ > {pidfile}; exec sleep 30", 60)]})
    process = subprocess.Popen([sys.executable, "main.py", "--run", "slow", "--config",
                                str(config)], cwd=REPO_ROOT, env=environment(),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    leader = read_pid(pidfile)
    kill_groups_at_exit.append(leader)

    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=DEADLINE_SECONDS)

    assert process.returncode == 143
    assert log_messages(stderr)[-2:] == [
        "received SIGTERM: no new runs will start",
        f"terminating 1 process group still running: slow run 1 (pgid {leader}); "
        "SIGTERM, then SIGKILL after 2s"]
    assert stderr.splitlines()[-1] == "interrupted by SIGTERM"
    assert re.fullmatch(r"task slow: failed in \d+\.\d\ds: killed by SIGTERM\n", stdout)
    wait_until(lambda: group_is_gone(leader), DEADLINE_SECONDS)


LOOP_FAILURE = """
import os, sys
from configure_task_scheduler.engine import planning
from configure_task_scheduler.cli import main

pidfile, skew = sys.argv[1], planning.wall_clock_skew

def failing_skew(last, now):
    # Fails in the loop itself (outside the guarded actions), once a run is in flight.
    if os.path.exists(pidfile):
        raise RuntimeError("a bug in the loop")
    return skew(last, now)

planning.wall_clock_skew = failing_skew
sys.exit(main(sys.argv[2:]))
"""


def test_an_exception_in_the_loop_terminates_the_process_groups_and_exits_70(
        write_config: Callable[..., Path], tmp_path: Path,
        kill_groups_at_exit: list[int]) -> None:
    pidfile = tmp_path / "long.pid"
    config = write_config({"scheduler": {"shutdown_timeout_seconds": 0.2}, "tasks": [
        shell_task_entry("long", f"echo $$ > {pidfile}; exec sleep 30", 60, run_on_start=True),
        shell_task_entry("tick", "true", 0.05)]})
    process = subprocess.Popen([sys.executable, "-c", LOOP_FAILURE, str(pidfile), "--config",
                                str(config)], cwd=REPO_ROOT, env=environment(),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    leader = read_pid(pidfile)
    kill_groups_at_exit.append(leader)
    _, stderr = process.communicate(timeout=DEADLINE_SECONDS)

    assert process.returncode == 70
    assert "Traceback" not in stderr
    messages = log_messages(stderr)
    failed = messages.index("the scheduler failed: RuntimeError: a bug in the loop; "
                            "stopping")
    assert messages[failed + 1] == ("scheduler stopping: waiting up to 0.2s for runs in "
                                    "flight, then up to 3s to terminate what is left")
    assert (f"terminating 1 process group still running: long run 1 (pgid {leader}); "
            "SIGTERM, then SIGKILL after 2s") in messages[failed:]
    assert messages[-1] == "scheduler stopped"
    wait_until(lambda: group_is_gone(leader), DEADLINE_SECONDS)


NON_DAEMON_THREAD = """
import threading

def start_a_thread():
    # A task that leaves a non-daemon thread behind, blocked for ever.
    threading.Thread(target=threading.Event().wait, name="left-by-a-task", daemon=False).start()
"""


def test_a_thread_left_by_a_python_task_does_not_keep_the_cli_from_exiting(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    (tmp_path / "leaves_a_thread.py").write_text(NON_DAEMON_THREAD)
    config = write_config({"tasks": [{
        "task_id": "leaver", "task_type": "python", "run_on_start": True,
        "entry_point": "leaves_a_thread:start_a_thread", "interval_seconds": 60}]})

    # Before, the interpreter waited for the thread for ever (and ignored SIGTERM).
    completed = run_cli("--config", config, "--duration", "0.3",
                        timeout_seconds=DEADLINE_SECONDS)

    assert completed.returncode == 0
    assert log_messages(completed.stderr)[-2:] == [
        "scheduler stopped",
        "exiting without waiting for 1 thread that task code started: left-by-a-task"]


def test_sigterm_cuts_short_a_run_longer_than_the_shutdown_timeout(
        write_config: Callable[..., Path], tmp_path: Path,
        start_scheduler: Callable[[Path], BackgroundScheduler],
        kill_groups_at_exit: list[int]) -> None:
    scheduler, leader = start_long_run(write_config, tmp_path, start_scheduler, 0.5)
    kill_groups_at_exit.append(leader)

    scheduler.send(signal.SIGTERM)

    assert scheduler.exit_status() == 0
    messages = scheduler.messages
    assert any(re.fullmatch(r"task long run 1 finished: failed in \d+\.\d\ds "
                            r"\(killed by SIGTERM\)", m) for m in messages)
    assert messages[-2:] == ["task long run 1 was cut short by the shutdown",
                             "scheduler stopped"]
    wait_until(lambda: process_is_gone(leader), DEADLINE_SECONDS)


WORKER_SIGNAL_MODULE = """
import signal, threading, time

def send_sigterm_to_this_thread():
    # Wait until the main thread is blocked: while it runs bytecode it would notice anyway.
    stat = f"/proc/self/task/{threading.main_thread().native_id}/stat"
    deadline = time.monotonic() + 5
    while open(stat).read().rpartition(")")[2].split()[0] != "S" and time.monotonic() < deadline:
        time.sleep(0.001)
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
"""


def test_a_signal_that_lands_on_a_pool_thread_still_stops_the_scheduler_at_once(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    # The kernel may hand a process's signal to any thread; here it always goes
    # to a pool thread, while the main thread waits 60s for the next run.
    (tmp_path / "worker_signal.py").write_text(WORKER_SIGNAL_MODULE)
    config = write_config({"tasks": [{
        "task_id": "signal", "task_type": "python", "run_on_start": True,
        "entry_point": "worker_signal:send_sigterm_to_this_thread", "interval_seconds": 60}]})

    started = time.monotonic()
    completed = run_cli("--config", config, timeout_seconds=DEADLINE_SECONDS)

    assert completed.returncode == 0
    assert time.monotonic() - started < 5.0
    assert "received SIGTERM: no new runs will start" in log_messages(completed.stderr)


# -- the package --------------------------------------------------------------------


IMPORT_CHECK = """
import sys
import configure_task_scheduler
allowed = set(sys.stdlib_module_names) | {"configure_task_scheduler", "__main__"}
names = {name.partition(".")[0] for name in sys.modules} - allowed
# sysconfig's data module is stdlib, but its name depends on the platform.
print(sorted(name for name in names if not name.startswith("_sysconfigdata_")))
"""


def test_importing_the_package_pulls_in_only_the_standard_library() -> None:
    # -S: no site-packages .pth hooks, which would load non-stdlib modules at startup.
    completed = subprocess.run([sys.executable, "-S", "-c", IMPORT_CHECK], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=60)

    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout == "[]\n"


def test_ctrl_c_during_run_exits_130_at_once_and_kills_the_command(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    pidfile = tmp_path / "slow.pid"
    config = write_config({"tasks": [
        shell_task_entry("slow", f"echo $$ > {pidfile}; exec sleep 30", 60)]})
    process = subprocess.Popen([sys.executable, "main.py", "--run", "slow", "--config",
                                str(config)], cwd=REPO_ROOT, env=environment(),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    pid = read_pid(pidfile)

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=DEADLINE_SECONDS)

    assert process.returncode == 130
    assert stderr.splitlines()[-1] == "interrupted by SIGINT"
    assert "Traceback" not in stderr
    wait_until(lambda: process_is_gone(pid), DEADLINE_SECONDS)


# -- closed pipes ---------------------------------------------------------------------
# Python ignores SIGPIPE, so writing to a pipe whose reader is gone raises
# BrokenPipeError. The signal module's documentation ("Note on SIGPIPE") says
# to send what is left to /dev/null and exit with 1, the status Python uses on
# EPIPE: the CLI does that, quietly. A closed stderr loses the log, nothing else.


def run_until_stdout_is_closed(*args: str | Path) -> tuple[int, str, str]:
    """Run the CLI, read one line of its stdout, close the pipe; return (status, line, stderr).

    The stderr pipe is only read after the exit: a CLI that kept writing there
    (a traceback per line it could not print) would block and miss the deadline.
    """
    process = subprocess.Popen([sys.executable, "main.py", *map(str, args)], cwd=REPO_ROOT,
                               env=environment(), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    first_line = process.stdout.readline().decode()
    process.stdout.close()
    try:
        process.wait(timeout=DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"still running {DEADLINE_SECONDS}s after its stdout was closed")
    stderr = process.stderr.read().decode()
    process.stderr.close()
    return process.returncode, first_line, stderr


def many_tasks_config(write_config: Callable[..., Path]) -> Path:
    """1,000 tasks with long ids: more than a pipe's buffer of --check and --next output."""
    return write_config({"tasks": [
        shell_task_entry(f"task-{number:04}-" + "x" * 50, "true", 60) for number in range(1000)]})


def test_simulate_into_a_closed_pipe_stops_at_once_and_quietly() -> None:
    status, first_line, stderr = run_until_stdout_is_closed("--simulate", "7d")

    assert re.fullmatch(r"\S+ \S+  hello +run 1\n", first_line)
    assert (status, stderr) == (1, "")


@pytest.mark.parametrize("mode", [("--next", "100"), ("--check",)], ids=["next", "check"])
def test_next_and_check_into_a_closed_pipe_exit_1_quietly(
        write_config: Callable[..., Path], mode: tuple[str, ...]) -> None:
    config = many_tasks_config(write_config)

    status, first_line, stderr = run_until_stdout_is_closed(*mode, "--config", config)

    assert first_line.startswith(f"task-0000-{'x' * 50}: every minute" if mode[0] == "--next"
                                 else f"{config}: 1000 valid tasks (1000 enabled), 0 problems")
    assert (status, stderr) == (1, "")


def test_a_closed_stdout_is_one_debug_line(write_config: Callable[..., Path]) -> None:
    config = many_tasks_config(write_config)

    status, _, stderr = run_until_stdout_is_closed("--next", "100", "--config", config,
                                                   "--log-level", "DEBUG")

    assert status == 1
    assert log_messages(stderr) == ["stdout was closed by its reader; exiting with status 1"]
    assert len(stderr.splitlines()) == 1


def run_with_stderr_closed(*args: str | Path) -> tuple[int, str]:
    """Run the CLI with a stderr pipe whose reader is already gone; return (status, stdout)."""
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    try:
        completed = subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=REPO_ROOT,
                                   env=environment(), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=write_fd, text=True,
                                   timeout=DEADLINE_SECONDS)
    finally:
        os.close(write_fd)
    return completed.returncode, completed.stdout


@pytest.mark.parametrize(("args", "status"), [
    (("--config", "/nonexistent/tasks.json"), 2),
    (("--duration", "0.3", "--log-level", "DEBUG"), 0),
    (("--strict", "--duration", "0.3", "--config", "BAD"), 2),
    (("--bogus-option",), 2),
], ids=["config-error", "serve-with-log", "strict-problems", "bad-argument"])
def test_a_closed_stderr_loses_the_log_but_not_the_exit_status(
        write_config: Callable[..., Path], args: tuple[str, ...], status: int) -> None:
    bad = write_config({"tasks": [shell_task_entry("bad", "true", 0)]})
    args = tuple(str(bad) if arg == "BAD" else arg for arg in args)

    assert run_with_stderr_closed(*args) == (status, "")


def test_ctrl_c_during_run_of_a_hung_callable_still_ends_with_interrupted(
        write_config: Callable[..., Path]) -> None:
    config = write_config({"tasks": [{"task_id": "hang", "task_type": "python",
                                      "entry_point": "hung_job:hang", "interval_seconds": 60}]})
    (config.parent / "hung_job.py").write_text(
        "import threading\ndef hang():\n    threading.Event().wait()\n")
    process = subprocess.Popen([sys.executable, "main.py", "--run", "hang", "--config",
                                str(config)], cwd=REPO_ROOT, env=environment(),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    started = process.stderr.readline()

    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=DEADLINE_SECONDS)

    assert log_messages(started) == ["task hang started"]
    assert process.returncode == 130
    assert log_messages(rest) == ["received SIGINT: no new runs will start"]
    assert rest.splitlines()[-1] == "interrupted by SIGINT"
