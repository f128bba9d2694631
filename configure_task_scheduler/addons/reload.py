"""Live reload: apply a changed config file to a running engine.

`apply_config` compares the tasks of a freshly loaded config with the
engine's and applies only the difference: added tasks are planned, removed
ones unplanned, changed ones re-planned with their new definition, and
unchanged ones are not touched, so they keep their rhythm. A task whose new
version is invalid keeps its old definition. `ConfigWatcher` decides when to
reload: when the file's identity changes (polled; an editor's atomic rename
and a Kubernetes ConfigMap symlink swap both change it) or when asked (SIGHUP,
`Scheduler.reload()`). A file that cannot be loaded changes nothing; a file
that disappears is said once, and read again when it reappears. Of the
`scheduler` section, `max_workers` needs a restart (one warning says so);
the rest applies live.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from ..config import LoadedConfig, SchedulerSettings, load_config
from ..engine import Engine
from ..errors import ConfigError

# A stable public name (the JSON log's "logger" field), kept from before the stage packages.
logger = logging.getLogger("configure_task_scheduler.reload")


# The pool's worker threads never leave, so it cannot shrink while running; the other
# settings apply live (reload_interval_seconds here, the rest through `on_settings`).
RESTART_SETTINGS = ("max_workers",)
NAMES_SHOWN = 10  # a summary names this many tasks per kind of change, then counts the rest


@dataclass(frozen=True, slots=True)
class ReloadSummary:
    """What a reload changed, by task id."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    # Changed tasks whose new version is invalid: their old definition goes on running.
    rejected: list[str] = field(default_factory=list)

    @property
    def kept(self) -> list[str]:
        """The earlier name of `rejected` (the tasks kept at their old definition)."""
        return self.rejected

    def __str__(self) -> str:
        kept = f", {_count_and_names(self.rejected, 'kept')}, its new version invalid" \
            if self.rejected else ""
        return (f"reloaded config: {_count_and_names(self.added, 'added')}, "
                f"{_count_and_names(self.removed, 'removed')}, "
                f"{_count_and_names(self.changed, 'changed')}, {self.unchanged} unchanged{kept}")


def _count_and_names(task_ids: list[str], verb: str) -> str:
    """ "2 added (a, b)", "0 removed", "12 changed (t1, ..., t10 and 2 more)"."""
    if not task_ids:
        return f"0 {verb}"
    names = ", ".join(task_ids[:NAMES_SHOWN])
    more = f" and {len(task_ids) - NAMES_SHOWN} more" if len(task_ids) > NAMES_SHOWN else ""
    return f"{len(task_ids)} {verb} ({names}{more})"


def apply_config(engine: Engine, config: LoadedConfig,
                 task_ids: Collection[str] | None = None) -> ReloadSummary:
    """Make the engine's tasks those of `config`, touching only what differs.

    Args:
        engine: where the tasks run.
        config: the freshly loaded config.
        task_ids: the engine's tasks that came from the config file (default:
            all); the others were added through the API and are left alone.

    Returns:
        The summary, also logged as one line.
    """
    current = {task.task_id: task for task in engine.tasks()
               if task_ids is None or task.task_id in task_ids}
    fresh = {task.task_id: task for task in config.tasks}
    summary = ReloadSummary()
    for problem in config.problems:
        logger.error("%s (task skipped)", problem)
    for task_id in current.keys() - fresh.keys():
        if task_id in config.rejected_ids:  # a working task is not dropped for a typo
            logger.error("task %s: its new definition is invalid; it keeps running as "
                         "before", task_id)
            summary.rejected.append(task_id)
        else:
            engine.remove(task_id)
            summary.removed.append(task_id)
    for task_id, task in fresh.items():
        if task_id not in current:
            summary.added.append(task_id)
        elif task is not current[task_id] and task != current[task_id]:
            summary.changed.append(task_id)
        else:
            continue
        engine.add(task)
    summary = _with_unchanged(summary, len(fresh))
    logger.info("%s", summary)
    return summary


def _with_unchanged(summary: ReloadSummary, fresh_count: int) -> ReloadSummary:
    unchanged = fresh_count - len(summary.added) - len(summary.changed)
    return ReloadSummary(sorted(summary.added), sorted(summary.removed),
                         sorted(summary.changed), unchanged, sorted(summary.rejected))


FileIdentity = tuple[int, int, int, int]


