"""The crontab exporter and importer: one cron line per task, and a crontab back into a config.

Lines use Debian cron's syntax (numbers, "*/n", lists, ranges, macros); a task
in a zone other than the machine's gets cronie's `CRON_TZ=` before it (or is
left out with the debian dialect). Each line is `cd DIR && python3 -m
configure_task_scheduler --run ID --config PATH`, preceded by a comment naming
the task, with every "%" escaped (cron turns a bare one into a newline).
Disabled tasks are commented out. `import_crontab` reads such a file (or any
crontab) back. Never runs a task, never writes a secret's value.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...config import LoadedConfig
from ...errors import ScheduleError
from ...schedules import CronSchedule
from ...task import Task
from .common import (
    SECRETS_FILE,
    Export,
    Verdict,
    cron_text,
    left_out,
    raw_env,
    run_arguments,
    secret_variables,
    verdict_of,
    zone_name,
)

DIALECTS = ("cronie", "debian")
DISABLED = "# disabled: "
_TASK_COMMENT = re.compile(r"^# task ([A-Za-z0-9_.-]{1,64})(?:: (.*))?$")
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


def export_crontab(config: LoadedConfig, machine_zone: str | None,
                   dialect: str = "cronie") -> Export:
    """Return the crontab for `config` and a verdict per task.

    Args:
        config: the validated config.
        machine_zone: the IANA name of the zone cron runs in (None: unknown).
        dialect: "cronie" (CRON_TZ= for other zones) or "debian" (leave them out).
    """
    config_path = str(Path(config.path).resolve())
    lines = [f"# crontab for {config_path}, written by configure_task_scheduler --export crontab",
             ""]
    verdicts: list[Verdict] = []
    current_zone = machine_zone
    for task in config.tasks:
        cron = cron_text(task)
        zone = zone_name(task)
        verdict = _left_out(task, cron.reason, zone, machine_zone, dialect)
        if verdict is None:
            if zone != current_zone:
                lines.append(f"CRON_TZ={zone}")
                current_zone = zone
            lines.extend(_task_lines(config, task, cron.expression, config_path))
            remarks = ([] if task.enabled else ["disabled: commented out"]) + \
                ([f"CRON_TZ={zone}: cronie only"] if zone != machine_zone else [])
            verdict = verdict_of(task, [*cron.approximations, *_dropped(task),
                                        *_secret_notes(config, task)], remarks)
        verdicts.append(verdict)
    return Export((("crontab", "\n".join(lines) + "\n"),), tuple(verdicts))


def _left_out(task: Task, reason: str, zone: str | None, machine_zone: str | None,
              dialect: str) -> Verdict | None:
    if not reason and zone != machine_zone:
        if zone is None:
            reason = f"its zone {task.schedule.timezone} has no IANA name for CRON_TZ"
        elif dialect == "debian":
            reason = (f"runs in {zone}, not the machine's zone {machine_zone}: Debian cron "
                      "has no CRON_TZ (--cron-dialect cronie writes one)")
    return left_out(task, reason) if reason else None


def _dropped(task: Task) -> list[str]:
    names = [name for name, value in (("run_on_start", task.run_on_start),
                                      ("jitter_seconds", task.jitter_seconds),
                                      ("retries", task.retries), ("catch_up", task.catch_up))
             if value]
    return [f"{', '.join(names)} dropped (cron has no such thing)"] if names else []


def _secret_notes(config: LoadedConfig, task: Task) -> list[str]:
    names = [name for name, _ in secret_variables(raw_env(config, task))]
    if not names:
        return []
    return [f"cron passes no secrets: {', '.join(names)} read from {SECRETS_FILE}"]


def _task_lines(config: LoadedConfig, task: Task, expression: str,
                config_path: str) -> list[str]:
    directory = task.cwd or str(Path(config_path).parent)
    command = f"cd {shlex.quote(directory)} && "
    if _secret_notes(config, task):
        command += f"set -a && . {SECRETS_FILE} && set +a && "
    command += shlex.join(run_arguments(task.task_id, config_path))
    description = " ".join(task.description.split())
    comment = f"# task {task.task_id}" + (f": {description}" if description else "")
    line = f"{expression} {command.replace('%', chr(92) + '%')}"
    return [comment, (DISABLED + line) if not task.enabled else line]


# --- Import ---------------------------------------------------------------------------------


@dataclass
class _Reading:
    """The state of reading a crontab top to bottom."""

    tasks: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    zone: str | None = None
    shell: str | None = None


def import_crontab(text: str, file: str) -> tuple[dict[str, Any], list[str]]:
    """Read a crontab into a config document, and the lines it could not use.

    Args:
        text: the crontab.
        file: its name, for the problems.

    Returns:
        The config (`{"tasks": [...]}`) and one line per problem, each naming
        `file` and the line number.
    """
    reading = _Reading()
    for number, line in enumerate(text.splitlines(), start=1):
        _read_line(reading, line.strip(), f"{file}: line {number}")
    return {"tasks": reading.tasks}, reading.problems


def _read_line(reading: _Reading, line: str, where: str) -> None:
    if not line:
        reading.comments = []
    elif line.startswith(DISABLED.strip()) and _job_fields(line[len(DISABLED):]) is not None:
        _read_job(reading, line[len(DISABLED):], where, enabled=False)
    elif line.startswith("#"):
        reading.comments.append(line)
    elif (assignment := _ASSIGNMENT.match(line)) is not None:
        _read_assignment(reading, assignment[1], _unquote(assignment[2]), where)
    else:
        _read_job(reading, line, where, enabled=True)


def _read_assignment(reading: _Reading, name: str, value: str, where: str) -> None:
    reading.comments = []
    if name in ("CRON_TZ", "TZ"):
        reading.zone = value or None
    elif name == "SHELL":
        reading.shell = value
    elif name == "MAILTO":
        reading.problems.append(f"{where}: MAILTO={value}: not carried over: the scheduler "
                                "logs each run's output instead of mailing it")
    else:
        reading.env[name] = value.replace("$", "$$")


def _job_fields(line: str) -> tuple[str, str] | None:
    """Split a job line into (schedule, command), or None if it is not one."""
    parts = line.split(None, 1 if line.startswith("@") else 5)
    count = 2 if line.startswith("@") else 6
    if len(parts) < count:
        return None
    return " ".join(parts[:count - 1]), parts[count - 1]


def _read_job(reading: _Reading, line: str, where: str, enabled: bool) -> None:
    comments, reading.comments = reading.comments, []
    split = _job_fields(line)
    if split is None:
        reading.problems.append(f"{where}: not a job (five time fields and a command): left out")
        return
    expression, command = split
    try:
        CronSchedule(expression, "UTC")
    except ScheduleError as error:
        reading.problems.append(f"{where}: {error}: left out")
        return
    if re.search(r"(?<!\\)%", command):
        reading.problems.append(f"{where}: a bare % (cron sends what follows to the command's "
                                "standard input): left out; write \\% for a literal %")
        return
    reading.tasks.append(_task_entry(reading, comments, expression,
                                     command.replace("\\%", "%"), enabled))


def _task_entry(reading: _Reading, comments: list[str], expression: str, command: str,
                enabled: bool) -> dict[str, Any]:
    named = _TASK_COMMENT.match(comments[-1]) if comments else None
    task_id = named[1] if named else _free_id(reading, command)
    description = named[2] or "" if named else " ".join(c.lstrip("#").strip() for c in comments)
    entry: dict[str, Any] = {"task_id": task_id}
    if description:
        entry["description"] = description
    if not enabled:
        entry["enabled"] = False
    entry.update({"task_type": "shell", "entry_point": command, "cron": expression})
    cd = re.match(r"^cd ('[^']*'|\S+) && (.+)$", command)
    if cd is not None and len(shlex.split(cd[1])) == 1:
        entry["cwd"], entry["entry_point"] = shlex.split(cd[1])[0], cd[2]
    if reading.zone:
        entry["timezone"] = reading.zone
    if reading.shell:
        entry["shell"] = reading.shell
    if reading.env:
        entry["env"] = dict(reading.env)
    return entry


def _free_id(reading: _Reading, command: str) -> str:
    words = command.split()
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(words[0]).name if words else "job")[:60] or "job"
    taken = {entry["task_id"] for entry in reading.tasks}
    task_id, number = stem, 1
    while task_id in taken:
        number += 1
        task_id = f"{stem}-{number}"
    return task_id


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def config_text(document: dict[str, Any]) -> str:
    """Return the imported config as the JSON `--import-crontab` prints."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
