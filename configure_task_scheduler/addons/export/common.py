"""What every exporter shares: per-task verdicts, the `--run` command, cron text, safe writing.

A verdict says how one task made it into the exported files: as is, with named
approximations, or not at all (with the reason). `cron_text` turns a task's
schedule into a five-field expression every cron dialect reads (names as
numbers, Sunday as 0), or says why it cannot. `write_export` writes all files
or none: temporary files renamed at the end, never over a differing file
without `force`. Nothing here runs a task or reads a secret's value.
"""

from __future__ import annotations

import enum
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ...config import LoadedConfig
from ...schedules import CronSchedule, IntervalSchedule
from ...task import BASE_ENVIRONMENT_NAMES, Task

EXIT_FAITHFUL, EXIT_APPROXIMATED = 0, 1
PACKAGE = "configure_task_scheduler"
# Where the exported jobs read the secrets (`${NAME}` in `env`) on a machine (systemd, cron).
SECRETS_FILE = "/etc/configure_task_scheduler/env"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^${}]*)?\}")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class Fidelity(str, enum.Enum):
    """How a task made it into the exported files."""

    EXACT = "exported"
    APPROXIMATED = "approximated"
    LEFT_OUT = "left out"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One task's fate in an export.

    Attributes:
        task_id: the task.
        fidelity: exported as is, approximated, or left out.
        notes: the approximations (or the reason it was left out), or remarks
            on an exact export ("disabled", "CRON_TZ: cronie only").
        enabled: the task is enabled; only enabled tasks decide the exit status.
    """

    task_id: str
    fidelity: Fidelity
    notes: tuple[str, ...] = ()
    enabled: bool = True

    def line(self) -> str:
        """Return the stderr line: 'task x: approximated: a; b'."""
        if not self.notes:
            return f"task {self.task_id}: {self.fidelity.value}"
        if self.fidelity is Fidelity.EXACT:
            return f"task {self.task_id}: exported ({'; '.join(self.notes)})"
        return f"task {self.task_id}: {self.fidelity.value}: {'; '.join(self.notes)}"


def verdict_of(task: Task, approximations: Iterable[str], remarks: Iterable[str] = ()) -> Verdict:
    """Return EXACT (with `remarks`) unless there are approximations."""
    approximations = tuple(approximations)
    if approximations:
        return Verdict(task.task_id, Fidelity.APPROXIMATED, approximations, task.enabled)
    return Verdict(task.task_id, Fidelity.EXACT, tuple(remarks), task.enabled)


def left_out(task: Task, reason: str) -> Verdict:
    """Return the verdict of a task that could not be exported, and why."""
    return Verdict(task.task_id, Fidelity.LEFT_OUT, (reason,), task.enabled)


@dataclass(frozen=True, slots=True)
class Export:
    """What an exporter produced: files (name, text) in order, and one verdict per task."""

    files: tuple[tuple[str, str], ...]
    verdicts: tuple[Verdict, ...]


class ExportError(Exception):
    """Bad input for an export: one line, exit 2, nothing written."""


def exit_status(verdicts: Iterable[Verdict]) -> int:
    """Return 0 if every enabled task was exported as is, else 1."""
    exact = all(verdict.fidelity is Fidelity.EXACT for verdict in verdicts if verdict.enabled)
    return EXIT_FAITHFUL if exact else EXIT_APPROXIMATED


def run_arguments(task_id: str, config_path: str, python: str = "python3") -> list[str]:
    """Return the command every exported job runs: this project's `--run`."""
    return [python, "-m", PACKAGE, "--run", task_id, "--config", config_path]


def raw_env(config: LoadedConfig, task: Task) -> dict[str, str]:
    """Return the task's `env` as written in the config ("${NAME}" unexpanded).

    The `defaults` section's variables come first, the task's own win per name.
    """
    sections = config.common_sections
    defaults = sections[1] if isinstance(sections, tuple) else {}
    entry = config.sources.get(task.task_id, ({}, task))[0]
    merged: dict[str, Any] = {**defaults.get("env", {}), **entry.get("env", {})}
    return {name: value for name, value in merged.items() if isinstance(value, str)}


def secret_variables(env: Mapping[str, str]) -> list[tuple[str, bool]]:
    """Return the (NAME, has a default) the `env` values take from the environment.

    The base names (PATH, HOME, ...) are every machine's own, never a secret.
    """
    found: dict[str, bool] = {}
    for value in env.values():
        for match in _VARIABLE.finditer(value.replace("$$", "")):
            if match[1] not in BASE_ENVIRONMENT_NAMES:
                found[match[1]] = found.get(match[1], True) and match[2] is not None
    return sorted(found.items())


def zone_name(task: Task) -> str | None:
    """Return the IANA name of the task's zone, or None for a bare UTC offset."""
    zone = task.schedule.timezone
    return zone.key if isinstance(zone, ZoneInfo) else None


