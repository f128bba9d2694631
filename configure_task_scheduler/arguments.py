"""The command line's arguments: the parser, its --help text and its value types.

`cli` builds the parser here and acts on what it reads; this module only
describes the options (their --help is the CLI reference) and checks each
value's form. It runs nothing and configures nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .addons import export, preview
from .config import HTTP_ADDRESS_EXPECTED, parse_http_address

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
# (arguments, what they do) for the --help examples, after the program's name.
EXAMPLES = (
    ("--config config/tasks.json", "run until Ctrl-C or SIGTERM"),
    ("--check", "validate the config, list its tasks"),
    ("--run hello", "run one task now, print its result"),
    ("--duration 10 --log-level DEBUG", "run for 10 seconds, show queue decisions"),
    ("--log-format json 2>> tasks.jsonl", "log one JSON object per line, for collectors"),
    ("--next 5", "each task's schedule and next 5 runs"),
    ("--simulate 7d", "the runs of the coming week, in a second"),
    ("--simulate 1h --explain", "the same, each queue decision in a sentence"),
    ("--history backup --limit 5", "the last 5 runs of task backup"),
    ("--status --format json", "is it running, each task's last and next run"),
    ("--http 8080", "also serve a status page on 127.0.0.1:8080"),
)
EXIT_STATUSES = """\
exit status: 0 ok (also after SIGINT/SIGTERM), 1 the task given to --run failed, --export
approximated or left out a task, or stdout was closed early (e.g. by `| head`), 2 bad
config or arguments, 70 the scheduler failed (a bug), 128+N signal N cut it short: 130 a
second Ctrl-C (or Ctrl-C during start-up or --run), 131 SIGQUIT, 143 SIGTERM during
start-up or --run
signals: SIGINT/SIGTERM stop gracefully, a second SIGINT or SIGQUIT stops at once,
SIGHUP reloads the config, SIGUSR1 logs the status of every task"""


def invoked_name(argv0: str | None = None) -> str:
    """Return how the user started the program, for usage lines and --version.

    `main.py` and `python -m` pass their own name to `main`; anything else (the
    installed `configure-task-scheduler` script) is named by `sys.argv[0]`.
    """
    return Path(argv0 if argv0 is not None else sys.argv[0]).name or "configure-task-scheduler"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """Return the argument parser (its --help is the CLI reference).

    Args:
        prog: the command as the user typed it, e.g. "python3 main.py";
            default: `invoked_name()`.
    """
    prog = prog or invoked_name()
    width = max(len(f"{prog} {arguments}") for arguments, _ in EXAMPLES)
    examples = "".join(f"  {prog + ' ' + arguments:<{width}}  {what}\n"
                       for arguments, what in EXAMPLES)
    parser = argparse.ArgumentParser(
        prog=prog, epilog=f"examples:\n{examples}\n{EXIT_STATUSES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run tasks from a JSON or TOML config on interval, cron and one-shot "
                    "schedules.")
    parser.add_argument("--config", default="config/tasks.json", metavar="PATH",
                        help="the config file, .json or .toml (default: %(default)s)")
    mode = parser.add_mutually_exclusive_group()
    add_mode_arguments(mode)
    parser.add_argument("--explain", action="store_true",
                        help="with --simulate: print each queue decision as a sentence (planned, "
                             "coalesced, skipped, missed, retried, re-planned)")
    add_state_arguments(parser, mode)
    export.add_arguments(parser, mode)
    add_running_arguments(parser)
    add_logging_arguments(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def add_mode_arguments(mode: argparse._MutuallyExclusiveGroup) -> None:
    """Add the modes: --check, --run, --duration, --next, --simulate."""
    mode.add_argument("--check", action="store_true",
                      help="validate the config, print its tasks and problems, exit 0 or 2")
    mode.add_argument("--run", metavar="TASK_ID",
                      help="run one task now in the foreground, exit 0 if it succeeded")
    mode.add_argument("--duration", type=_positive_seconds, metavar="SECONDS",
                      help="run for this long, then shut down gracefully")
    mode.add_argument("--next", type=_positive_int, metavar="N",
                      help="print each enabled task's schedule and its next N runs, then exit")
    mode.add_argument("--simulate", type=_duration, metavar="DURATION",
                      help="print the runs the scheduler would start from now on, executing "
                           "nothing (90s, 15m, 6h, 2d or seconds)")


def add_running_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --strict, --max-workers, --http and --allow-insecure-config."""
    parser.add_argument("--strict", action="store_true",
                        help="treat any problem in the config as fatal (exit 2)")
    parser.add_argument("--max-workers", type=_positive_int, metavar="N",
                        help="runs that may execute at once (default: scheduler.max_workers)")
    parser.add_argument("--http", type=_http_address, metavar="[HOST:]PORT",
                        help="serve the status page, JSON API (/api/tasks, /api/runs, "
                             "/healthz) and /metrics while running; HOST defaults to "
                             "127.0.0.1, PORT 0 picks a free port; set CTS_HTTP_TOKEN to "
                             "enable control (default: scheduler.http)")
    parser.add_argument("--allow-insecure-config", action="store_true",
                        help="load the config even if it is unsafe, e.g. writable by other "
                             "users (its commands run with your rights)")


def add_state_arguments(parser: argparse.ArgumentParser,
                        mode: argparse._MutuallyExclusiveGroup) -> None:
    """Add --history, --status (modes), --limit, --format and --state to `parser`."""
    mode.add_argument("--history", nargs="?", const="", metavar="TASK_ID",
                      help="print the latest runs from the state database (of one task), "
                           "newest first, then exit")
    mode.add_argument("--status", action="store_true",
                      help="print whether a scheduler is running and each task's last and "
                           "next run, then exit")
    parser.add_argument("--limit", type=_positive_int, default=20, metavar="N",
                        help="how many runs --history prints (default: %(default)s)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="--history and --status output: an aligned table, or JSON "
                             "(default: %(default)s)")
    parser.add_argument("--state", metavar="PATH",
                        help="the state database (run history, lock); overrides "
                             "scheduler.state_path")


def add_logging_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --log-level and --log-format to `parser`."""
    parser.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, metavar="LEVEL",
                        help="DEBUG, INFO, WARNING or ERROR (default: $LOG_LEVEL, else INFO)")
    parser.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                        help="text: one escaped line per event; json: one JSON object per "
                             "line with the run's fields (default: %(default)s)")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, found {text!r}")
    return value


def _duration(text: str) -> float:
    try:
        return preview.parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _http_address(text: str) -> str:
    if parse_http_address(text) is None:
        raise argparse.ArgumentTypeError(f"expected {HTTP_ADDRESS_EXPECTED}, found {text!r}")
    return text


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, found {text!r}")
    return int(text)
