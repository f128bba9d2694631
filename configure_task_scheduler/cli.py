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
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from .addons import export, preview, systemd_notify
from .addons.history import (
    InstanceLock,
    LockError,
    StateError,
    catch_up_problems,
    lock_path_for,
    report,
)
from .addons.http import HttpError
from .arguments import LOG_LEVELS, build_parser
from .clock import FakeClock, RealClock
from .config import (
    LoadedConfig,
    insecure_config_reason,
    load_config,
)
from .errors import ConfigError
from .execution import RunLogFilter, capture_output
from .foreground import execute_now
from .log_formats import JsonFormatter, MessageFormatter, TextFormatter
from .scheduler import Scheduler
from .schedules import seconds_in_words
from .signals import (
    SignalActions,
    exit_now,
    handling,
    run_awake_to_signals,
)
from .task import RunStatus, Secrets

logger = logging.getLogger("configure_task_scheduler.cli")
# What the user must read when nothing will run (a refused config, an unknown
# task id): a bare line in the text format, a JSON object in the json format.
errors = logging.getLogger("configure_task_scheduler.cli.errors")

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_SOFTWARE, EXIT_INTERRUPTED = 0, 1, 2, 70, 130
# Python's documentation (the signal module's "Note on SIGPIPE") exits with 1
# when stdout's reader is gone, as Python itself does on EPIPE.
EXIT_OUTPUT_CLOSED = 1
class _Interrupted(BaseException):
    """A stop signal during start-up: nothing runs yet, so it just ends the program."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the command line; return the exit status (128 + N if signal N cut it short).

    It never waits for threads that task code left running: if any would hold
    the interpreter, it exits at once (`exit_now`) once everything is shut down.

    Args:
        argv: the arguments (default: `sys.argv[1:]`).
        prog: the command as the user typed it, for usage lines and --version
            (default: `invoked_name()`).
    """
    try:
        with handling(_start_up_signal_actions()):
            status = _main(argv, prog)
        sys.stdout.flush()  # a closed stdout shows here, not at the interpreter's exit
    except KeyboardInterrupt:  # Ctrl-C before the handlers were installed
        status = _interrupted(signal.SIGINT)
    except _Interrupted as interrupted:
        status = _interrupted(interrupted.signum)
    except BrokenPipeError:  # stdout's reader is gone (`| head`); stderr never raises
        logger.debug("stdout was closed by its reader; exiting with status %d",
                     EXIT_OUTPUT_CLOSED)
        status = EXIT_OUTPUT_CLOSED
    finally:  # also after argparse's SystemExit (--help, --version, bad arguments)
        silence_closed_streams()
    _exit_now_if_task_threads_remain(status)
    return status


def _start_up_signal_actions() -> SignalActions:
    """Until the scheduler runs (and for --check, --next, --simulate): a stop signal ends it."""
    def interrupt(signum: int) -> None:
        raise _Interrupted(signum)

    return SignalActions(stop=interrupt, reload=None, quit_now=interrupt,
                         status_lines=lambda: ["starting up, or not scheduling: no task runs"])


def _interrupted(signum: int) -> int:
    errors.error("interrupted by %s", signal.Signals(signum).name)
    return 128 + signum


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
    if args.explain and args.simulate is None:
        print(f"{parser.prog}: error: --explain works only with --simulate DURATION "
              "(e.g. --simulate 1h --explain)", file=sys.stderr)
        return EXIT_BAD_INPUT
    level = _log_level(parser, args)
    configure_logging(level, args.log_format)
    if args.history is not None or args.status:
        return show_state(args)
    if args.import_crontab:
        return export.import_main(args.import_crontab)
    # --check's report is its output (stdout, with the task list); elsewhere problems
    # are diagnostics beside the tasks' output, so they go to stderr with the log.
    config = read_config(args.config, args.allow_insecure_config,
                         sys.stdout if args.check else None)
    if config is not None and args.export:
        return export.export_main(config, args)
    if config is not None:
        config = _with_state_settings(config, args)
    if config is None:
        return EXIT_BAD_INPUT
    if args.check:
        return check(config)
    if _refuses_problems(config, args):
        return EXIT_BAD_INPUT
    return _act(config, args, show_decisions=level == "DEBUG")


