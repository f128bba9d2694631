"""Run history that survives restarts, catch-up after downtime, one instance at a time.

An add-on: a listener on the engine's run events that writes every run attempt
to a SQLite file (`scheduler.state_path`) on its own thread, closes the runs a
dead process left in flight as `interrupted`, runs `catch_up` tasks once after
a downtime, and holds an OS file lock so two schedulers never share a config
or a database. `report` prints `--history` and `--status`. The engine never
imports it; `scheduler` and `cli` wire it in.
"""

from . import report
from .catch_up import catch_up_problems
from .lock import InstanceLock, LockError, holder_pid, lock_path_for
from .state import StateDatabase
from .store import INTERRUPTED_ERROR, SCHEMA_VERSION, RunRecord, StateError, TaskHistory

__all__ = [
    "INTERRUPTED_ERROR", "InstanceLock", "LockError", "RunRecord", "SCHEMA_VERSION",
    "StateDatabase", "StateError", "TaskHistory", "catch_up_problems", "holder_pid", "lock_path_for", "report",
]