@dataclass(frozen=True, slots=True)
class CronText:
    """A task's schedule as five cron fields, or why it cannot be one.

    Attributes:
        expression: the fields (or "@reboot"), "" when `reason` says why not.
        approximations: what changed on the way (an interval's phase).
        reason: why the schedule has no cron form.
    """

    expression: str = ""
    approximations: tuple[str, ...] = ()
    reason: str = ""


def cron_text(task: Task, with_last: bool = False) -> CronText:
    """Return the task's schedule as cron fields every dialect reads.

    Args:
        task: the task.
        with_last: keep L, nL and # (the caller converts them itself).
    """
    schedule = task.schedule
    if isinstance(schedule, CronSchedule):
        if schedule.is_reboot:
            return CronText("@reboot")
        fields = _MACROS.get(schedule.expression.strip().lower(), schedule.expression).split()
        if not with_last and any(("L" in f.upper() or "#" in f) for f in fields[2:5:2]):
            return CronText(reason=f'cron "{schedule.expression}": L and # '
                                   "(last day, nth weekday) have no equivalent here")
        return CronText(normalize_fields(fields))
    if isinstance(schedule, IntervalSchedule):
        return _interval_as_cron(schedule)
    return CronText(reason=f"{schedule.describe()}: a one-shot date has no cron form")


def _interval_as_cron(schedule: IntervalSchedule) -> CronText:
    seconds = schedule.seconds
    every = schedule.describe().partition(",")[0]
    if seconds % 60 or (3600 % seconds and (seconds % 3600 or 86400 % seconds)):
        return CronText(reason=f"{every}: only an interval that divides an hour or a day "
                               "has a cron form")
    if seconds < 3600:
        expression = f"*/{int(seconds // 60)} * * * *" if seconds > 60 else "* * * * *"
    else:
        hours = ",".join(str(hour) for hour in range(0, 24, int(seconds // 3600)))
        expression = f"0 {hours} * * *" if seconds > 3600 else "0 * * * *"
    phase = () if schedule.align else (
        f"{every} runs on the clock ({expression}), not counted from the start",)
    return CronText(expression, phase)


def normalize_fields(fields: list[str]) -> str:
    """Write names as numbers, Sunday as 0 and "a/n" as "a-max/n" (what every cron reads)."""
    minute, hour, dom, month, dow = fields
    month = _replace_names(month, _MONTHS, 1)
    dow = _sunday_as_zero(_replace_names(dow, _DAYS, 0))
    highs = (59, 23, 31, 12, 6)
    return " ".join(_full_steps(field, high) for field, high in
                    zip((minute, hour, dom, month, dow), highs))


def _replace_names(field: str, names: tuple[str, ...], first: int) -> str:
    for number, name in enumerate(names, start=first):
        field = re.sub(name, str(number), field, flags=re.IGNORECASE)
    return field


def _sunday_as_zero(field: str) -> str:
    items = []
    for item in field.split(","):
        base, slash, step = item.partition("/")
        if base == "7":
            base = "0"
        elif base.endswith("-7") and not slash:
            base = f"{base[:-2]}-6,0" if base[:-2] != "6" else "6,0"
        items.append(base + slash + step)
    return ",".join(items)


def _full_steps(field: str, high: int) -> str:
    items = []
    for item in field.split(","):
        base, slash, step = item.partition("/")
        if slash and base.isdigit():
            base = f"{base}-{high}"
        items.append(base + slash + step)
    return ",".join(items)


def write_export(export: Export, out_dir: str | None, force: bool, stdout: Any) -> None:
    """Write the files into `out_dir` (all or none), or print them when it is None.

    Raises:
        ExportError: `out_dir` is no writable directory, or a file there
            differs and `force` is False; nothing has been written.
    """
    if out_dir is None:
        if len(export.files) != 1:
            raise ExportError(f"this export writes {len(export.files)} files: give --out DIR")
        stdout.write(export.files[0][1])
        return
    directory = Path(out_dir)
    if not directory.is_dir():
        raise ExportError(f"--out {out_dir}: not a directory (create it first)")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ExportError(f"--out {out_dir}: not writable")
    changed = [(name, text) for name, text in export.files if _differs(directory / name, text)]
    existing = [name for name, _ in changed if (directory / name).exists()]
    if existing and not force:
        raise ExportError(f"--out {out_dir}: {existing[0]} exists and differs "
                          "(--force replaces it)")
    _write_all(directory, changed)


def _differs(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") != text
    except (OSError, UnicodeDecodeError):
        return True


def _write_all(directory: Path, files: list[tuple[str, str]]) -> None:
    temporary: list[tuple[str, Path]] = []
    try:
        for name, text in files:
            handle, temp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
            temporary.append((temp, directory / name))
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
            os.chmod(temp, 0o644)
    except OSError as error:
        for temp, _ in temporary:
            Path(temp).unlink(missing_ok=True)
        raise ExportError(f"--out {directory}: cannot write: {error.strerror}") from None
    for temp, target in temporary:
        os.replace(temp, target)
