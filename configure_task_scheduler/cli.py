"""The command line: the only module that touches the process.

It parses arguments, configures logging, loads the config, wires the
pipeline together (registry -> engine -> executor), installs the SIGINT and
SIGTERM handlers and turns every outcome into an exit code: 0 success, 1 a
task run failed (`--run`), 2 bad input. Nothing imports this module.
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from . import __version__
from .addons import preview
from .addons.http import HttpError
from .clock import RealClock
from .config import (
    HTTP_ADDRESS_EXPECTED,
    LoadedConfig,
    insecure_config_reason,
    load_config,
    parse_http_address,
)
from .errors import ConfigError
from .execution import PoolExecutor
from .log_formats import JsonFormatter, TextFormatter
from .scheduler import Scheduler
from .schedules import describe_seconds
from .task import Run, RunResult, RunStatus, Task, log_fields

logger = logging.getLogger("configure_task_scheduler.cli")

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")

EXAMPLES = """\
examples:
  python main.py --config config/tasks.json          run until Ctrl-C or SIGTERM
  python main.py --check                             validate the config, list its tasks
  python main.py --run hello                         run one task now, print its result
  python main.py --duration 10 --log-level DEBUG     run for 10 seconds, show queue decisions
  python main.py --log-format json 2>> tasks.jsonl   log one JSON object per line, for collectors
  python main.py --next 5                            each task's schedule and next 5 runs
  python main.py --simulate 7d                       the runs of the coming week, in a second
  python main.py --http 8080                         also serve a status page on 127.0.0.1:8080

exit status: 0 ok (also after SIGINT/SIGTERM), 1 the task given to --run failed,
2 bad config or arguments, 130 a second Ctrl-C or Ctrl-C during --run
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser (its --help is the CLI reference)."""
    parser = argparse.ArgumentParser(
        prog="python main.py", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run tasks from a JSON config on interval, cron and one-shot schedules.")
    parser.add_argument("--config", default="config/tasks.json", metavar="PATH",
                        help="the config file (default: %(default)s)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="validate the config, print its tasks and problems, exit 0 or 2")
    mode.add_argument("--run", metavar="TASK_ID",
                      help="run one task now in the foreground, exit 0 if it succeeded")
    mode.add_argument("--duration", type=_positive_seconds, metavar="SECONDS",
                      help="run for this long, then shut down gracefully")
    mode.add_argument("--next", type=_positive_int, metavar="N",
                      help="print each enabled task's schedule and its next N runs, then exit")
    mode.add_argument("--simulate", type=_duration, metavar="DURATION",
                      help="print the runs the scheduler would start from now on, executing "
                           "nothing (90s, 15m, 6h, 2d or seconds)")
    parser.add_argument("--strict", action="store_true",
                        help="treat any problem in the config as fatal (exit 2)")
    parser.add_argument("--max-workers", type=_positive_int, metavar="N",
                        help="runs that may execute at once (default: scheduler.max_workers)")
    parser.add_argument("--http", type=_http_address, metavar="[HOST:]PORT",
                        help="serve the status page, JSON API (/api/tasks, /api/runs, "
                             "/healthz) and /metrics while running; HOST defaults to "
                             "127.0.0.1, PORT 0 picks a free port; set CTS_HTTP_TOKEN to "
                             "enable control (default: scheduler.http)")
    parser.add_argument("--allow-insecure-config", action="store_true",
                        help="load the config even if it is unsafe, e.g. writable by other "
                             "users (its commands run with your rights)")
    add_logging_arguments(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def add_logging_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --log-level and --log-format to `parser`."""
    parser.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, metavar="LEVEL",
                        help="DEBUG, INFO, WARNING or ERROR (default: $LOG_LEVEL, else INFO)")
    parser.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                        help="text: one escaped line per event; json: one JSON object per "
                             "line with the run's fields (default: %(default)s)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (130 if interrupted by Ctrl-C)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # before the handlers are installed, or during --run
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = args.log_level or os.environ.get("LOG_LEVEL", "INFO").upper()
    if level not in LOG_LEVELS:
        parser.error(f"LOG_LEVEL={level!r} is not one of {', '.join(LOG_LEVELS)}")
    configure_logging(level, args.log_format)
    config = read_config(args.config, args.allow_insecure_config)
    if config is None:
        return EXIT_BAD_INPUT
    if args.check:
        return check(config)
    if config.problems and args.strict:
        for problem in config.problems:
            print(problem, file=sys.stderr)
        return EXIT_BAD_INPUT
    for problem in config.problems:
        logger.error("%s (task skipped)", problem)
    if args.run:
        return run_one(config, args.run)
    if args.next:
        preview.print_next(config.tasks, RealClock().wall(), args.next, sys.stdout)
        return EXIT_OK
    if args.simulate:
        return simulate(config, args.simulate, show_decisions=level == "DEBUG")
    check_file = None if args.allow_insecure_config else insecure_config_reason
    return serve(config, args.max_workers or config.settings.max_workers, args.duration,
                 check_file, args.http)


