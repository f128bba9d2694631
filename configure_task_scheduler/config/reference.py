"""The config reference: every field's one-line help, and its default from one source.

The `Task` and `SchedulerSettings` dataclasses hold the defaults; the help
texts here (shown for unknown keys, and copied into the JSON Schema, which a
test pins to them) are derived from those, so a default is written once.
Text only: it never validates or reads a file.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from . import checks
from .fields import TASK_DEFAULTS


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """Process settings from the `scheduler` section."""

    max_workers: int = 4
    shutdown_timeout_seconds: float = 10.0
    timezone: tzinfo | None = None
    reload_interval_seconds: float = 2.0
    state_path: str | None = None
    history_days: float = 30.0
    history_max_rows: int = 100_000
    http: str | None = None  # "[HOST:]PORT" of the HTTP add-on (see parse_http_address), None: off


def _json(value: Any) -> str:
    return json.dumps(value)


_D = TASK_DEFAULTS  # the "(default ...)" texts are derived from the dataclasses' defaults
_TEN_YEARS = f"<= {checks.MAX_SECONDS} s: 10 years"

TASK_FIELDS: dict[str, str] = {
    "task_id": "unique id: 1-64 letters, digits, _ - or .",
    "task_name": "a human name (default: the task_id)",
    "description": "free text",
    "enabled": f"false keeps the task loaded but never scheduled (default {_json(_D['enabled'])})",
    "task_type": '"python" or "shell"',
    "entry_point": '"module:function" for python; a string or list of strings for shell',
    "args": "positional arguments for a python callable (a list), checked against its "
            "signature",
    "kwargs": "keyword arguments for a python callable (an object), checked against its "
              "signature",
    "interval_seconds": f"run every N seconds (a number > 0 and {_TEN_YEARS})",
    "align": "with interval_seconds: run on clock multiples of the interval (default false)",
    "cron": 'a 5-field cron expression or macro: "0 2 * * 1-5", "@daily"',
    "at": 'run once at this ISO 8601 date-time: "2026-12-24T18:00:00"',
    "timezone": 'IANA time zone for cron, at and align: "Europe/Berlin" (default: '
                "scheduler.timezone, else the machine's zone)",
    "jitter_seconds": f"start each run a random 0..N seconds late ({_TEN_YEARS}; "
                      f"default {_D['jitter_seconds']:g})",
    "run_on_start": "also run once as soon as the scheduler starts "
                    f"(default {_json(_D['run_on_start'])})",
    "timeout_seconds": f"a run taking longer is timed out (a number > 0 and {_TEN_YEARS}; "
                       f"default {_json(_D['timeout_seconds'])}: no timeout)",
    "max_instances": "how many runs of this task may be in flight at once "
                     f"(1 to 10,000; default {_D['max_instances']})",
    "retries": "how many times a failed or timed-out run is retried "
               f"(0 to 10,000; default {_D['retries']})",
    "retry_delay_seconds": f"wait before the first retry ({_TEN_YEARS}; "
                           f"default {_D['retry_delay_seconds']:g})",
    "retry_backoff": "multiply the wait by this after each retry "
                     f"(1 to 100; default {_D['retry_backoff']:g})",
    "retry_max_delay_seconds": f"the longest wait between retries ({_TEN_YEARS}; "
                               f"default {_D['retry_max_delay_seconds']:g})",
    "misfire_grace_seconds": f"a run starting later than this is skipped as missed "
                             f"({_TEN_YEARS}; default null: late runs still run)",
    "env": 'extra environment variables, merged over defaults.env; "${NAME}" and '
           '"${NAME:-default}" take NAME from the scheduler\'s environment, "$$" is a "$"',
    "inherit_environment": "what a shell task inherits from the scheduler's environment: "
                           "null (default) all but other tasks' secrets; true all; "
                           "false only PATH, HOME, USER, LOGNAME, SHELL, LANG, TZ",
    "shell": f'the shell that runs a command string (default "{_D["shell"]}"; an '
             "absolute path to an executable)",
    "cwd": "working directory of a shell task (must exist)",
    "stderr_level": 'the level of the lines a task writes to stderr: "DEBUG", "INFO", '
                    f'"WARNING" or "ERROR" (default "{_D["stderr_level"]}")',
    "catch_up": "run once at start-up if runs were missed while the scheduler was not "
                f"running (default {_json(_D['catch_up'])}; needs scheduler.state_path)",
    "on_failure": "the id of another task to start when a run of this one ends failed, "
                  "timed_out or interrupted after its last retry; it gets CTS_TASK_ID, "
                  "CTS_RUN, CTS_STATUS, CTS_EXIT_CODE, CTS_ERROR and CTS_STARTED_AT "
                  f"(default {_json(_D['on_failure'])}: none)",
    "on_success": "the id of another task to start when a run of this one succeeds, "
                  f"with the same variables (default {_json(_D['on_success'])}: none)",
}

_S = {item.name: item.default for item in dataclasses.fields(SchedulerSettings)}

SCHEDULER_FIELDS: dict[str, str] = {
    "max_workers": f"how many runs may execute at once (1 to 1,000; default {_S['max_workers']})",
    "shutdown_timeout_seconds": "how long a shutdown waits for runs in flight "
                                f"({_TEN_YEARS}; default {_S['shutdown_timeout_seconds']:g})",
    "timezone": "default IANA time zone of the tasks (default: the machine's zone)",
    "reload_interval_seconds": "how often to look for changes to the config file "
                               f"({_TEN_YEARS}; default {_S['reload_interval_seconds']:g}; "
                               "0: only on SIGHUP)",
    "state_path": "the SQLite run history, relative to the config file (default: none, "
                  "no history)",
    "history_days": "delete history rows older than this many days (more than 0, up to "
                    f"36,500; default {_S['history_days']:g})",
    "history_max_rows": "keep at most this many history rows per task (1 to 100,000,000; "
                        f"default {_S['history_max_rows']})",
    "http": 'serve the status page, JSON API and metrics on "[HOST:]PORT" '
            "(default: off; HOST defaults to 127.0.0.1, PORT 0 picks a free port)",
}



def scheduler_default(name: str) -> Any:
    """A `scheduler` setting's default, from `SchedulerSettings`."""
    return _S[name]