def _log_level(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The log level from --log-level, else $LOG_LEVEL, else INFO (a bad one is a usage error)."""
    level: str = args.log_level or os.environ.get("LOG_LEVEL", "INFO").upper()
    if level not in LOG_LEVELS:
        parser.error(f"LOG_LEVEL={level!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


def _with_state_settings(config: LoadedConfig, args: argparse.Namespace) -> LoadedConfig | None:
    """Apply --state; for --check and the scheduler, add the `catch_up` problems (None: fatal)."""
    if args.state is not None:
        config = replace(config, settings=replace(config.settings, state_path=args.state))
    if args.check or args.run is None and args.next is None and args.simulate is None:
        return with_catch_up_problems(config, fatal=not args.check)
    return config


def _refuses_problems(config: LoadedConfig, args: argparse.Namespace) -> bool:
    """Log the config's problems; True if they stop the command (--strict, or nothing to run)."""
    serving = not (args.run or args.next or args.simulate)
    if config.problems and (args.strict or (serving and not config.tasks)):
        for problem in config.problems:
            errors.error("%s", problem, extra={"event": "config_error"})
        if not args.strict:  # idling with nothing to run would look healthy to systemd
            errors.error("%s: no valid task to run (%s above); not starting", config.path,
                         plural(len(config.problems), "problem"), extra={"event": "config_error"})
        return True
    for problem in config.problems:
        logger.error("%s (task skipped)", problem)
    return False


def _act(config: LoadedConfig, args: argparse.Namespace, show_decisions: bool) -> int:
    """Do what the mode says: --run, --next, --simulate, or run the scheduler."""
    if args.run:
        return run_one(config, args.run)
    if args.next:
        preview.print_next(config.tasks, RealClock().wall(), args.next, sys.stdout)
        return EXIT_OK
    if args.simulate:
        return simulate(config, args.simulate, show_decisions, args.explain)
    check_file = None if args.allow_insecure_config else insecure_config_reason
    return serve(config, args.max_workers or config.settings.max_workers, args.duration,
                 check_file, args.http)


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


def read_config(path: str, allow_insecure: bool,
                report_to: TextIO | None = None) -> LoadedConfig | None:
    """Load the config unless other users could change it; report why not on stderr.

    A missing file is left to the loader, whose message says so.

    Args:
        path: the config file.
        allow_insecure: skip the safety check (--allow-insecure-config).
        report_to: where the config's problems go, one per line, in file
            order (default: the log's error lines on stderr, JSON with
            --log-format json); a refusal to read it always goes to the log.

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
        for problem in error.problems:  # one line (one JSON object) each
            if report_to is not None:
                print(problem, file=report_to)
            else:
                errors.error("%s", problem, extra={"event": "config_error"})
        return None


def check(config: LoadedConfig) -> int:
    """Print the tasks and every problem; return 0 if there are none, else 2.

    A one-shot whose time has passed is reported too, but is not a problem:
    the file is valid, the task just has nothing left to do (or runs only
    when another task's `on_failure`/`on_success` starts it).
    """
    enabled = sum(task.enabled for task in config.tasks)
    print(f"{config.path}: {plural(len(config.tasks), 'valid task')} ({enabled} enabled), "
          f"{plural(len(config.problems), 'problem')}")
    rows = [(task.task_id, task.task_type.value, task.schedule.describe(),
             "enabled" if task.enabled else "disabled") for task in config.tasks]
    for line in format_rows(rows):
        print("  " + line)
    now = RealClock().wall()
    notified = {task_id for task in config.tasks
                for task_id in (task.on_failure, task.on_success) if task_id is not None}
    for task in config.tasks:
        if task.enabled and not preview.next_runs(task, now, 1):
            outcome = "it runs only when notified (on_failure, on_success)" \
                if task.task_id in notified else "it will not run"
            print(f'{config.path}: task "{task.task_id}": {task.schedule.describe()} is in '
                  f"the past; {outcome}")
    for problem in config.problems:
        print(problem)
    return EXIT_BAD_INPUT if config.problems else EXIT_OK


def plural(count: int, noun: str) -> str:
    """Return "1 task" or "3 tasks"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def format_rows(rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-align `rows` in columns as wide as each column's widest cell.

    The widths are measured once for all rows (measuring them again for each
    row made --check quadratic: 50,000 tasks took minutes).
    """
    widths = [max(map(len, column)) for column in zip(*rows)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in rows]


def run_one(config: LoadedConfig, task_id: str) -> int:
    """Run one task now in the foreground; return 0 if it succeeded, 1 if not, 2 if unknown."""
    task = next((task for task in config.tasks if task.task_id == task_id), None)
    if task is None:
        known = ", ".join(task.task_id for task in config.tasks) or "none"
        errors.error('%s: no task "%s"; known task ids: %s', config.path, task_id, known)
        return EXIT_BAD_INPUT
    with capture_output():  # what a Python task prints is logged, like a shell task's
        result, signum = execute_now(task, Secrets.of(config.tasks))
    if result is not None:
        detail = f": {result.error}" if result.error else ""
        print(f"task {task_id}: {result.status.value} in {result.duration_seconds:.2f}s{detail}")
    if signum is not None:
        return _interrupted(signum)
    assert result is not None
    return EXIT_OK if result.status is RunStatus.SUCCEEDED else EXIT_RUN_FAILED


def simulate(config: LoadedConfig, duration_seconds: float, show_decisions: bool,
             explain: bool = False) -> int:
    """Print the timeline of runs the next `duration_seconds` would bring; return 0.

    With `explain`, print each queue decision as a sentence instead of the bare timeline.
    """
    if not show_decisions:  # the timeline replaces the engine's per-run log lines
        logging.getLogger("configure_task_scheduler").setLevel(logging.WARNING)
    start = RealClock().wall()
    clock = FakeClock(start, monotonic_start=0.0)
    simulated = SimulatedLog(clock)
    for handler in logging.getLogger().handlers:
        handler.addFilter(simulated)
    try:
        counts = preview.simulate(config.tasks, start, duration_seconds, sys.stdout, clock,
                                  explain)
    finally:
        for handler in logging.getLogger().handlers:
            handler.removeFilter(simulated)
    span = seconds_in_words(duration_seconds)
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
          check_file: Callable[[str], str | None] | None, http: str | None = None) -> int:
    """Run the scheduler until a signal (or for `duration` seconds); return the exit status.

    SIGHUP (or a change to the file) reloads the config without a restart.
    Returns 2 if the HTTP server cannot listen (--http or scheduler.http).
    """
    if not config.tasks:
        logger.warning("%s: no tasks; running idle until a reload brings some", config.path)
    scheduler = Scheduler.from_loaded(config, max_workers=max_workers, check_file=check_file,
                                      capture_output=True, http=http)
    lock = None
    try:
        if config.settings.state_path is None:  # else the state database holds the lock
            lock = InstanceLock(lock_path_for(None, config.path), config.path)
            lock.acquire()
        scheduler.open_state()
    except (LockError, StateError) as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return _serve_until_stopped(scheduler, duration)
    finally:
        if lock is not None:
            lock.release()


def _serve_until_stopped(scheduler: Scheduler, duration: float | None) -> int:
    status = EXIT_OK
    actions = scheduler.signal_actions(quit_now=_QuitNow(scheduler))
    notifier = systemd_notify.notifier_from_environment()  # None unless systemd asks
    if notifier is not None:
        actions = _notifying(actions, notifier, scheduler)
    try:
        with handling(actions):
            try:
                run_awake_to_signals(lambda: scheduler.run_forever(duration))
            except HttpError as problem:  # --http or scheduler.http cannot be listened on
                print(problem, file=sys.stderr)
                return EXIT_BAD_INPUT
            except Exception:  # logged by the scheduler as it stopped; the details at DEBUG
                logger.debug("the scheduler failed", exc_info=True)
                scheduler.terminate_now()  # in case the shutdown itself failed
                status = EXIT_SOFTWARE
    finally:
        if notifier is not None:
            notifier.close()
    left = scheduler.runs_left_running()
    if left:
        logger.warning("%s still running (a Python call cannot be stopped): %s; exiting "
                       "without %s", plural(len(left), "Python run"),
                       ", ".join(f"{run.task.task_id} run {run.run_number}" for run in left),
                       "it" if len(left) == 1 else "them")
    return status


def _notifying(actions: SignalActions, notifier: systemd_notify.SystemdNotifier,
               scheduler: Scheduler) -> SignalActions:
    """Tell systemd: READY once planned, WATCHDOG while the loop passes, STOPPING, RELOADING."""
    notifier.start(systemd_notify.loop_alive(scheduler.last_pass_monotonic,
                                             RealClock().monotonic,
                                             systemd_notify.LOOP_STALE_SECONDS),
                   status=lambda: plural(sum(snapshot.task.enabled for snapshot
                                             in scheduler.tasks()), "task") + " planned",
                   reload=scheduler.reload)

    def stop(signum: int) -> None:
        notifier.stopping()
        actions.stop(signum)

    return replace(actions, stop=stop, reload=notifier.request_reload)


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


class _QuitNow:
    """The CLI's policy for a second SIGINT and for SIGQUIT: terminate, then exit at once.

    Runs in the main thread, which in `serve` only waits for signals, so it
    may block for the kill grace and take the executor's lock.
    """

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._quitting = False

    def __call__(self, signum: int) -> None:
        if self._quitting:  # a third signal while the first waits out the kill grace
            return
        self._quitting = True
        terminated = self._scheduler.terminate_now()
        status = 128 + signum
        logger.warning("exiting at once with status %d: %s terminated", status,
                       plural(terminated, "process group"))
        exit_now(status)


def _exit_now_if_task_threads_remain(status: int) -> None:
    """Exit without waiting for non-daemon threads that task code started.

    The interpreter joins every non-daemon thread before it exits, so one
    that never ends would keep the process alive (and deaf to SIGTERM) after
    "scheduler stopped". The scheduler's own threads are daemon threads.
    """
    current = threading.current_thread()
    left = [t for t in threading.enumerate() if t is not current and not t.daemon]
    if left:
        logger.warning("exiting without waiting for %s that task code started: %s",
                       plural(len(left), "thread"), ", ".join(t.name for t in left))
        exit_now(status)