def configure_logging(level: str, log_format: str = "text") -> None:
    """Log one line per event to stderr, as escaped text or as JSON (see `logs`).

    Args:
        level: the lowest level shown, one of `LOG_LEVELS`.
        log_format: "text" or "json".
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=level, handlers=[handler])


def read_config(path: str, allow_insecure: bool) -> LoadedConfig | None:
    """Load the config unless other users could change it; print why not on stderr.

    A missing file is left to the loader, whose message says so.

    Args:
        path: the config file.
        allow_insecure: skip the safety check (--allow-insecure-config).

    Returns:
        The loaded config, or None if it was refused or could not be read.
    """
    reason = None if allow_insecure or not Path(path).exists() else insecure_config_reason(path)
    if reason:
        print(reason, file=sys.stderr)
        return None
    try:
        return load_config(path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return None


def check(config: LoadedConfig) -> int:
    """Print the tasks and every problem; return 0 if there are none, else 2.

    A one-shot whose time has passed is reported too, but is not a problem:
    the file is valid, the task just has nothing left to do.
    """
    enabled = sum(task.enabled for task in config.tasks)
    print(f"{config.path}: {plural(len(config.tasks), 'valid task')} ({enabled} enabled), "
          f"{plural(len(config.problems), 'problem')}")
    rows = [(task.task_id, task.task_type.value, task.schedule.describe(),
             "enabled" if task.enabled else "disabled") for task in config.tasks]
    for row in rows:
        print("  " + format_row(row, rows))
    now = RealClock().wall()
    for task in config.tasks:
        if task.enabled and not preview.next_runs(task, now, 1):
            print(f'{config.path}: task "{task.task_id}": {task.schedule.describe()} is in '
                  "the past; it will not run")
    for problem in config.problems:
        print(problem)
    return EXIT_BAD_INPUT if config.problems else EXIT_OK


def plural(count: int, noun: str) -> str:
    """Return "1 task" or "3 tasks"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def format_row(row: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-align `row` in columns as wide as the widest cell of `rows`."""
    widths = [max(len(other[column]) for other in rows) for column in range(len(row))]
    return "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()


def run_one(config: LoadedConfig, task_id: str) -> int:
    """Run one task now in the foreground; return 0 if it succeeded, 1 if not, 2 if unknown."""
    task = next((task for task in config.tasks if task.task_id == task_id), None)
    if task is None:
        known = ", ".join(task.task_id for task in config.tasks) or "none"
        print(f'{config.path}: no task "{task_id}"; known task ids: {known}', file=sys.stderr)
        return EXIT_BAD_INPUT
    result = _execute_now(task)
    detail = f": {result.error}" if result.error else ""
    print(f"task {task_id}: {result.status.value} in {result.duration_seconds:.2f}s{detail}")
    status = EXIT_OK if result.status is RunStatus.SUCCEEDED else EXIT_RUN_FAILED
    _exit_now_if_threads_are_stuck(status)
    return status


def _execute_now(task: Task) -> RunResult:
    clock = RealClock()
    executor = PoolExecutor(max_workers=1, clock=clock)
    reporter = _OneResult()
    executor.submit(Run(task, 1, clock.wall(), clock.monotonic()), reporter)
    try:
        reporter.done.wait()
    except KeyboardInterrupt:  # Ctrl-C: a shell task's process group goes too
        executor.shutdown(0)
        _exit_now_if_threads_are_stuck(EXIT_INTERRUPTED)
        raise
    executor.shutdown(0)
    assert reporter.result is not None
    return reporter.result


class _OneResult:
    """A `RunReporter` that keeps the result of a single run."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: RunResult | None = None

    def run_started(self, run: Run, started_at: object, started_monotonic: float) -> bool:
        logger.info("task %s started", run.task.task_id, extra=log_fields(run, "run_started"))
        return True

    def run_finished(self, run: Run, result: RunResult) -> None:
        self.result = result
        self.done.set()

    def run_released(self, run: Run) -> None:
        pass


def simulate(config: LoadedConfig, duration_seconds: float, show_decisions: bool) -> int:
    """Print the timeline of runs the next `duration_seconds` would bring; return 0."""
    if not show_decisions:  # the timeline replaces the engine's per-run log lines
        logging.getLogger("configure_task_scheduler").setLevel(logging.WARNING)
    start = RealClock().wall()
    counts = preview.simulate(config.tasks, start, duration_seconds, sys.stdout)
    span = describe_seconds(duration_seconds)
    span = span if span[0].isdigit() else f"1 {span}"
    print(f"-- {plural(sum(counts.values()), 'run')} in {span} "
          f"from {start.astimezone():%Y-%m-%d %H:%M:%S %z}:")
    preview.print_counts(config.tasks, counts, sys.stdout)
    return EXIT_OK


def serve(config: LoadedConfig, max_workers: int, duration: float | None,
          check_file: Callable[[str], str | None] | None, http: str | None = None) -> int:
    """Run the scheduler until a signal (or for `duration` seconds); return 0.

    SIGHUP (or a change to the file) reloads the config without a restart.
    Returns 2 if the HTTP server cannot listen (--http or scheduler.http).
    """
    scheduler = Scheduler.from_loaded(config, max_workers=max_workers, check_file=check_file,
                                      http=http)
    install_signal_handlers(scheduler)
    try:
        run_awake_to_signals(lambda: scheduler.run_forever(duration))
    except HttpError as problem:
        print(problem, file=sys.stderr)
        return EXIT_BAD_INPUT
    _exit_now_if_threads_are_stuck(EXIT_OK)
    return EXIT_OK


def run_awake_to_signals(work: Callable[[], None]) -> None:
    """Run `work` on a thread while the main thread waits for it, woken by every signal.

    The kernel may deliver SIGINT or SIGTERM to any thread, but Python runs
    the handler in the main thread, and only when it next runs bytecode: a
    main thread blocked on a lock (the engine's sleep, a shutdown's wait)
    would not notice for up to a minute. select() on the wakeup fd returns
    as soon as any thread receives a signal.
    """
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)  # required by set_wakeup_fd
    done = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # re-raised in the main thread
            failures.append(error)
        done.set()
        os.write(write_fd, b"\0")  # after done: the main thread checks it once woken

    thread = threading.Thread(target=run, name="scheduler")
    previous = signal.set_wakeup_fd(write_fd)
    try:
        thread.start()
        while not done.is_set():
            select.select([read_fd], [], [])
            os.read(read_fd, 4096)
        thread.join()  # its last write is done before the pipe is closed
    finally:
        signal.set_wakeup_fd(previous)
        os.close(read_fd)
        os.close(write_fd)
    if failures:
        raise failures[0]


