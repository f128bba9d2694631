"""The HTTP add-on: a status page, a JSON API, Prometheus metrics and control.

`HttpServer` listens (127.0.0.1 unless a host is given), reads the scheduler
through the `Steering` protocol (`Scheduler` satisfies it: snapshots, run
now, pause, resume, cancel, reload, loop health) and its run listeners
(`RecentRuns`, `RunMetrics`), and answers with JSON, the page or the metrics
text. `/api/runs` reads a `RunSource`: the recent runs in memory, or the run
history through an adapter. The engine never imports it; `scheduler` and
`cli` wire it in.
"""

from .api import TOKEN_VARIABLE, Steering
from .runs import RecentRuns, RecordSource, RunSource
from .server import HttpError, HttpServer

__all__ = ["HttpError", "HttpServer", "RecentRuns", "RecordSource", "RunSource", "Steering",
           "TOKEN_VARIABLE"]