def file_identity(path: str) -> FileIdentity | None:
    """Return what changes when the file is edited, renamed over or swapped by symlink."""
    try:
        stat = os.stat(path)  # follows symlinks: a swapped link shows a new inode
    except OSError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


class ConfigWatcher:
    """Reloads a config file into an engine when it changes or when asked.

    Args:
        path: the config file.
        engine: where the tasks go; the tasks it holds now are the file's (a
            reload leaves tasks added later through the API alone).
        interval_seconds: how often to look at the file; 0 only reloads on request.
        check_file: returns why the file must not be used (unsafe permissions), or None.
        loaded: the config as it was loaded into the engine, if at hand.
        on_settings: called with the `scheduler` section of every reloaded config,
            to apply what can change live.
        on_loaded: called with every config loaded without error, before its
            tasks are applied (so an add-on is ready for them).
    """

    def __init__(self, path: str, engine: Engine, interval_seconds: float = 2.0,
                 check_file: Callable[[str], str | None] | None = None,
                 loaded: LoadedConfig | None = None,
                 on_settings: Callable[[SchedulerSettings], None] | None = None,
                 on_loaded: Callable[[LoadedConfig], None] | None = None) -> None:
        self._path, self._engine = path, engine
        self._on_settings = on_settings
        self._on_loaded = on_loaded
        self._last = loaded  # unchanged entries of the next load reuse its tasks
        self._interval = interval_seconds
        self._check_file = check_file
        self._seen = file_identity(path)
        # The file's tasks: the engine holds just those now. Tasks added later
        # through the API are not the file's, so a reload must not remove them.
        self._task_ids = {task.task_id for task in engine.tasks()}
        self._lock = threading.Lock()  # one reload at a time
        self._wakeup = threading.Event()
        self._requested = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start polling (and serving reload requests) on a background thread."""
        self._thread = threading.Thread(target=self._watch, name="config-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it."""
        self._stopping = True
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def request_reload(self) -> None:
        """Reload soon, on the watcher's thread (safe to call from a signal handler)."""
        self._requested = True
        self._wakeup.set()

    def reload(self) -> ReloadSummary | None:
        """Reload now, in this thread. Returns the summary, or None if the file is unusable."""
        with self._lock:
            self._seen = file_identity(self._path)
            reason = self._check_file(self._path) if self._check_file else None
            if reason:
                logger.error("config not reloaded: %s", reason)
                return None
            try:
                config = load_config(self._path, previous=self._last)
            except ConfigError as error:  # one line per problem, all of them, in file order
                for problem in error.problems:
                    logger.error("config not reloaded, the tasks keep running as before: %s",
                                 problem)
                return None
            if self._on_loaded is not None:
                self._on_loaded(config)
            summary = apply_config(self._engine, config, self._task_ids)
            self._task_ids = {task.task_id for task in config.tasks} | set(summary.rejected)
            self._apply_settings(config.settings)
            self._last = config
            return summary

    def _apply_settings(self, settings: SchedulerSettings) -> None:
        """Apply the reloaded `scheduler` section; warn once about what needs a restart."""
        if settings.reload_interval_seconds != self._interval:
            self._interval = settings.reload_interval_seconds
            self._wakeup.set()  # the watcher may be waiting with the old interval
        before = self._last.settings if self._last is not None else None
        changes = [f"{name} {getattr(before, name)} -> {getattr(settings, name)}"
                   for name in RESTART_SETTINGS
                   if before is not None and getattr(before, name) != getattr(settings, name)]
        if changes:
            logger.warning("scheduler settings changed that apply only after a restart: %s "
                           "(running with the old values until then)", ", ".join(changes))
        if self._on_settings is not None:
            self._on_settings(settings)

    def _watch(self) -> None:
        while not self._stopping:
            self._wakeup.wait(self._interval if self._interval > 0 else None)
            self._wakeup.clear()
            if self._stopping:
                return
            if self._requested or (self._interval > 0 and self._changed()):
                self._requested = False
                self._reload_safely()

    def _changed(self) -> bool:
        identity = file_identity(self._path)
        if identity is None and self._seen is not None:  # said once, until it is back
            logger.warning("config %s is gone (deleted or renamed); the tasks keep running "
                           "as loaded, and the file is read again when it reappears", self._path)
        if identity is None:
            self._seen = None
            return False
        return identity != self._seen

    def _reload_safely(self) -> None:
        try:
            self.reload()
        except Exception:  # a bug here must not stop the watcher
            logger.exception("config reload failed; the tasks keep running as before")
