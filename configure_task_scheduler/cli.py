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
from dataclasses import replace
from pathlib import Path
from types import FrameType

from . import __version__
from .addons import export, preview, systemd_notify
from .addons.history import (
    InstanceLock,
    LockError,
    StateError,
    catch_up_problems,
    lock_path_for,
    report,
)
from .clock import FakeClock, RealClock
from .config import LoadedConfig, insecure_config_reason, load_config
from .errors import ConfigError
from .execution import PoolExecutor, RunLogFilter, capture_output
from .log_formats import JsonFormatter, MessageFormatter, TextFormatter
from .scheduler import Scheduler
from .schedules import describe_seconds
from .task import Run, RunResult, RunStatus, Secrets, Task, log_fields

logger = logging.getLogger("configure_task_scheduler.cli")
# What the user must read when nothing will run (a refused config, an unknown
# task id): a bare line in the text format, a JSON object in the json format.
errors = logging.getLogger("configure_task_scheduler.cli.errors")

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
# Python's documentation (the signal module's "Note on SIGPIPE") exits with 1
# when stdout's reader is gone, as Python itself does on EPIPE.
EXIT_OUTPUT_CLOSED = 1
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
# How long --run waits for the worker of a finished run to leave (it normally takes
# microseconds; the bound only matters if something is badly wrong).
RELEASED_WORKER_SECONDS = 5.0

# (arguments, what they do) for the --help examples, after the program's name.
EXAMPLES = (
    ("--config config/tasks.json", "run until Ctrl-C or SIGTERM"),
    ("--check", "validate the config, list its tasks"),
    ("--run hello", "run one task now, print its result"),
    ("--duration 10 --log-level DEBUG", "run for 10 seconds, show queue decisions"),
    ("--log-format json 2>> tasks.jsonl", "log one JSON object per line, for collectors"),
    ("--next 5", "each task's schedule and next 5 runs"),
    ("--simulate 7d", "the runs of the coming week, in a second"),
    ("--history backup --limit 5", "the last 5 runs of task backup"),
    ("--status --format json", "is it running, each task's last and next run"),
)
EXIT_STATUSES = """\
exit status: 0 ok (also after SIGINT/SIGTERM), 1 the task given to --run failed, --export
approximated or left out a task, or stdout was closed early (e.g. by `| head`), 2 bad
config or arguments, 130 a second Ctrl-C or Ctrl-C during --run
"""


