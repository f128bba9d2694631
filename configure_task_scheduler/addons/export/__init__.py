"""Export a validated config to the schedulers people already run: Kubernetes, systemd, cron.

An add-on: it reads a `LoadedConfig` and writes native files (a Kubernetes
`List`, systemd units, a crontab) whose every job runs one task through this
project (`python3 -m configure_task_scheduler --run TASK_ID --config PATH`),
and reads a crontab back into a config (`--import-crontab`). For each task it
says whether it was exported as is, approximated (naming what changed) or left
out (and why). It never runs a task and never writes a secret's value.
"""

from .common import Export, ExportError, Fidelity, Verdict, exit_status, write_export
from .run import add_arguments, export_main, import_main

__all__ = [
    "Export", "ExportError", "add_arguments", "Fidelity", "Verdict", "exit_status", "export_main",
    "import_main", "write_export",
]
