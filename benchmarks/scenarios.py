"""The benchmark scenarios, one per function; run as `python -m benchmarks.scenarios NAME SUBJECT`.

SUBJECT is "this" (configure_task_scheduler), "floor" (a bare `sched` loop, see
`floor.py`), "apscheduler" or "schedule". Each scenario prints one JSON object
of figures on its last line. Lateness is measured from a run's planned time to
the first line of the task; CPU from `resource.getrusage` of this process
(threads included); memory from RSS.

Like for like: every subject starts its tasks in phase (the first runs one
interval after the start, on one grid), coalesces missed runs into one and
runs a late run however late (APScheduler: `coalesce=True`,
`misfire_grace_time=None`, `max_instances=1`, as this scheduler's defaults),
and removes tasks one by one.
"""

from __future__ import annotations

import gc
import importlib.util
import itertools
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.floor import Floor  # noqa: E402
from benchmarks.http_scenario import http_this  # noqa: E402,F401 (the `http` scenario)
from configure_task_scheduler import FakeClock, Scheduler, load_config  # noqa: E402
from configure_task_scheduler.execution.python_call import run_python  # noqa: E402
from configure_task_scheduler.schedules.cron import CronSchedule  # noqa: E402
from configure_task_scheduler.task import Run  # noqa: E402

Figures = dict[str, float]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -- lateness: 100 tasks every 0.5 s for 10 s, no-op body -------------------------------------


def lateness_this() -> Figures:
    late: list[float] = []

    def task(context: Any) -> None:
        late.append(time.time() - context.planned_at.timestamp())

    scheduler = Scheduler(max_workers=4)
    for n in range(100):
        scheduler.every(0.5, task, task_id=f"t{n}")
    scheduler.run_forever(duration_seconds=10)
    return lateness_figures(late)


def lateness_floor() -> Figures:
    late: list[float] = []

    def task(planned: float) -> None:
        late.append(time.monotonic() - planned)

    floor = Floor(max_workers=4)
    for _ in range(100):
        floor.every(0.5, task)
    floor.run_for(10)
    return lateness_figures(late)


def apscheduler_like_this(max_workers: int = 4) -> Any:
    """A BackgroundScheduler with this scheduler's policies: coalesce missed runs into
    one, run late runs however late, one run of a task at a time."""
    from apscheduler.schedulers.background import BackgroundScheduler
    return BackgroundScheduler(
        executors={"default": {"type": "threadpool", "max_workers": max_workers}},
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1})


def lateness_apscheduler() -> Figures:
    late: list[float] = []
    start = time.time() + 0.5

    def task() -> None:
        now = time.time()
        late.append((now - start) % 0.5)  # distance past the last planned time

    scheduler = apscheduler_like_this()
    for n in range(100):
        scheduler.add_job(task, "interval", seconds=0.5, id=f"t{n}",
                          start_date=datetime.fromtimestamp(start, timezone.utc))
    scheduler.start()
    time.sleep(10)
    scheduler.shutdown()
    return lateness_figures(late)


# `schedule` runs jobs in the thread that polls it: every 10 ms here, a generous
# setting (its documentation polls every second, so jobs run up to 1 s late).
SCHEDULE_POLL_SECONDS = 0.01


def poll_schedule(seconds: float) -> None:
    import schedule
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        schedule.run_pending()
        time.sleep(SCHEDULE_POLL_SECONDS)


def lateness_schedule() -> Figures:
    import schedule
    late: list[float] = []
    jobs: list[Any] = []

    def task(n: int) -> None:  # a job's next_run is still this run's planned time
        late.append(time.time() - jobs[n].next_run.timestamp())

    jobs.extend(schedule.every(0.5).seconds.do(task, n) for n in range(100))
    poll_schedule(10)
    return lateness_figures(late)


def lateness_figures(late: list[float]) -> Figures:
    return {"runs": len(late), "lateness p50 ms": statistics.median(late) * 1e3,
            "lateness p99 ms": percentile(late, 0.99) * 1e3, "lateness max ms": max(late) * 1e3}


# -- throughput: 2,000 tasks every 0.1 s, all in phase (ideal 20,000 runs/s) ---------------------


THROUGHPUT_SECONDS = 10.0


