"""The command-line face of the exporters: `--export FORMAT` and `--import-crontab FILE`.

`add_arguments` adds the flags to the CLI's parser; `export_main` builds the
chosen export, prints one line per task on stderr, writes the files and
returns the exit status (0 all exported as is, 1 some approximated or left
out, 2 bad input with one line and nothing written). `import_main` prints a
config for a crontab. Never runs a task.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from ...config import LoadedConfig
from ...schedules import local_timezone
from .common import Export, ExportError, exit_status, write_export
from .crontab import DIALECTS, config_text, export_crontab, import_crontab
from .kubernetes import export_kubernetes
from .systemd import export_systemd

FORMATS = ("kubernetes", "systemd", "crontab")
EXIT_BAD_INPUT = 2


def add_arguments(parser: argparse.ArgumentParser, mode: Any) -> None:
    """Add --export and --import-crontab (modes) and their options to `parser`."""
    mode.add_argument("--export", choices=FORMATS, metavar="FORMAT",
                      help="write the tasks as kubernetes, systemd or crontab files, then exit")
    mode.add_argument("--import-crontab", metavar="FILE",
                      help="print a config (JSON) for the jobs of a crontab, then exit")
    options = parser.add_argument_group("--export options")
    options.add_argument("--out", metavar="DIR", help="write the files into DIR "
                         "(default: standard output when there is one file)")
    options.add_argument("--force", action="store_true",
                         help="replace files in --out that differ")
    options.add_argument("--image", metavar="IMAGE", help="kubernetes: the image with this package and the "
                         "task code (required)")
    options.add_argument("--namespace", default="default", metavar="NS",
                         help="kubernetes: the namespace (default: %(default)s)")
    options.add_argument("--secret", default="configure-task-scheduler", metavar="NAME",
                         help="kubernetes: the Secret holding ${NAME} variables "
                              "(default: %(default)s)")
    options.add_argument("--unit-prefix", default="cts-", metavar="P",
                         help="systemd: unit name prefix (default: %(default)s)")
    options.add_argument("--user", action="store_true", help="systemd: user units")
    options.add_argument("--cron-dialect", choices=DIALECTS, default="cronie",
                         help="crontab: cronie writes CRON_TZ= for other zones, debian "
                              "leaves those tasks out (default: %(default)s)")


def export_main(config: LoadedConfig, args: argparse.Namespace,
                stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Export `config` as `args.export` says; return the exit status."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    if config.problems:
        for problem in config.problems:
            print(problem, file=stderr)
        return EXIT_BAD_INPUT
    try:
        export = build_export(config, args)
        write_export(export, args.out, args.force, stdout)
    except ExportError as error:
        print(error, file=stderr)
        return EXIT_BAD_INPUT
    for verdict in export.verdicts:
        print(verdict.line(), file=stderr)
    return exit_status(export.verdicts)


def build_export(config: LoadedConfig, args: argparse.Namespace) -> Export:
    """Return the export `args.export` names.

    Raises:
        ExportError: a missing --image, or a task id that cannot become a name.
    """
    if args.export == "kubernetes":
        if not args.image:
            raise ExportError("--export kubernetes needs --image IMAGE: an image with "
                              "configure_task_scheduler and the task code")
        return export_kubernetes(config, args.image, args.namespace, args.secret)
    if args.export == "systemd":
        return export_systemd(config, args.unit_prefix, args.user, sys.executable)
    machine = local_timezone()
    return export_crontab(config, machine.key if isinstance(machine, ZoneInfo) else None,
                          args.cron_dialect)


def import_main(path: str, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Print a config for the crontab at `path`; return 0, 1 if lines were left out, 2 if unreadable."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        print(f"{path}: cannot read: {reason}", file=stderr)
        return EXIT_BAD_INPUT
    document, problems = import_crontab(text, path)
    stdout.write(config_text(document))
    for problem in problems:
        print(problem, file=stderr)
    return 1 if problems else 0
