"""Live reload: the difference applied on the fake clock, files watched for real, SIGHUP.

The rhythm tests run the engine on a fake clock that performs the reload at
an exact moment while the engine sleeps, as the watcher thread would, so
whole lists of run times can be compared. The watcher tests change real files
(half-written, renamed over, swapped by symlink) under a real `ConfigWatcher`
thread and wait for its log line with a deadline. A few tests run a real pool
or a real `python3 main.py` process.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import MONOTONIC_START, START, RecordingExecutor, wait_until
from test_cli import DEADLINE_SECONDS, BackgroundScheduler, shell_task_entry

from configure_task_scheduler.addons.reload import (
    ConfigWatcher,
    ReloadSummary,
    apply_config,
)
from configure_task_scheduler.clock import FakeClock
from configure_task_scheduler.config.loader import build_config, load_config
from configure_task_scheduler.engine import Engine
from configure_task_scheduler.registry import Registry
from configure_task_scheduler.scheduler import Scheduler
from configure_task_scheduler.schedules import IntervalSchedule
from configure_task_scheduler.task import EventKind, RunEvent, RunStatus

RELOAD_LOGGER = "configure_task_scheduler.reload"
WATCH_INTERVAL_SECONDS = 0.05


class ReloadingClock(FakeClock):
    """A fake clock that runs actions at given times while the engine sleeps.

    That is where a reload happens in real life: on the watcher's thread, while
    the engine waits for its next run. The sleep then returns early, as a real
    one does when a change wakes the engine.
    """

    def __init__(self) -> None:
        super().__init__(START, MONOTONIC_START)
        self._actions: list[tuple[float, Callable[[], object]]] = []

    def call_at(self, seconds: float, action: Callable[[], object]) -> None:
        """Run `action` when the clock reaches `seconds` after the start."""
        self._actions = sorted(self._actions + [(MONOTONIC_START + seconds, action)],
                               key=lambda pair: pair[0])

    def sleep(self, seconds: float) -> None:
        if self._actions and self.monotonic() + seconds >= self._actions[0][0]:
            due, action = self._actions.pop(0)
            super().sleep(due - self.monotonic())
            action()
            return
        super().sleep(seconds)


def entry(task_id: str, interval_seconds: Any, command: str = "true",
          **fields: Any) -> dict[str, Any]:
    return shell_task_entry(task_id, command, interval_seconds, **fields)


def reload_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == RELOAD_LOGGER]


def task_ids(engine: Engine) -> list[str]:
    return [task.task_id for task in engine.tasks()]


# -- the difference, on the fake clock ------------------------------------------------


def test_reload_plans_added_unplans_removed_replans_changed_and_keeps_the_rhythm_of_the_rest(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = ReloadingClock()
    executor = RecordingExecutor(clock)
    before = build_config({"tasks": [entry("steady", 10), entry("slow", 30),
                                     entry("gone", 10), entry("retuned", 10)]}, "tasks.json")
    after = build_config({"tasks": [entry("steady", 10), entry("slow", 30),
                                    entry("retuned", 15), entry("fresh", 10)]}, "tasks.json")
    engine = Engine(Registry(before.tasks), executor, clock)
    steady = engine.task("steady")
    summaries: list[ReloadSummary] = []
    clock.call_at(25, lambda: summaries.append(apply_config(engine, after)))
    caplog.set_level(logging.INFO, logger=RELOAD_LOGGER)

    engine.run(duration_seconds=60)

    assert [str(summary) for summary in summaries] == [
        "reloaded config: 1 added (fresh), 1 removed (gone), 1 changed (retuned), 2 unchanged"]
    assert summaries == [ReloadSummary(added=["fresh"], removed=["gone"], changed=["retuned"],
                                       unchanged=2)]
    assert reload_messages(caplog) == [
        "reloaded config: 1 added (fresh), 1 removed (gone), 1 changed (retuned), 2 unchanged"]
    assert executor.times_of("steady") == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert executor.times_of("slow") == [30.0, 60.0]
    assert executor.times_of("gone") == [10.0, 20.0]
    assert executor.times_of("retuned") == [10.0, 20.0, 40.0, 55.0]
    assert executor.times_of("fresh") == [35.0, 45.0, 55.0]
    assert task_ids(engine) == ["steady", "slow", "retuned", "fresh"]
    assert engine.task("steady") is steady  # unchanged: not even replaced
    assert engine.task("retuned").schedule == IntervalSchedule(15)  # type: ignore[union-attr]


def test_a_replanned_task_keeps_counting_its_runs() -> None:
    clock = ReloadingClock()
    executor = RecordingExecutor(clock)
    engine = Engine(Registry(build_config([entry("retuned", 10)], "tasks.json").tasks),
                    executor, clock)
    after = build_config([entry("retuned", 15)], "tasks.json")
    clock.call_at(25, lambda: apply_config(engine, after))
    started: list[tuple[int, float]] = []
    engine.subscribe(lambda event: started.append(
        (event.run.run_number, event.run.planned_monotonic - MONOTONIC_START))
        if event.kind is EventKind.RUN_STARTED else None)

    engine.run(duration_seconds=60)

    assert started == [(1, 10.0), (2, 20.0), (3, 40.0), (4, 55.0)]


def test_a_task_removed_and_added_back_runs_only_on_its_new_grid() -> None:
    # Its removed self left an event queued for 20: that one must not fire.
    clock = ReloadingClock()
    executor = RecordingExecutor(clock)
    with_task = build_config([entry("back", 10)], "tasks.json")
    engine = Engine(Registry(with_task.tasks), executor, clock)
    planned: list[float] = []
    engine.subscribe(lambda event: planned.append(event.run.planned_monotonic - MONOTONIC_START)
                     if event.kind is EventKind.RUN_STARTED else None)
    clock.call_at(15, lambda: apply_config(engine, build_config([], "tasks.json")))
    clock.call_at(16, lambda: apply_config(engine, with_task))

    engine.run(duration_seconds=60)

    assert executor.times_of("back") == [10.0, 26.0, 36.0, 46.0, 56.0]
    assert planned == [10.0, 26.0, 36.0, 46.0, 56.0]


@pytest.mark.usefixtures("utc_local_time")
def test_a_run_in_flight_across_a_reload_that_drops_and_brings_back_its_task_still_counts(
        caplog: pytest.LogCaptureFixture) -> None:
    # Run 1 of the old task is held from 10 to 40; the task is dropped at 15 and
    # back at 16: its new runs at 26 and 36 are skipped (max_instances: 1), and
    # the old run's end reports into the old record, not the new one.
    clock = ReloadingClock()
    executor = RecordingExecutor(clock, hold=True)
    with_task = build_config([entry("back", 10)], "tasks.json")
    engine = Engine(Registry(with_task.tasks), executor, clock)
    clock.call_at(15, lambda: apply_config(engine, build_config([], "tasks.json")))
    clock.call_at(16, lambda: apply_config(engine, with_task))
    clock.call_at(40, executor.finish_held)
    caplog.set_level(logging.WARNING)

    engine.run(duration_seconds=50)

    assert executor.times_of("back") == [10.0, 46.0]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "task back run 1 skipped: previous run still running since 00:00:10",
        "task back run 2 skipped: previous run still running since 00:00:10"]
    [snapshot] = engine.snapshot()
    assert (snapshot.running, snapshot.last_result, dict(snapshot.counts)) == (
        1, None, {RunStatus.SKIPPED: 2})


def test_reloading_an_unchanged_file_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    clock = ReloadingClock()
    executor = RecordingExecutor(clock)
    document = {"tasks": [entry("steady", 10), entry("slow", 30)]}
    engine = Engine(Registry(build_config(document, "tasks.json").tasks), executor, clock)
    before = engine.tasks()
    clock.call_at(25, lambda: apply_config(engine, build_config(document, "tasks.json")))
    caplog.set_level(logging.INFO, logger=RELOAD_LOGGER)

    engine.run(duration_seconds=60)

    assert reload_messages(caplog) == [
        "reloaded config: 0 added, 0 removed, 0 changed, 2 unchanged"]
    assert executor.times_of("steady") == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert executor.times_of("slow") == [30.0, 60.0]
    assert all(new is old for new, old in zip(engine.tasks(), before, strict=True))


def test_a_task_whose_new_version_is_invalid_keeps_running_with_its_old_one_until_fixed(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = ReloadingClock()
    executor = RecordingExecutor(clock)
    engine = Engine(Registry(build_config([entry("steady", 10), entry("typo", 10)],
                                          "tasks.json").tasks), executor, clock)
    broken = build_config([entry("steady", 10), entry("typo", "10"),
                           {"task_id": "new", "task_type": "shell", "entry_point": "true"}],
                          "tasks.json")
    fixed = build_config([entry("steady", 10), entry("typo", 15)], "tasks.json")
    summaries: list[str] = []
    clock.call_at(25, lambda: summaries.append(str(apply_config(engine, broken))))
    clock.call_at(45, lambda: summaries.append(str(apply_config(engine, fixed))))
    caplog.set_level(logging.INFO, logger=RELOAD_LOGGER)

    engine.run(duration_seconds=80)

    assert summaries == [
        ("reloaded config: 0 added, 0 removed, 0 changed, 1 unchanged, "
         "1 kept (typo), its new version invalid"),
        "reloaded config: 0 added, 0 removed, 1 changed (typo), 1 unchanged"]
    assert reload_messages(caplog) == [
        ('tasks.json: task #2 "typo": interval_seconds: expected a number > 0 and <= 315360000 (10 '
         'years), '
         'found "10" (a string) (task skipped)'),
        ('tasks.json: task #3 "new": expected exactly one schedule (interval_seconds, cron, '
         "at), found none (task skipped)"),
        "task typo: its new definition is invalid; it keeps running as before",
        summaries[0],
        summaries[1]]
    assert executor.times_of("typo") == [10.0, 20.0, 30.0, 40.0, 60.0, 75.0]
    assert executor.times_of("new") == []
    assert task_ids(engine) == ["steady", "typo"]


# -- the watcher, on real files -------------------------------------------------------


def json_text(tasks: list[dict[str, Any]], **scheduler: Any) -> str:
    document = {"scheduler": scheduler, "tasks": tasks} if scheduler else {"tasks": tasks}
    return json.dumps(document, indent=2)


def replace_file(path: Path, text: str, like: Path | None = None) -> None:
    """Save as editors do: write a temporary file, then rename it over `path`.

    With `like`, the new file gets that file's modification time, so only its
    inode tells it apart (a same-size file saved within the clock's granularity).
    """
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text(text)
    if like is not None:
        status = like.stat()
        os.utime(temporary, ns=(status.st_atime_ns, status.st_mtime_ns))
    os.replace(temporary, path)


@pytest.fixture
def engine_of(fake_clock: FakeClock,
              recording_executor: RecordingExecutor) -> Callable[[Path], Engine]:
    """An engine (not running) holding the tasks of a config file."""

    def make(path: Path) -> Engine:
        return Engine(Registry(load_config(path).tasks), recording_executor, fake_clock)

    return make


@pytest.fixture
def start_watcher() -> Iterator[Callable[..., ConfigWatcher]]:
    watchers: list[ConfigWatcher] = []

    def start(path: Path, engine: Engine,
              interval_seconds: float = WATCH_INTERVAL_SECONDS) -> ConfigWatcher:
        watchers.append(ConfigWatcher(str(path), engine, interval_seconds))
        watchers[-1].start()
        return watchers[-1]

    yield start
    for watcher in watchers:
        watcher.stop()


def wait_for_message(caplog: pytest.LogCaptureFixture, message: str) -> None:
    wait_until(lambda: message in reload_messages(caplog), DEADLINE_SECONDS)


def test_half_written_file_keeps_the_old_tasks_until_the_complete_file_arrives(
        write_config: Callable[..., Path], engine_of: Callable[[Path], Engine],
        start_watcher: Callable[..., ConfigWatcher], caplog: pytest.LogCaptureFixture) -> None:
    path = write_config(json_text([entry("a", 10), entry("b", 10)]))
    engine = engine_of(path)
    caplog.set_level(logging.INFO, logger=RELOAD_LOGGER)
    start_watcher(path, engine)
    complete = json_text([entry("a", 10), entry("c", 10)])
    error = (f"config not reloaded, the tasks keep running as before: {path}: "
             "line 8, column 2: invalid JSON: Expecting ',' delimiter")

    replace_file(path, complete[:len(complete) // 2])
    wait_for_message(caplog, error)

    assert task_ids(engine) == ["a", "b"]
    replace_file(path, complete)
    wait_for_message(caplog, "reloaded config: 1 added (c), 1 removed (b), 0 changed, 1 unchanged")
    assert task_ids(engine) == ["a", "c"]
    assert reload_messages(caplog) == [
        error, "reloaded config: 1 added (c), 1 removed (b), 0 changed, 1 unchanged"]


def test_file_rewritten_in_place_is_reloaded(
        write_config: Callable[..., Path], engine_of: Callable[[Path], Engine],
        start_watcher: Callable[..., ConfigWatcher], caplog: pytest.LogCaptureFixture) -> None:
    path = write_config(json_text([entry("a", 10)]))
    engine = engine_of(path)
    caplog.set_level(logging.INFO, logger=RELOAD_LOGGER)
    start_watcher(path, engine)

    # In place, the watcher may also catch the file empty, between truncation and write.
    path.write_text(json_text([entry("a", 10), entry("b", 10)]))

    wait_for_message(caplog, "reloaded config: 1 added (b), 0 removed, 0 changed, 1 unchanged")
    assert task_ids(engine) == ["a", "b"]


def test_editor_save_by_rename_is_noticed_even_with_the_same_size_and_time(
        write_config: Callable[..., Path], engine_of: Callable[[Path], Engine],
        start_watcher: Callable[..., ConfigWatcher], caplog: pytest.LogCaptureFixture) -> None:
    path = write_config(json_text([entry("one", 10)]))
    engine = engine_of(path)
    caplog.set_level(logging.INFO, logger=RELOAD_LOGGER)
    start_watcher(path, engine)
    original = path.with_name("original.json")
    os.link(path, original)  # keeps the old inode alive, so it cannot be reused

    replace_file(path, json_text([entry("two", 10)]), like=original)

    assert (path.stat().st_size, path.stat().st_mtime_ns) == (
        original.stat().st_size, original.stat().st_mtime_ns)
    wait_for_message(caplog, "reloaded config: 1 added (two), 1 removed (one), 0 changed, 0 unchanged")
    assert task_ids(engine) == ["two"]


def configmap(directory: Path, version: str, text: str) -> Path:
    """Write a ConfigMap version as the kubelet does: a timestamped directory of files."""
    version_dir = directory / f"..2026_01_01_00_00_0{version}.{version}"
    version_dir.mkdir()
    (version_dir / "tasks.json").write_text(text)
    return version_dir


def test_configmap_symlink_swap_is_noticed(
        tmp_path: Path, engine_of: Callable[[Path], Engine],
        start_watcher: Callable[..., ConfigWatcher], caplog: pytest.LogCaptureFixture) -> None:
    # tasks.json -> ..data/tasks.json, ..data -> ..<timestamp>/, swapped by renaming a link.
    first = configmap(tmp_path, "1", json_text([entry("one", 10)]))
    (tmp_path / "..data").symlink_to(first.name)
    path = tmp_path / "tasks.json"
    path.symlink_to("..data/tasks.json")
    engine = engine_of(path)
    caplog.set_level(logging.INFO, logger=RELOAD_LOGGER)
    start_watcher(path, engine)
    second = configmap(tmp_path, "2", json_text([entry("two", 10)]))
    status = (first / "tasks.json").stat()
    os.utime(second / "tasks.json", ns=(status.st_atime_ns, status.st_mtime_ns))

    (tmp_path / "..data_tmp").symlink_to(second.name)
    os.replace(tmp_path / "..data_tmp", tmp_path / "..data")

    wait_for_message(caplog, "reloaded config: 1 added (two), 1 removed (one), 0 changed, 0 unchanged")
    assert task_ids(engine) == ["two"]


def test_watcher_with_interval_zero_reloads_when_asked(
        write_config: Callable[..., Path], engine_of: Callable[[Path], Engine],
        start_watcher: Callable[..., ConfigWatcher], caplog: pytest.LogCaptureFixture) -> None:
    path = write_config(json_text([entry("a", 10)]))
    engine = engine_of(path)
    caplog.set_level(logging.INFO, logger=RELOAD_LOGGER)
    watcher = start_watcher(path, engine, interval_seconds=0)
    replace_file(path, json_text([entry("a", 10), entry("b", 10)]))

    watcher.request_reload()

    wait_for_message(caplog, "reloaded config: 1 added (b), 0 removed, 0 changed, 1 unchanged")
    assert task_ids(engine) == ["a", "b"]


# -- Scheduler.reload -----------------------------------------------------------------


def test_scheduler_reload_returns_the_summary(write_config: Callable[..., Path]) -> None:
    path = write_config(json_text([entry("a", 10), entry("b", 10)]))
    scheduler = Scheduler.from_config(str(path))
    replace_file(path, json_text([entry("a", 20), entry("c", 10)]))

    summary = scheduler.reload()

    assert summary == ReloadSummary(added=["c"], removed=["b"], changed=["a"], unchanged=0)
    assert str(summary) == "reloaded config: 1 added (c), 1 removed (b), 1 changed (a), 0 unchanged"
    assert [snapshot.task.task_id for snapshot in scheduler.tasks()] == ["a", "c"]


def test_scheduler_reload_leaves_tasks_added_through_the_api_alone(
        write_config: Callable[..., Path]) -> None:
    path = write_config(json_text([entry("a", 10)]))
    scheduler = Scheduler.from_config(str(path))
    scheduler.every(60, "true", task_id="api")
    replace_file(path, json_text([entry("b", 10)]))

    summary = scheduler.reload()

    assert str(summary) == "reloaded config: 1 added (b), 1 removed (a), 0 changed, 0 unchanged"
    assert [snapshot.task.task_id for snapshot in scheduler.tasks()] == ["api", "b"]


def test_scheduler_reload_of_an_unparseable_file_returns_none_and_keeps_the_tasks(
        write_config: Callable[..., Path], caplog: pytest.LogCaptureFixture) -> None:
    path = write_config(json_text([entry("a", 10)]))
    scheduler = Scheduler.from_config(str(path))
    replace_file(path, '{\n  "tasks": [}\n')

    assert scheduler.reload() is None

    assert reload_messages(caplog) == [
        (f"config not reloaded, the tasks keep running as before: {path}: "
         "line 2, column 13: invalid JSON: Expecting value")]
    assert [snapshot.task.task_id for snapshot in scheduler.tasks()] == ["a"]


def test_scheduler_without_a_config_file_cannot_reload() -> None:
    with pytest.raises(RuntimeError,
                       match=r"^reload\(\) needs a scheduler made by Scheduler\.from_config\(\)$"):
        Scheduler().reload()


# -- runs in flight, on a real pool ---------------------------------------------------


RELOADED = {"removed": ([entry("other", 60)],
                        "reloaded config: 0 added, 1 removed (slow), 0 changed, 1 unchanged"),
            "changed": ([entry("slow", 60, "echo changed"), entry("other", 60)],
                        "reloaded config: 0 added, 0 removed, 1 changed (slow), 1 unchanged")}


@pytest.mark.parametrize(("tasks", "summary"), RELOADED.values(), ids=RELOADED.keys())
def test_a_run_in_flight_finishes_and_is_recorded_when_its_task_is_removed_or_changed(
        write_config: Callable[..., Path], caplog: pytest.LogCaptureFixture,
        tasks: list[dict[str, Any]], summary: str) -> None:
    old_command = "sleep 0.5; echo done"
    path = write_config(json_text([entry("slow", 60, old_command, run_on_start=True),
                                   entry("other", 60)], reload_interval_seconds=0))
    scheduler = Scheduler.from_config(str(path))
    started, finished = threading.Event(), threading.Event()
    results: list[RunEvent] = []

    def listen(event: RunEvent) -> None:
        if event.kind is EventKind.RUN_STARTED:
            started.set()
        elif event.kind is EventKind.RUN_FINISHED:
            results.append(event)
            finished.set()

    scheduler.subscribe(listen)
    caplog.set_level(logging.INFO)
    with scheduler:
        assert started.wait(DEADLINE_SECONDS)
        replace_file(path, json_text(tasks, reload_interval_seconds=0))

        assert str(scheduler.reload()) == summary
        assert not finished.is_set()  # the reload did not wait for the run
        assert finished.wait(DEADLINE_SECONDS)

    event, = results
    assert event.result is not None
    assert (event.run.task.entry_point, event.run.run_number, event.result.status) == (
        old_command, 1, RunStatus.SUCCEEDED)
    assert "task slow | done" in caplog.messages
    assert [m for m in caplog.messages if re.fullmatch(
        r"task slow run 1 finished: succeeded in \d+\.\d\ds", m)] != []


def test_a_changed_task_keeps_the_result_of_its_run_in_flight(
        write_config: Callable[..., Path]) -> None:
    path = write_config(json_text([entry("slow", 60, "sleep 0.3", run_on_start=True)],
                                  reload_interval_seconds=0))
    scheduler = Scheduler.from_config(str(path))
    started, finished = threading.Event(), threading.Event()
    scheduler.subscribe(lambda event: (started if event.kind is EventKind.RUN_STARTED
                                       else finished).set())

    with scheduler:
        assert started.wait(DEADLINE_SECONDS)
        replace_file(path, json_text([entry("slow", 30, "sleep 0.3")],
                                     reload_interval_seconds=0))
        scheduler.reload()
        assert finished.wait(DEADLINE_SECONDS)
        snapshot, = scheduler.tasks()

    assert snapshot.task.schedule == IntervalSchedule(30)
    assert snapshot.last_result is not None
    assert snapshot.last_result.status is RunStatus.SUCCEEDED
    assert dict(snapshot.counts) == {RunStatus.SUCCEEDED: 1}


# -- the command line -----------------------------------------------------------------



def test_sighup_reloads_the_config(write_config: Callable[..., Path],
                                   start_cli: Callable[..., BackgroundScheduler]) -> None:
    path = write_config(json_text([entry("a", 60)], reload_interval_seconds=0))
    scheduler = start_cli(path)
    scheduler.wait_for_log(r"scheduler started with 1 task \(1 enabled\)")
    write_config(json_text([entry("a", 60), entry("b", 60)], reload_interval_seconds=0))

    scheduler.send(signal.SIGHUP)

    scheduler.wait_for_log(r"reloaded config: 1 added \(b\), 0 removed, 0 changed, 1 unchanged")
    scheduler.send(signal.SIGTERM)
    assert scheduler.exit_status() == 0
    messages = scheduler.messages
    assert messages.index("received SIGHUP: reloading the config") < messages.index(
        "reloaded config: 1 added (b), 0 removed, 0 changed, 1 unchanged")
    assert messages[-1] == "scheduler stopped"


def test_a_timed_run_notices_the_changed_file_and_runs_the_added_task(
        write_config: Callable[..., Path],
        start_cli: Callable[..., BackgroundScheduler]) -> None:
    path = write_config(json_text([entry("a", 60)], reload_interval_seconds=0.05))
    scheduler = start_cli(path, "--duration", "2")
    scheduler.wait_for_log(r"scheduler started with 1 task \(1 enabled\)")

    replace_file(path, json_text([entry("a", 60), entry("b", 0.2, "echo added")],
                                 reload_interval_seconds=0.05))

    scheduler.wait_for_log(r"reloaded config: 1 added \(b\), 0 removed, 0 changed, 1 unchanged")
    scheduler.wait_for_log(r"task b \| added")
    assert scheduler.exit_status() == 0
    assert scheduler.messages[-1] == "scheduler stopped"


# -- the scheduler section and the summary's names ------------------------------------


def test_a_reload_applies_a_new_reload_interval_at_once(
        write_config: Callable[..., Path], caplog: pytest.LogCaptureFixture) -> None:
    path = write_config(json_text([entry("a", 60)], reload_interval_seconds=0))
    scheduler = Scheduler.from_config(str(path))
    caplog.set_level(logging.INFO, logger=RELOAD_LOGGER)
    with scheduler:
        replace_file(path, json_text([entry("a", 60)], reload_interval_seconds=0.05))
        scheduler.reload()

        # Polling is on now: the next change is noticed without being asked for.
        replace_file(path, json_text([entry("a", 60), entry("b", 60)],
                                     reload_interval_seconds=0.05))
        wait_for_message(caplog, "reloaded config: 1 added (b), 0 removed, 0 changed, "
                                 "1 unchanged")


def test_settings_that_need_a_restart_get_one_warning_and_the_rest_apply(
        write_config: Callable[..., Path], caplog: pytest.LogCaptureFixture) -> None:
    path = write_config(json_text([entry("a", 60)], reload_interval_seconds=0,
                                  max_workers=2, shutdown_timeout_seconds=10))
    scheduler = Scheduler.from_config(str(path))
    caplog.set_level(logging.INFO, logger=RELOAD_LOGGER)
    replace_file(path, json_text([entry("a", 60)], reload_interval_seconds=0,
                                 max_workers=8, shutdown_timeout_seconds=3))

    scheduler.reload()
    scheduler.reload()  # nothing new: no second warning

    assert reload_messages(caplog) == [
        "reloaded config: 0 added, 0 removed, 0 changed, 1 unchanged",
        "scheduler settings changed that apply only after a restart: max_workers 2 -> 8 "
        "(running with the old values until then)",
        "reloaded config: 0 added, 0 removed, 0 changed, 1 unchanged",
    ]
    assert scheduler.shutdown_timeout_seconds == 3


def test_the_summary_names_ten_tasks_of_each_kind_then_counts_the_rest() -> None:
    clock = ReloadingClock()
    before = build_config([entry(f"old{n:02}", 10) for n in range(1, 12)], "tasks.json")
    after = build_config([entry(f"new{n:02}", 10) for n in range(1, 13)], "tasks.json")
    engine = Engine(Registry(before.tasks), RecordingExecutor(clock), clock)

    summary = apply_config(engine, after)

    assert str(summary) == (
        "reloaded config: 12 added (new01, new02, new03, new04, new05, new06, new07, new08, "
        "new09, new10 and 2 more), 11 removed (old01, old02, old03, old04, old05, old06, old07, "
        "old08, old09, old10 and 1 more), 0 changed, 0 unchanged")


def test_a_reload_of_an_unusable_file_logs_each_of_its_problems_on_its_own_line(
        write_config: Callable[..., Path], caplog: pytest.LogCaptureFixture) -> None:
    path = write_config(json_text([entry("a", 60)], reload_interval_seconds=0))
    scheduler = Scheduler.from_config(str(path))
    caplog.set_level(logging.INFO, logger=RELOAD_LOGGER)
    replace_file(path, json_text([entry("a", "60")], reload_interval_seconds=-1))

    assert scheduler.reload() is None
    assert reload_messages(caplog) == [
        f"config not reloaded, the tasks keep running as before: {path}: scheduler: "
        "reload_interval_seconds: expected a number from 0 to 315360000 (10 years), found -1",
        f'config not reloaded, the tasks keep running as before: {path}: task #1 "a": '
        'interval_seconds: expected a number > 0 and <= 315360000 (10 years), found "60" (a string)',
    ]