def throughput_this(tasks: int = 2000, jitter_seconds: float = 0.0,
                    seconds: float = THROUGHPUT_SECONDS, listeners: int = 0) -> Figures:
    counter = itertools.count()
    late: list[float] = []

    def task() -> None:
        next(counter)

    def sampled_task(context: Any) -> None:
        next(counter)
        late.append(time.time() - context.planned_at.timestamp())

    scheduler = Scheduler(max_workers=4)
    for n in range(tasks):
        # Every 100th task measures its lateness (so samples come from the whole
        # burst); the others are plain no-ops, like APScheduler's here.
        scheduler.every(0.1, sampled_task if n % 100 == 0 else task, task_id=f"t{n}",
                        jitter_seconds=jitter_seconds)
    for _ in range(listeners):
        scheduler.subscribe(lambda event: None)
    return measure_throughput(lambda: scheduler.run_forever(seconds), counter, late, tasks,
                              seconds)


def throughput_floor(tasks: int = 2000, seconds: float = THROUGHPUT_SECONDS) -> Figures:
    counter = itertools.count()
    late: list[float] = []

    def task(planned: float) -> None:
        next(counter)

    def sampled_task(planned: float) -> None:
        next(counter)
        late.append(time.monotonic() - planned)

    floor = Floor(max_workers=4)
    for n in range(tasks):
        floor.every(0.1, sampled_task if n % 100 == 0 else task)
    return measure_throughput(lambda: floor.run_for(seconds), counter, late, tasks, seconds)