def invoked_name(argv0: str | None = None) -> str:
    """Return how the user started the program, for usage lines and --version.

    `main.py` and `python -m` pass their own name to `main`; anything else (the
    installed `configure-task-scheduler` script) is named by `sys.argv[0]`.
    """
    return Path(argv0 if argv0 is not None else sys.argv[0]).name or "configure-task-scheduler"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """Return the argument parser (its --help is the CLI reference).

    Args:
        prog: the command as the user typed it, e.g. "python3 main.py";
            default: `invoked_name()`.
    """
    prog = prog or invoked_name()
    width = max(len(f"{prog} {arguments}") for arguments, _ in EXAMPLES)
    examples = "".join(f"  {prog + ' ' + arguments:<{width}}  {what}\n"
                       for arguments, what in EXAMPLES)
    parser = argparse.ArgumentParser(
        prog=prog, epilog=f"examples:\n{examples}\n{EXIT_STATUSES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run tasks from a JSON or TOML config on interval, cron and one-shot "
                    "schedules.")
    parser.add_argument("--config", default="config/tasks.json", metavar="PATH",
                        help="the config file, .json or .toml (default: %(default)s)")
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
    add_state_arguments(parser, mode)
    export.add_arguments(parser, mode)
    parser.add_argument("--strict", action="store_true",
                        help="treat any problem in the config as fatal (exit 2)")
    parser.add_argument("--max-workers", type=_positive_int, metavar="N",
                        help="runs that may execute at once (default: scheduler.max_workers)")
    parser.add_argument("--allow-insecure-config", action="store_true",
                        help="load the config even if it is unsafe, e.g. writable by other "
                             "users (its commands run with your rights)")
    add_logging_arguments(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def add_state_arguments(parser: argparse.ArgumentParser,
                        mode: argparse._MutuallyExclusiveGroup) -> None:
    """Add --history, --status (modes), --limit, --format and --state to `parser`."""
    mode.add_argument("--history", nargs="?", const="", metavar="TASK_ID",
                      help="print the latest runs from the state database (of one task), "
                           "newest first, then exit")
    mode.add_argument("--status", action="store_true",
                      help="print whether a scheduler is running and each task's last and "
                           "next run, then exit")
    parser.add_argument("--limit", type=_positive_int, default=20, metavar="N",
                        help="how many runs --history prints (default: %(default)s)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="--history and --status output: an aligned table, or JSON "
                             "(default: %(default)s)")
    parser.add_argument("--state", metavar="PATH",
                        help="the state database (run history, lock); overrides "
                             "scheduler.state_path")


def add_logging_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --log-level and --log-format to `parser`."""
    parser.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, metavar="LEVEL",
                        help="DEBUG, INFO, WARNING or ERROR (default: $LOG_LEVEL, else INFO)")
    parser.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                        help="text: one escaped line per event; json: one JSON object per "
                             "line with the run's fields (default: %(default)s)")


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the command line; return the exit status (130 if interrupted by Ctrl-C).

    Args:
        argv: the arguments (default: `sys.argv[1:]`).
        prog: the command as the user typed it, for usage lines and --version
            (default: `invoked_name()`).
    """
    try:
        status = _main(argv, prog)
        sys.stdout.flush()  # a closed stdout shows here, not at the interpreter's exit
    except KeyboardInterrupt:  # before the handlers are installed, or during --run
        errors.error("interrupted")
        status = EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout's reader is gone (`| head`); stderr never raises
        logger.debug("stdout was closed by its reader; exiting with status %d",
                     EXIT_OUTPUT_CLOSED)
        status = EXIT_OUTPUT_CLOSED
    finally:  # also after argparse's SystemExit (--help, --version, bad arguments)
        silence_closed_streams()
    return status


def silence_closed_streams() -> None:
    """Point a closed stdout or stderr at /dev/null, so the interpreter's exit stays quiet.

    Python flushes both streams at exit; a flush into a pipe whose reader is
    gone would print "Exception ignored ... BrokenPipeError" and exit with 120.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)


def _main(argv: Sequence[str] | None, prog: str | None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    level = args.log_level or os.environ.get("LOG_LEVEL", "INFO").upper()
    if level not in LOG_LEVELS:
        parser.error(f"LOG_LEVEL={level!r} is not one of {', '.join(LOG_LEVELS)}")
    configure_logging(level, args.log_format)
    if args.history is not None or args.status:
        return show_state(args)
    if args.import_crontab:
        return export.import_main(args.import_crontab)
    config = read_config(args.config, args.allow_insecure_config)
    if config is None:
        return EXIT_BAD_INPUT
    if args.export:
        return export.export_main(config, args)
    if args.state is not None:
        config = replace(config, settings=replace(config.settings, state_path=args.state))
    if args.check or args.run is None and args.next is None and args.simulate is None:
        config = with_catch_up_problems(config, fatal=not args.check)
        if config is None:
            return EXIT_BAD_INPUT
    if args.check:
        return check(config)
    if config.problems and args.strict:
        for problem in config.problems:
            errors.error("%s", problem, extra={"event": "config_error"})
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
                 check_file)


def configure_logging(level: str, log_format: str = "text") -> None:
    """Log one line per event to stderr, as escaped text or as JSON (see `log_formats`).

    The lines of the `errors` logger are bare messages in the text format.
    A log line that cannot be written (stderr closed) is dropped: logging's
    handlers report their own failures on stderr, which fails silently too.

    Args:
        level: the lowest level shown, one of `LOG_LEVELS`.
        log_format: "text" or "json".
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RunLogFilter())  # a Python task's own log records: its run, no secrets
    logging.basicConfig(level=level, handlers=[handler])
    bare = logging.StreamHandler(sys.stderr)
    bare.setFormatter(JsonFormatter() if log_format == "json" else MessageFormatter())
    errors.handlers, errors.propagate = [bare], False


