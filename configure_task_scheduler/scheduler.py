"""The library API: `Scheduler`, the whole pipeline in a few lines of a script.

It wires a registry, an engine and a pool executor together, builds tasks
from arguments through the loader's own validation (so a bad argument gets
the same message as a bad config entry, raised as `ConfigError`), and runs
the engine on a background thread (`start`) or in the caller's (`run_forever`).
As a library it never configures logging, never changes the process and
installs signal handlers only when asked (see `signals`); `stop()` leaves no
threads behind, and a script that ends without it still exits: its threads are
daemon threads, and an `atexit` hook stops a started scheduler gracefully.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, tzinfo
from types import TracebackType
from typing import Any, TypeVar

from .addons.history import RunRecord, StateDatabase, catch_up_problems
from .addons.http import TOKEN_VARIABLE, HttpServer, RecordSource
from .addons.notify import Notifications
from .addons.reload import ConfigWatcher, ReloadSummary
from .clock import Clock, RealClock
from .config import (
    LoadedConfig,
    SchedulerSettings,
    default_task_id,
    load_config,
    notification_problems,
    parse_http_address,
    read_settings,
    read_task,
)
from .engine import Engine
from .errors import ConfigError, Problem
from .execution import (
    TERMINATE_SECONDS,
    Executor,
    PoolExecutor,
    capture_output,
    is_pool_thread,
)
from .registry import Registry
from .signals import SignalActions, handling, status_line
from .task import Listener, Run, Task, TaskSnapshot, TaskType

logger = logging.getLogger(__name__)

Target = TypeVar("Target", bound=Callable[..., Any])
# What a task runs: a callable, a shell command string, or a command as a list of arguments.
TaskTarget = Callable[..., Any] | str | list[str] | tuple[str, ...]
# The `scheduler` section's defaults are the library's too: one source.
_DEFAULTS = SchedulerSettings()


class Scheduler:
    """Schedules Python callables and shell commands.

    Args:
        max_workers: how many runs may execute at the same time.
        timezone: the default time zone of cron, at and aligned schedules
            (an IANA name or tzinfo; None: the machine's zone).
        shutdown_timeout_seconds: how long `stop()` waits for runs in flight.
        capture_output: while it runs, what Python tasks print to sys.stdout
            and sys.stderr is logged as `task ID | line` and kept in their
            results' tails, like a shell task's output (see `capture_output`);
            off by default: a library leaves the process's streams alone.
        state_path: the SQLite run history (None: no history, no lock); while
            running, the scheduler holds a lock beside it (one instance at a time).
        history_days, history_max_rows: how long and how many rows per task the
            history keeps.
        http: serve the status page, JSON API and metrics on "[HOST:]PORT"
            while running (HOST defaults to 127.0.0.1; PORT 0: any free port);
            control is enabled by the environment variable CTS_HTTP_TOKEN.
        clock, executor: the seams, for tests and simulation.

    Raises:
        ConfigError: an argument is invalid (the `scheduler` section's messages).
    """

    def __init__(self, max_workers: int = _DEFAULTS.max_workers, *,
                 timezone: str | tzinfo | None = None,
                 shutdown_timeout_seconds: float = _DEFAULTS.shutdown_timeout_seconds,
                 state_path: str | None = None, history_days: float = _DEFAULTS.history_days,
                 history_max_rows: int = _DEFAULTS.history_max_rows, http: str | None = None,
                 capture_output: bool = False, clock: Clock | None = None,
                 executor: Executor | None = None) -> None:
        settings, problems = _read_arguments(max_workers, timezone, shutdown_timeout_seconds,
                                             state_path, history_days, history_max_rows, http)
        if problems:
            raise ConfigError(problems)
        self._clock = clock or RealClock()
        self._state = None if settings.state_path is None else StateDatabase(
            settings.state_path, self._clock, history_days=settings.history_days,
            max_rows_per_task=settings.history_max_rows)
        self._executor = executor or PoolExecutor(max_workers, self._clock)
        self._engine = Engine(Registry(), self._executor, self._clock)
        # on_failure / on_success: it listens to run events once a task names one
        self._notifications = Notifications(self._engine)
        self._timezone = timezone if isinstance(timezone, tzinfo) else settings.timezone
        self.shutdown_timeout_seconds = shutdown_timeout_seconds
        self._capture_output = capture_output
        self._thread: threading.Thread | None = None
        self._watcher: ConfigWatcher | None = None
        self._used = False  # a pool that was shut down cannot run again
        self._serving: threading.Thread | None = None  # the thread in _serve, if any
        self._served = threading.Event()  # set once _serve has shut everything down
        self._cut_short: list[Run] = []  # what the shutdown cut short (see runs_left_running)
        self._http = self._make_http(settings.http)

    @classmethod
    def from_config(cls, path: str, *, strict: bool = True, max_workers: int | None = None,
                    check_file: Callable[[str], str | None] | None = None,
                    capture_output: bool = False) -> Scheduler:
        """Build a scheduler from a config file, which it then reloads when it changes.

        Args:
            path: the JSON (or TOML) config.
            strict: raise on any problem; False skips invalid tasks (logged).
            max_workers: overrides `scheduler.max_workers`.
            check_file: returns why the file must not be used (see `safety`), or None.
            capture_output: see `Scheduler`.

        Raises:
            ConfigError: the file cannot be used, or (strict) has problems.
        """
        config = load_config(path)
        if strict and config.problems:
            raise ConfigError(config.problems)
        for problem in config.problems:
            logger.error("%s (task skipped)", problem)
        return cls.from_loaded(config, max_workers=max_workers, check_file=check_file,
                               capture_output=capture_output)

    @classmethod
    def from_loaded(cls, config: LoadedConfig, *, max_workers: int | None = None,
                    check_file: Callable[[str], str | None] | None = None,
                    capture_output: bool = False, http: str | None = None) -> Scheduler:
        """Build a scheduler from a config that `load_config` already read (see `from_config`).

        `http` overrides `scheduler.http` (the CLI's --http).
        """
        settings = config.settings
        workers = settings.max_workers if max_workers is None else max_workers
        problems = catch_up_problems(config.tasks, config.path, settings.state_path)
        if problems:
            raise ConfigError(problems)
        scheduler = cls(workers, timezone=settings.timezone,
                        shutdown_timeout_seconds=settings.shutdown_timeout_seconds,
                        state_path=settings.state_path, history_days=settings.history_days,
                        history_max_rows=settings.history_max_rows,
                        http=settings.http if http is None else http,
                        capture_output=capture_output)
        if scheduler._state is not None:
            scheduler._state.guard(config.path)
        scheduler._notifications.watch(config.tasks)
        for task in config.tasks:
            scheduler._engine.add(task)
        scheduler._watcher = ConfigWatcher(config.path, scheduler._engine,
                                           settings.reload_interval_seconds, check_file,
                                           loaded=config, on_settings=scheduler._apply_settings,
                                           on_loaded=scheduler._watch_loaded)
        return scheduler

    def _watch_loaded(self, config: LoadedConfig) -> None:
        """A reloaded config, before it is applied: its notifications are listened for."""
        self._notifications.watch(config.tasks)

    def _apply_settings(self, settings: SchedulerSettings) -> None:
        """A reloaded `scheduler` section: what the facade owns applies at once."""
        self.shutdown_timeout_seconds = settings.shutdown_timeout_seconds

    # -- adding tasks ------------------------------------------------------------

    def every(self, seconds: float, target: TaskTarget | None = None,
              **options: Any) -> Any:
        """Run `target` every `seconds`; without `target`, a decorator.

        Args:
            seconds: the interval (`interval_seconds`).
            target: a callable (a python task) or a string (a shell command).
            options: any task field: task_id, timeout_seconds, max_instances,
                retries, run_on_start, align, jitter_seconds, env, on_failure, ...

        Returns:
            The `Task`, or the decorator (which returns the function unchanged).
        """
        return self._schedule({"interval_seconds": seconds}, target, options)

    def cron(self, expression: str, target: TaskTarget | None = None,
             **options: Any) -> Any:
        """Run `target` on a cron expression ("0 2 * * *"); without `target`, a decorator."""
        return self._schedule({"cron": expression}, target, options)

    def at(self, when: str | datetime, target: TaskTarget | None = None,
           **options: Any) -> Any:
        """Run `target` once at `when` (ISO 8601 or datetime); without `target`, a decorator."""
        moment = when.isoformat() if isinstance(when, datetime) else when
        return self._schedule({"at": moment}, target, options)

    def add(self, task: Task) -> Task:
        """Add a `Task` built elsewhere (by the loader, or by hand).

        Raises:
            ConfigError: a task with that id exists already, or its `on_failure`
                or `on_success` names no other enabled task, or a cycle.
        """
        self._check_new_id(task.task_id)
        problems = catch_up_problems([task], "", None if self._state is None else self._state.path)
        problems += notification_problems([*self._engine.tasks(), task],
                                          checked_ids={task.task_id}).get(task.task_id, [])
        if problems:
            raise ConfigError(problems)
        self._notifications.watch([task])
        self._engine.add(task)
        return task

    def _schedule(self, schedule: dict[str, Any], target: Any,
                  options: dict[str, Any]) -> Any:
        if target is None:
            def decorator(function: Target) -> Target:
                self._add_entry(schedule, function, options)
                return function
            return decorator
        return self._add_entry(schedule, target, options)

    def _add_entry(self, schedule: dict[str, Any], target: Any, options: dict[str, Any]) -> Task:
        entry = _entry_for(target, options) | schedule
        task, problems = read_task(entry, 0, "", timezone=self._timezone)
        if problems or task is None:
            raise ConfigError(problems)
        return self.add(task)

    def _check_new_id(self, task_id: str) -> None:
        if self._engine.task(task_id) is not None:
            raise ConfigError([Problem("", f'task "{task_id}"', "task_id",
                                       "already used by another task; pass another task_id "
                                       "or remove() the old one first")])


    # -- changing tasks ------------------------------------------------------------

    def remove(self, task_id: str) -> Task:
        """Remove a task; a run in flight finishes normally.

        Raises:
            KeyError: no task has that id.
        """
        task = self._engine.remove(task_id)
        if task is None:
            raise KeyError(f"no task {task_id!r}")
        return task

    def pause(self, task_id: str) -> None:
        """Stop planning runs of a task (it stays registered; `resume` restarts it)."""
        self._engine.add(replace(self._task(task_id), enabled=False))

    def resume(self, task_id: str) -> None:
        """Plan a paused task again, its first run one interval (or cron step) from now."""
        self._engine.add(replace(self._task(task_id), enabled=True))

    def run_now(self, task_id: str) -> None:
        """Start a run of the task at once (if the scheduler is running), outside its schedule."""
        if not self._engine.run_now(task_id):
            raise KeyError(f"no task {task_id!r}")

    def cancel(self, task_id: str) -> tuple[int, int]:
        """Terminate the task's shell runs in flight, as a timeout does (they end `cancelled`).

        Returns:
            (runs terminated, Python runs in flight, which cannot be cancelled).

        Raises:
            KeyError: no task has that id.
        """
        self._task(task_id)
        if not isinstance(self._executor, PoolExecutor):
            return 0, 0
        return self._executor.cancel(task_id)

    def loop_stalled_reason(self) -> str:
        """Return why the scheduler's loop is not alive, or "" while it is (for /healthz)."""
        return self._engine.loop_stalled_reason()

    @property
    def http_url(self) -> str:
        """The status page's URL once the HTTP server listens ("http://127.0.0.1:8080/"), else ""."""
        return self._http.url if self._http is not None else ""

    def tasks(self) -> list[TaskSnapshot]:
        """Return a consistent snapshot of every task: state, next run, last result, counts."""
        return self._engine.snapshot()

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(event)` on every run event (see `RunEvent`)."""
        self._engine.subscribe(listener)

    def history(self, task_id: str | None = None, limit: int = 20) -> list[RunRecord]:
        """Return the latest run attempts from the state database, newest first.

        Args:
            task_id: only this task's runs (None: every task's).
            limit: how many at most.

        Raises:
            RuntimeError: the scheduler has no `state_path`.
            StateError: the database cannot be read.
        """
        if self._state is None:
            raise RuntimeError("history() needs a scheduler made with state_path")
        return self._state.records(task_id, limit)

    def reload(self) -> ReloadSummary | None:
        """Re-read the config file now and apply the difference (from_config only).

        Returns:
            The summary, or None if the file could not be used (the tasks are unchanged).
        """
        if self._watcher is None:
            raise RuntimeError("reload() needs a scheduler made by Scheduler.from_config()")
        return self._watcher.reload()

    def request_reload(self) -> None:
        """Reload soon on the watcher's thread; safe from a signal handler."""
        if self._watcher is not None:
            self._watcher.request_reload()

    def _task(self, task_id: str) -> Task:
        task = self._engine.task(task_id)
        if task is None:
            raise KeyError(f"no task {task_id!r}")
        return task

    # -- running -------------------------------------------------------------------

    def start(self) -> None:
        """Run the scheduler on a background thread; returns at once.

        If the program ends without calling `stop()` (its main thread returns,
        or raises), the scheduler is stopped gracefully at interpreter exit.

        Raises:
            HttpError: the `http` address cannot be listened on (one line).
        """
        self._claim_run()
        self._thread = threading.Thread(target=self._serve, args=(None,), name="cts-engine",
                                        daemon=True)  # so that the interpreter reaches atexit
        atexit.register(self._stop_at_exit)
        self._thread.start()

    def run_forever(self, duration_seconds: float | None = None,
                    install_signal_handlers: bool = False) -> None:
        """Run in this thread until `stop()` (or for `duration_seconds`), then shut down.

        Args:
            duration_seconds: stop by itself after this long.
            install_signal_handlers: let SIGINT/SIGTERM/SIGQUIT stop it, SIGHUP
                reload the config and SIGUSR1 log a status dump while it runs
                (main thread only; the previous handlers are restored when it
                returns; off by default for a library). See `signals`.
        """
        self._claim_run()
        if not install_signal_handlers:
            self._serve(duration_seconds)
            return
        with handling(self.signal_actions()):
            self._serve(duration_seconds)

    def signal_actions(self, quit_now: Callable[[int], None] | None = None) -> SignalActions:
        """What the signal handlers do to this scheduler (see `signals.handling`).

        Args:
            quit_now: the policy for a second SIGINT and SIGQUIT; None: none.
        """
        return SignalActions(stop=lambda signum: self._engine.stop(), reload=self.request_reload,
                             status_lines=self.status_lines, quit_now=quit_now)

    def status_lines(self) -> list[str]:
        """One line per task: its state, runs in flight, next run, last result and counts."""
        return [status_line(snapshot) for snapshot in self.tasks()]

    def _claim_run(self) -> None:
        """Mark the scheduler used; open the HTTP server (its errors are raised here)."""
        if self._used:
            raise RuntimeError("a Scheduler runs once: after stop(), make a new one")
        self.open_state()
        self._used = True
        if self._http is not None:
            self._http.open()

    def _make_http(self, address: str | None) -> HttpServer | None:
        """The HTTP add-on, its run listeners subscribed (it listens once running)."""
        parsed = parse_http_address(address) if address is not None else None
        if parsed is None:
            return None
        runs = None
        if self._state is not None:  # /api/runs and the page read the run history
            writer = self._state.writer
            runs = RecordSource(lambda task_id, limit: self.history(task_id, limit),
                                lambda: writer.dropped)
        server = HttpServer(self, *parsed, token=os.environ.get(TOKEN_VARIABLE) or None,
                            wall=self._clock.wall, monotonic=self._clock.monotonic, runs=runs)
        for listener in server.listeners:
            self._engine.subscribe(listener)
        return server

    def open_state(self) -> None:
        """With a `state_path`: take the lock, open the history, catch up missed runs.

        `start()` and `run_forever()` do it; call it first to see its errors in
        this thread. Does nothing the second time, or without a `state_path`.

        Raises:
            LockError: another scheduler runs on this state database.
            StateError: the database cannot be used (it is left untouched).
        """
        if self._state is not None and not self._state.is_open and not self._used:
            self._state.open(self._engine)

    def last_pass_monotonic(self) -> float | None:
        """When the engine's loop last began a pass (monotonic seconds), None if not running."""
        return self._engine.last_pass_monotonic()

    def stop(self) -> None:
        """Stop gracefully, like SIGTERM: no new runs, runs in flight get
        `shutdown_timeout_seconds`, then the rest is cut short. Waits for all of it
        (also when `run_forever` runs on another thread), except when called by a
        task (or a listener on a task's thread): that returns at once, and the
        shutdown completes on the scheduler's thread once the task returns."""
        self._engine.stop()
        if is_pool_thread(self._executor):
            return  # the shutdown waits for this thread: it cannot wait for the shutdown
        atexit.unregister(self._stop_at_exit)  # (a task's stop() keeps it, for a program
        self._wait_for_shutdown()  # that ends before the shutdown does)

    def _wait_for_shutdown(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        elif self._serving not in (None, threading.current_thread()):
            self._served.wait()  # run_forever() on another thread

    def _stop_at_exit(self) -> None:
        """The atexit hook of a started scheduler whose shutdown nobody waited for."""
        logger.info("the program is exiting: stopping the scheduler first")
        self._engine.stop()
        self._wait_for_shutdown()

    def terminate_now(self) -> int:
        """Start no more runs and terminate every run's process group now.

        For an exit that cannot wait (the CLI's second Ctrl-C): SIGTERM, then
        SIGKILL after the kill grace; a shutdown under way then finds the runs
        ended. Not from a task's thread, nor from a signal handler that may
        have interrupted the scheduler's own thread.

        Returns:
            How many process groups were terminated.
        """
        self._engine.stop()
        if isinstance(self._executor, PoolExecutor):
            return self._executor.terminate_now()
        return 0

    def runs_left_running(self) -> list[Run]:
        """The Python runs still running after the shutdown (a call cannot be stopped)."""
        return [run for run in self._cut_short if run.task.task_type is TaskType.PYTHON]

    def _serve(self, duration_seconds: float | None) -> None:
        self._serving = threading.current_thread()
        try:
            # On only while it runs: stop() puts back the streams it found.
            with capture_output() if self._capture_output else contextlib.nullcontext():
                self._run_engine(duration_seconds)
        finally:
            self._served.set()

    def _run_engine(self, duration_seconds: float | None) -> None:
        if self._watcher is not None:
            self._watcher.start()
        if self._http is not None:
            self._http.start()
        try:
            self._engine.run(duration_seconds)
        except Exception as error:  # a bug: say so before the shutdown's lines; re-raised
            logger.error("the scheduler failed: %s: %s; stopping", type(error).__name__, error)
            raise
        finally:
            if self._watcher is not None:
                self._watcher.stop()
            logger.info("scheduler stopping: waiting up to %gs for runs in flight, then up to "
                        "%gs to terminate what is left", self.shutdown_timeout_seconds,
                        TERMINATE_SECONDS)
            self._cut_short = self._engine.shutdown(self.shutdown_timeout_seconds)
            if self._http is not None:  # the page shows the shutdown until here
                self._http.close()
            if self._state is not None:
                self._state.close()
            logger.info("scheduler stopped")

    def __enter__(self) -> Scheduler:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


def _entry_for(target: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The config entry (a dict, as in a JSON file) for a callable or a shell command."""
    if isinstance(target, (str, list, tuple)):
        entry: dict[str, Any] = {"task_type": "shell",
                                 "entry_point": list(target) if isinstance(target, tuple)
                                 else target}
    else:
        entry = {"task_type": "python", "entry_point": target}
        if callable(target) and "task_id" not in options:
            entry["task_id"] = default_task_id(target)
    return entry | options


def _read_arguments(max_workers: Any, timezone: Any, shutdown_timeout_seconds: Any,
                    state_path: Any, history_days: Any, history_max_rows: Any,
                    http: Any) -> tuple[SchedulerSettings, list[Problem]]:
    """Check the constructor's arguments as the config's `scheduler` section is checked."""
    section = {"max_workers": max_workers, "shutdown_timeout_seconds": shutdown_timeout_seconds,
               "history_days": history_days, "history_max_rows": history_max_rows}
    if state_path is not None:
        section["state_path"] = str(state_path)
    if http is not None:
        section["http"] = http
    if timezone is not None and not isinstance(timezone, tzinfo):
        section["timezone"] = timezone
    return read_settings(section, "")