def throughput_apscheduler(tasks: int = 2000, jitter_seconds: float = 0.0,
                           seconds: float = THROUGHPUT_SECONDS, listeners: int = 0) -> Figures:
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
    counter = itertools.count()
    scheduler = apscheduler_like_this()
    # One start date for all: the jobs run in phase on one 0.1 s grid, as in the
    # other subjects (by default each job's grid starts when it is added).
    start = datetime.fromtimestamp(time.time() + 0.1, timezone.utc)
    for n in range(tasks):
        scheduler.add_job(lambda: next(counter), "interval", seconds=0.1, id=f"t{n}",
                          jitter=jitter_seconds or None, start_date=start)
    for _ in range(listeners):
        scheduler.add_listener(lambda event: None, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def run() -> None:
        scheduler.start()
        time.sleep(seconds)
        scheduler.shutdown()

    return measure_throughput(run, counter, [], tasks, seconds)


def throughput_schedule(tasks: int = 2000, seconds: float = THROUGHPUT_SECONDS) -> Figures:
    import schedule
    schedule.clear()
    counter = itertools.count()
    for _ in range(tasks):
        schedule.every(0.1).seconds.do(lambda: next(counter))
    return measure_throughput(lambda: poll_schedule(seconds), counter, [], tasks, seconds)


def measure_throughput(run: Callable[[], None], counter: Any, late: list[float],
                       tasks: int, seconds: float) -> Figures:
    # The steady rate: runs counted from 1 s in to 0.5 s before the end, away
    # from the start-up and the stop (each reading adds one to the counter).
    readings: list[int] = []
    timers = [threading.Timer(when, lambda: readings.append(next(counter)))
              for when in (1.0, seconds - 0.5)]
    for timer in timers:
        timer.start()
    cpu = cpu_seconds()
    run()
    cpu = cpu_seconds() - cpu
    runs = next(counter) - 2
    ideal = tasks * 10
    figures = {"runs/s": runs / seconds,
               f"% of ideal ({ideal:,}/s)": runs / seconds / ideal * 100,
               "CPU µs per run": cpu / max(runs, 1) * 1e6,
               "steady runs/s": (readings[1] - readings[0] - 1) / (seconds - 1.5)}
    if late:
        figures["lateness p50 ms (sampled)"] = percentile(late, 0.50) * 1e3
        figures["lateness p99 ms (sampled)"] = percentile(late, 0.99) * 1e3
    return figures


# -- spread: the same 2,000 tasks, each run jittered over its 0.1 s period --------------------


def spread_this() -> Figures:
    return throughput_this(jitter_seconds=0.1)


def spread_apscheduler() -> Figures:
    return throughput_apscheduler(jitter_seconds=0.1)


# -- listener: the throughput scenario with one listener subscribed to every run event -------


def listener_this() -> Figures:
    return throughput_this(listeners=1)


def listener_floor() -> Figures:
    return throughput_floor()  # the floor has no events: the same bare loop


def listener_apscheduler() -> Figures:
    return throughput_apscheduler(listeners=1)


# -- saturation: 10,000 tasks every 0.1 s (ideal 100,000 runs/s): the most it can dispatch ------


def saturation_this() -> Figures:
    return throughput_this(tasks=10_000)


def saturation_floor() -> Figures:
    return throughput_floor(tasks=10_000)


def saturation_apscheduler() -> Figures:
    return throughput_apscheduler(tasks=10_000)


def saturation_schedule() -> Figures:
    return throughput_schedule(tasks=10_000)


# -- ramp: the highest rate sustained at >= 99% of ideal -------------------------------------------


RAMP_RATES = (5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 35_000, 40_000, 50_000)


def ramp(throughput: Callable[..., Figures]) -> Figures:
    """Run tasks every 0.1 s at rising rates, 10 s each; stop at the first one not sustained.

    Sustained: the steady rate (1 s in to 0.5 s before the end) is >= 99% of
    it. Near the limit a rate can hold for a few seconds and then slip (each
    coalesced run logs a warning, which costs more): shorter steps overstate it.
    """
    sustained = 0
    for rate in RAMP_RATES:
        figures = throughput(tasks=rate // 10, seconds=10.0)
        if figures["steady runs/s"] < 0.99 * rate:
            break
        sustained = rate
    return {"highest rate sustained (runs/s)": sustained}


def ramp_this() -> Figures:
    return ramp(throughput_this)


def ramp_floor() -> Figures:
    return ramp(throughput_floor)


def ramp_apscheduler() -> Figures:
    return ramp(throughput_apscheduler)


def ramp_schedule() -> Figures:
    return ramp(throughput_schedule)


# -- idle: 1,000 hourly tasks, 20 s window ----------------------------------------------------


def idle_this() -> Figures:
    scheduler = Scheduler(max_workers=4)
    for n in range(1000):
        scheduler.every(3600, "true", task_id=f"t{n}")
    scheduler.start()
    figures = measure_idle(time.sleep)
    scheduler.stop()
    return figures


def idle_apscheduler() -> Figures:
    from apscheduler.schedulers.background import BackgroundScheduler
    scheduler = BackgroundScheduler()
    for n in range(1000):
        scheduler.add_job(print, "interval", seconds=3600, id=f"t{n}")
    scheduler.start()
    figures = measure_idle(time.sleep)
    scheduler.shutdown()
    return figures


def idle_schedule() -> Figures:
    import schedule
    for _ in range(1000):
        schedule.every(3600).seconds.do(noop)
    return measure_idle(poll_schedule)


def measure_idle(wait: Callable[[float], None]) -> Figures:
    """CPU used while `wait(20)` runs, after a first second (start-up is not idle time)."""
    wait(1)
    cpu = cpu_seconds()
    wait(20)
    return {"CPU s in 20 s": cpu_seconds() - cpu}


# -- scale: 100,000 tasks through the API ---------------------------------------------------------


SCALE_TASKS = 100_000


def noop() -> None:
    """A task that does nothing."""


def scale_this() -> Figures:
    scheduler = Scheduler(max_workers=4)
    scheduler.start()  # running: each task is planned and queued as it is added

    def remove_each() -> None:
        for n in range(SCALE_TASKS):
            scheduler.remove(f"t{n}")

    figures = measure_scale(lambda n: scheduler.every(3600, noop, task_id=f"t{n}"), remove_each)
    scheduler.stop()
    return figures


def scale_apscheduler() -> Figures:
    scheduler = apscheduler_like_this()
    scheduler.start()  # running, like this scheduler's (paused, it would not plan the jobs)

    def remove_each() -> None:
        for n in range(SCALE_TASKS):
            scheduler.remove_job(f"t{n}")

    figures = measure_scale(
        lambda n: scheduler.add_job(noop, "interval", seconds=3600, id=f"t{n}"), remove_each)
    scheduler.shutdown()
    return figures


def scale_schedule() -> Figures:
    import schedule
    jobs: list[Any] = []

    def remove_each() -> None:  # cancel_job() is O(n) per job: quadratic, as it is
        for job in jobs:
            schedule.cancel_job(job)

    return measure_scale(lambda n: jobs.append(schedule.every(3600).seconds.do(noop)),
                         remove_each)


def measure_scale(add: Callable[[int], object], remove_all: Callable[[], object]) -> Figures:
    """Time `add(n)` for 100,000 tasks, then `remove_all()` (one by one); RSS grown per task."""
    gc.collect()
    rss = rss_bytes()
    started = time.perf_counter()
    for n in range(SCALE_TASKS):
        add(n)
    added = time.perf_counter() - started
    rss = rss_bytes() - rss
    started = time.perf_counter()
    remove_all()
    removed = time.perf_counter() - started
    return {"add 100k tasks s": added, "remove 100k tasks s": removed,
            "RSS bytes per task": rss / SCALE_TASKS}


# -- reload: a 100,000-task JSON config, then one task changed ----------------------------------


def reload_this() -> Figures:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "tasks.json"
        tasks = [{"task_id": f"t{n}", "task_type": "shell", "entry_point": "true",
                  "interval_seconds": 3600} for n in range(100_000)]
        path.write_text(json.dumps({"scheduler": {"reload_interval_seconds": 0},
                                    "tasks": tasks}))
        os.chmod(path, 0o600)
        started = time.perf_counter()
        load_config(str(path))
        loaded = time.perf_counter() - started
        scheduler = Scheduler.from_config(str(path))
        scheduler.start()
        while any(s.next_run_at is None for s in scheduler.tasks()[-1:]):
            time.sleep(0.01)  # the engine thread plans the tasks when it starts
        before = {s.task_id: s.next_run_at for s in scheduler.tasks()}
        tasks[5]["interval_seconds"] = 60
        path.write_text(json.dumps({"scheduler": {"reload_interval_seconds": 0},
                                    "tasks": tasks}))
        started = time.perf_counter()
        summary = scheduler.reload()
        reloaded = time.perf_counter() - started
        after = {s.task_id: s.next_run_at for s in scheduler.tasks()}
        scheduler.stop()
    moved = sum(before[key] != after[key] for key in before) - 1
    assert summary is not None and summary.changed == ["t5"], summary
    return {"load + validate 100k s": loaded, "reload, 1 of 100k changed s": reloaded,
            "other tasks moved by reload": moved}


# -- cron: next_after --------------------------------------------------------------------------


CRON_EXPRESSIONS = ("* * * * *", "*/5 * * * *", "0 0 * * *", "30 2 * * 1-5", "0 9 1,15 * MON",
                    "@hourly")


def cron_this() -> Figures:
    start = datetime(2024, 1, 1, 0, 7, 30, tzinfo=timezone.utc)
    figures: Figures = {}
    for expression in CRON_EXPRESSIONS:
        schedule = CronSchedule(expression, "Europe/Berlin")
        timings = []
        for _ in range(5):
            when, began = start, time.perf_counter()
            for _ in range(2000):
                when = schedule.next_after(when) or start
            timings.append((time.perf_counter() - began) / 2000)
        figures[f"next_after µs {expression}"] = statistics.median(timings) * 1e6
    return figures


def cron_apscheduler() -> Figures:
    from apscheduler.triggers.cron import CronTrigger
    start = datetime(2024, 1, 1, 0, 7, 30, tzinfo=timezone.utc)
    figures: Figures = {}
    for expression in CRON_EXPRESSIONS:
        if expression.startswith("@"):
            continue
        trigger = CronTrigger.from_crontab(expression, timezone="Europe/Berlin")
        timings = []
        for _ in range(5):
            when, began = start, time.perf_counter()
            for _ in range(2000):
                when = trigger.get_next_fire_time(when, when) or start
            timings.append((time.perf_counter() - began) / 2000)
        figures[f"next_after µs {expression}"] = statistics.median(timings) * 1e6
    return figures


# -- memory: 1,000,000 runs of a no-op task ------------------------------------------------------


class _InlineExecutor:
    """Runs each python task in the engine's thread: the engine's own cost, no hand-off."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def submit(self, run: Run, reporter: Any) -> None:
        now, wall = self.clock.monotonic(), self.clock.wall()
        if reporter.run_started(run, wall, now):
            run_python(run, reporter, self.clock, wall, now)

    def shutdown(self, timeout_seconds: float) -> list[Run]:
        return []


def memory_this() -> Figures:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
    scheduler = Scheduler(clock=clock, executor=_InlineExecutor(clock))
    scheduler.every(1, noop, task_id="noop")
    engine = scheduler._engine  # the engine itself: run() twice, no shutdown between
    engine.run(duration_seconds=10_000)  # warm-up: caches, arenas
    gc.collect()
    rss = rss_bytes()
    started = time.perf_counter()
    engine.run(duration_seconds=1_000_000)  # a million more runs
    elapsed = time.perf_counter() - started
    assert dict(scheduler.tasks()[0].counts)["succeeded"] == 1_010_000
    gc.collect()
    return {"RSS growth MB over 1M runs": (rss_bytes() - rss) / 2**20,
            "engine µs per run (inline, fake clock)": elapsed / 1_000_000 * 1e6}


# -- history: 1,000 tasks every 0.1 s (10,000 runs/s), with and without the state database -----


HISTORY_TASKS = 1000
HISTORY_ROWS = 1_000_000


def history_this() -> Figures:
    with tempfile.TemporaryDirectory() as directory:
        plain = _history_throughput(None)
        path = str(Path(directory) / "state.db")
        recorded = _history_throughput(path)
        db = sqlite3.connect(path)
        rows = db.execute("SELECT count(*) FROM runs").fetchone()[0]
        db.close()
        figures = {
            "runs/s (history on)": recorded["runs/s"],
            "CPU µs per run (history off)": plain["CPU µs per run"],
            "CPU µs per run (history on)": recorded["CPU µs per run"],
            "CPU µs added per run": recorded["CPU µs per run"] - plain["CPU µs per run"],
            "records dropped": recorded["dropped"],
            "bytes per row": os.path.getsize(path) / max(rows, 1),
        }
        figures.update(_history_query(str(Path(directory) / "big.db")))
    return figures


def _history_throughput(path: str | None) -> Figures:
    counter = itertools.count()

    def task() -> None:
        next(counter)

    scheduler = Scheduler(max_workers=4, state_path=path)
    for n in range(HISTORY_TASKS):
        scheduler.every(0.1, task, task_id=f"t{n}")
    figures = measure_throughput(lambda: scheduler.run_forever(THROUGHPUT_SECONDS), counter,
                                 [], HISTORY_TASKS, THROUGHPUT_SECONDS)
    state = scheduler._state  # the benchmark reads the writer's counter directly
    figures["dropped"] = float(state.writer.dropped) if state is not None else 0.0
    return figures


def _history_query(path: str) -> Figures:
    """`--history --limit 20` on a database of HISTORY_ROWS rows: the query, and the CLI."""
    from configure_task_scheduler.addons.history import store
    db = store.connect(path)
    planned = "2026-01-01T00:00:00.000000+00:00"
    with store.transaction(db):
        db.executemany(
            f"INSERT INTO runs ({store._RUN_COLUMNS}) VALUES "
            "(?, ?, 1, ?, ?, ?, 0.001, 'succeeded', 0, '', '', '')",
            ((f"t{n % HISTORY_TASKS}", n // HISTORY_TASKS + 1, planned, planned, planned)
             for n in range(HISTORY_ROWS)))
    db.close()
    reader = store.connect(path, read_only=True)
    query = []
    for task_id in (None, "t7"):
        started = time.perf_counter()
        store.recent_runs(reader, task_id, 20)
        query.append((time.perf_counter() - started) * 1e3)
    reader.close()
    started = time.perf_counter()
    subprocess.run([sys.executable, "main.py", "--state", path, "--history", "--limit", "20"],
                   cwd=Path(__file__).resolve().parent.parent, check=True,
                   capture_output=True)
    cli = (time.perf_counter() - started) * 1e3
    return {"--history query ms (1M rows)": query[0],
            "--history TASK query ms (1M rows)": query[1],
            "--history whole CLI ms (1M rows)": cli}


def queues_this() -> Figures:
    """Heap (sched) vs bare heapq vs timing wheel vs polling, alone (see queues.py)."""
    from benchmarks import queues
    return queues.measure()


def runners_this() -> Figures:
    """Threads vs processes vs asyncio, and the GIL's cost to a loop (see runners.py)."""
    from benchmarks import runners
    return runners.measure()


# -- dispatch -------------------------------------------------------------------------------------


OTHERS = {"apscheduler": "apscheduler", "schedule": "schedule"}


def available_others() -> list[str]:
    """The other schedulers that are importable here."""
    return [name for name, module in OTHERS.items() if importlib.util.find_spec(module)]


def supports(scenario: str, subject: str) -> bool:
    """True if `scenario` has an implementation for `subject`."""
    return f"{scenario}_{subject}" in globals()


def main() -> None:
    scenario, subject = sys.argv[1], sys.argv[2]
    figures = globals()[f"{scenario}_{subject}"]()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