def install_signal_handlers(scheduler: Scheduler) -> None:
    """SIGINT/SIGTERM stop gracefully (a second SIGINT exits at once); SIGHUP reloads."""
    received: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if received and signum == signal.SIGINT:
            logger.warning("second SIGINT: exiting at once")
            logging.shutdown()
            os._exit(128 + signum)
        received.append(signum)
        logger.info("received %s: no new runs will start", name)
        scheduler.stop()

    def reload(signum: int, frame: FrameType | None) -> None:
        logger.info("received SIGHUP: reloading the config")
        scheduler.request_reload()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, reload)


def _exit_now_if_threads_are_stuck(status: int) -> None:
    """Exit without waiting for Python callables that outlived their timeout.

    The interpreter joins pool threads at exit, so a callable that never
    returns would otherwise keep the process alive forever.
    """
    stuck = [t for t in threading.enumerate() if t.name.startswith("task-worker") and t.is_alive()]
    if stuck:
        logger.warning("%d Python task threads still running; exiting without them", len(stuck))
        logging.shutdown()
        sys.stdout.flush()
        os._exit(status)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, found {text!r}")
    return value


def _duration(text: str) -> float:
    try:
        return preview.parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _http_address(text: str) -> str:
    if parse_http_address(text) is None:
        raise argparse.ArgumentTypeError(f"expected {HTTP_ADDRESS_EXPECTED}, found {text!r}")
    return text


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, found {text!r}")
    return int(text)
