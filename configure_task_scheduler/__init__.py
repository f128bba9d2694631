"""configure_task_scheduler: a cron-like task scheduler on Python's `sched` module.

The pipeline, one module per stage::

    config file --> loader --> registry --> engine --> executor --> results
    (JSON/TOML)    (validate)  (task_id ->  (sched     (thread pool:   (RunResult,
                               Task map)    queue)     python/shell)   run events)

The loader turns a file into validated `Task`s, the registry holds them, the
engine keeps a `sched` queue of due runs on an injected clock and hands each
run to the executor, which runs it on a thread pool and reports the result.
Importing this package configures no logging and starts no threads.
"""

import logging

from .addons.reload import ReloadSummary
from .clock import Clock, FakeClock, RealClock
from .config import LoadedConfig, SchedulerSettings, load_config
from .engine import Engine
from .errors import ConfigError, Problem, ScheduleError
from .execution import Executor, PoolExecutor, RunLogFilter, RunReporter, capture_output
from .registry import Registry
from .scheduler import Scheduler
from .schedules import CronSchedule, IntervalSchedule, OneShotSchedule
from .task import (
                   EventKind,
                   Run,
                   RunEvent,
                   RunResult,
                   RunStatus,
                   Task,
                   TaskSnapshot,
                   TaskState,
                   TaskType,
)

__version__ = "0.1.0"

__all__ = [
    "Clock", "ConfigError", "CronSchedule", "Engine", "EventKind", "Executor", "FakeClock",
    "IntervalSchedule", "LoadedConfig", "OneShotSchedule", "PoolExecutor", "Problem",
    "RealClock", "Registry", "ReloadSummary", "Run", "RunEvent", "RunLogFilter", "RunReporter",
    "RunResult", "RunStatus", "ScheduleError", "Scheduler", "SchedulerSettings", "Task",
    "TaskSnapshot", "TaskState", "TaskType", "capture_output", "load_config", "__version__",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
