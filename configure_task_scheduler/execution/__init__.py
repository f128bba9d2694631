"""Execution: runs task code and reports what happened.

Owns the worker pool, the Python runner (with its timeout), the shell runner
(process groups, output capture, secret redaction) and the capture of what
Python tasks print and log (`capture_output`, `RunLogFilter`). Never
schedules, plans or retries: the engine decides when a run happens and this
stage tells it, through a `RunReporter`, when the run started and how it ended.
"""

from .capture import RunLogFilter, capture_output
from .executor import TERMINATE_SECONDS, Executor, PoolExecutor, is_pool_thread
from .reporting import RunReporter

__all__ = ["TERMINATE_SECONDS", "Executor", "PoolExecutor", "RunLogFilter", "RunReporter",
           "capture_output", "is_pool_thread"]