def read_config(path: str, allow_insecure: bool) -> LoadedConfig | None:
    """Load the config unless other users could change it; report why not on stderr.

    A missing file is left to the loader, whose message says so.

    Args:
        path: the config file.
        allow_insecure: skip the safety check (--allow-insecure-config).

    Returns:
        The loaded config, or None if it was refused or could not be read.
    """
    reason = None if allow_insecure or not Path(path).exists() else insecure_config_reason(path)
    if reason:
        errors.error("%s", reason, extra={"event": "config_error"})
        return None
    try:
        return load_config(path)
    except ConfigError as error:
        errors.error("%s", error, extra={"event": "config_error"})
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
        errors.error('%s: no task "%s"; known task ids: %s', config.path, task_id, known)
        return EXIT_BAD_INPUT
    with capture_output():  # what a Python task prints is logged, like a shell task's
        result = _execute_now(task, Secrets.of(config.tasks))
    detail = f": {result.error}" if result.error else ""
    print(f"task {task_id}: {result.status.value} in {result.duration_seconds:.2f}s{detail}")
    status = EXIT_OK if result.status is RunStatus.SUCCEEDED else EXIT_RUN_FAILED
    _exit_now_if_threads_are_stuck(status)
    return status


def _execute_now(task: Task, secrets: Secrets) -> RunResult:
    clock = RealClock()
    executor = PoolExecutor(max_workers=1, clock=clock)
    reporter = _OneResult()
    try:  # from the submit on: the run may start (and Ctrl-C come) before it returns
        executor.submit(Run(task, 1, clock.wall(), clock.monotonic(), secrets=secrets), reporter)
        reporter.done.wait()
    except KeyboardInterrupt:  # Ctrl-C: a shell task's process group goes too
        executor.shutdown(0)
        _exit_now_if_threads_are_stuck(EXIT_INTERRUPTED, last_words="interrupted")
        raise
    # A released run's worker is leaving: wait for it, or the check for stuck
    # threads could catch it on its way out. Only a timed-out callable keeps it.
    executor.shutdown(RELEASED_WORKER_SECONDS if reporter.released.is_set() else 0)
    assert reporter.result is not None
    return reporter.result


class _OneResult:
    """A `RunReporter` that keeps the result of a single run."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.released = threading.Event()
        self.result: RunResult | None = None

    def run_started(self, run: Run, started_at: object, started_monotonic: float) -> bool:
        logger.info("task %s started", run.task.task_id, extra=log_fields(run, "run_started"))
        return True

    def run_finished(self, run: Run, result: RunResult) -> None:
        self.result = result
        self.done.set()

    def run_released(self, run: Run) -> None:
        self.released.set()


def simulate(config: LoadedConfig, duration_seconds: float, show_decisions: bool) -> int:
    """Print the timeline of runs the next `duration_seconds` would bring; return 0."""
    if not show_decisions:  # the timeline replaces the engine's per-run log lines
        logging.getLogger("configure_task_scheduler").setLevel(logging.WARNING)
    start = RealClock().wall()
    clock = FakeClock(start, monotonic_start=0.0)
    simulated = SimulatedLog(clock)
    for handler in logging.getLogger().handlers:
        handler.addFilter(simulated)
    try:
        counts = preview.simulate(config.tasks, start, duration_seconds, sys.stdout, clock)
    finally:
        for handler in logging.getLogger().handlers:
            handler.removeFilter(simulated)
    span = describe_seconds(duration_seconds)
    span = span if span[0].isdigit() else f"1 {span}"
    print(f"-- {plural(sum(counts.values()), 'run')} in {span} "
          f"from {start.astimezone():%Y-%m-%d %H:%M:%S %z}:")
    preview.print_counts(config.tasks, counts, sys.stdout)
    return EXIT_OK


class SimulatedLog(logging.Filter):
    """Stamps log lines with the simulated time; drops the engine's started/finished lines.

    Nothing runs in a simulation: the add-on's "would run" line replaces them,
    and a real time beside simulated run times would only mislead.
    """

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self._clock = clock

    def filter(self, record: logging.LogRecord) -> bool:
        """Return False for a run's started/finished line; restamp any other."""
        if getattr(record, "event", None) in ("run_started", "run_finished"):
            return False
        record.created = self._clock.wall().timestamp()
        record.msecs = record.created % 1 * 1000
        return True


def serve(config: LoadedConfig, max_workers: int, duration: float | None,
          check_file: Callable[[str], str | None] | None) -> int:
    """Run the scheduler until a signal (or for `duration` seconds); return 0 (2: locked).

    SIGHUP (or a change to the file) reloads the config without a restart.
    """
    scheduler = Scheduler.from_loaded(config, max_workers=max_workers, check_file=check_file,
                                      capture_output=True)
    lock = None
    try:
        if config.settings.state_path is None:  # else the state database holds the lock
            lock = InstanceLock(lock_path_for(None, config.path), config.path)
            lock.acquire()
        scheduler.open_state()
    except (LockError, StateError) as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_INPUT
    notifier = systemd_notify.notifier_from_environment()  # None unless systemd asks
    install_signal_handlers(scheduler, notifier)
    if notifier is not None:
        notifier.start(systemd_notify.loop_alive(scheduler.last_pass_monotonic,
                                                 RealClock().monotonic,
                                                 systemd_notify.LOOP_STALE_SECONDS),
                       status=lambda: plural(sum(snapshot.task.enabled for snapshot
                                                 in scheduler.tasks()), "task") + " planned",
                       reload=scheduler.reload)
    try:
        run_awake_to_signals(lambda: scheduler.run_forever(duration))
    finally:
        if notifier is not None:
            notifier.close()
        if lock is not None:
            lock.release()
    _exit_now_if_threads_are_stuck(EXIT_OK)
    return EXIT_OK


def with_catch_up_problems(config: LoadedConfig, fatal: bool) -> LoadedConfig | None:
    """Add a problem for each `catch_up` task without a state database.

    Returns:
        The config with those problems (for --check), or None after printing
        them when `fatal` (a scheduler must not start without what it asks for).
    """
    problems = catch_up_problems(config.tasks, config.path, config.settings.state_path)
    if problems and fatal:
        for problem in problems:
            print(problem, file=sys.stderr)
        return None
    return replace(config, problems=config.problems + problems) if problems else config


def show_state(args: argparse.Namespace) -> int:
    """`--history` and `--status`: read the state database; never lock, never create it."""
    config = None  # --history --state PATH needs no config; --status shows its tasks if any
    if args.state is None or args.status and Path(args.config).exists():
        config = read_config(args.config, args.allow_insecure_config)
        if config is None:
            return EXIT_BAD_INPUT
    state_path = args.state or (config.settings.state_path if config else None)
    if state_path is None:
        print(f"{args.config}: no run history: set scheduler.state_path in the config, or "
              "pass --state PATH", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        if args.status:
            report.print_status(state_path, config.tasks if config else None,
                                RealClock().wall(), args.format == "json", sys.stdout)
        else:
            report.print_history(state_path, args.history or None, args.limit,
                                 args.format == "json", sys.stdout)
    except StateError as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_INPUT
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


def install_signal_handlers(scheduler: Scheduler,
                            notifier: systemd_notify.SystemdNotifier | None = None) -> None:
    """SIGINT/SIGTERM stop gracefully (a second SIGINT exits at once); SIGHUP reloads.

    With a systemd `notifier`: STOPPING=1 on a stop, and reloads between
    RELOADING=1 and READY=1 on its thread.
    """
    received: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if received and signum == signal.SIGINT:
            logger.warning("second SIGINT: exiting at once")
            logging.shutdown()
            os._exit(128 + signum)
        received.append(signum)
        logger.info("received %s: no new runs will start", name)
        if notifier is not None:
            notifier.stopping()
        scheduler.stop()

    def reload(signum: int, frame: FrameType | None) -> None:
        logger.info("received SIGHUP: reloading the config")
        if notifier is not None:
            notifier.request_reload()
        else:
            scheduler.request_reload()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, reload)


def _exit_now_if_threads_are_stuck(status: int, last_words: str | None = None) -> None:
    """Exit without waiting for Python callables that outlived their timeout.

    The interpreter joins pool threads at exit, so a callable that never
    returns would otherwise keep the process alive forever. `last_words` is
    the line `main` would have ended with ("interrupted").
    """
    stuck = [t for t in threading.enumerate() if t.name.startswith("task-worker") and t.is_alive()]
    if stuck:
        logger.warning("%d Python task threads still running; exiting without them", len(stuck))
        if last_words:
            errors.error("%s", last_words)
        logging.shutdown()
        silence_closed_streams()
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


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, found {text!r}")
    return int(text)
