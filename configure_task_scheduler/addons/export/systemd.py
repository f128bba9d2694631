"""The systemd exporter: per task a `.service` and a `.timer`, plus the scheduler's own unit.

Each service is `Type=oneshot` running `PYTHON -m configure_task_scheduler
--run ID --config PATH` with absolute paths; each timer says when, in the
task's zone (calendar.py turns cron into `OnCalendar=`). Secrets (`${NAME}`
in `env`) come from `EnvironmentFile=-/etc/configure_task_scheduler/env`
(user units: `%h/.config/configure_task_scheduler/env`): the file is named,
never its values. `configure-task-scheduler.service` runs the whole
scheduler instead, for those who keep it. Never runs a task.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...config import LoadedConfig
from ...schedules import IntervalSchedule, OneShotSchedule
from ...task import Task
from .calendar import CalendarError, on_calendar
from .common import (
    PACKAGE,
    SECRETS_FILE,
    CronText,
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

USER_SECRETS_FILE = "%h/.config/configure_task_scheduler/env"
SCHEDULER_UNIT = "configure-task-scheduler.service"
WATCHDOG_SECONDS = 60


def export_systemd(config: LoadedConfig, unit_prefix: str, user: bool, python: str) -> Export:
    """Return the units (name, text) and a verdict per task.

    Args:
        config: the validated config.
        unit_prefix: put before each task id in the unit names ("cts-").
        user: user units (`systemctl --user`): the secrets file is in the home directory.
        python: the absolute path of the interpreter the units run.
    """
    config_path = str(Path(config.path).resolve())
    files: list[tuple[str, str]] = []
    verdicts: list[Verdict] = []
    for task in config.tasks:
        unit = unit_prefix + re.sub(r"[^A-Za-z0-9:_.\\-]", "_", task.task_id)
        timer, notes, reason = _timer(task)
        if reason:
            verdicts.append(left_out(task, reason))
            continue
        service, service_notes = _service(config, task, config_path, user, python)
        files += [(f"{unit}.service", service), (f"{unit}.timer", timer)]
        remarks = () if task.enabled else ("disabled: its timer is not enabled",)
        verdicts.append(verdict_of(task, notes + service_notes, remarks))
    files.append((SCHEDULER_UNIT, scheduler_unit(config_path, user, python)))
    return Export(tuple(files), tuple(verdicts))


def _timer(task: Task) -> tuple[str, list[str], str]:
    """Return the .timer text, its approximations, or the reason it cannot be written."""
    when, notes = _timer_lines(task)
    if isinstance(when, str):
        return "", [], when
    lines = ["[Unit]", f"Description=Timer of task {task.task_id} ({task.schedule.describe()})",
             "", "[Timer]", *when, "AccuracySec=1s"]
    if task.jitter_seconds:
        lines.append(f"RandomizedDelaySec={_seconds(task.jitter_seconds)}")
    if task.catch_up:
        lines.append("Persistent=true")
    if task.run_on_start:
        lines.append("OnActiveSec=0")
    if not task.enabled:
        lines += ["# Disabled in the config: install it, but do not enable it."]
    lines += ["", "[Install]", "WantedBy=timers.target", ""]
    return "\n".join(lines), notes, ""


def _timer_lines(task: Task) -> tuple[list[str] | str, list[str]]:
    schedule = task.schedule
    zone = zone_name(task)
    notes = [] if zone or isinstance(schedule, IntervalSchedule) and not schedule.align else \
        [f"zone {schedule.timezone} has no IANA name: the machine's zone is used"]
    if isinstance(schedule, OneShotSchedule):
        return [f"OnCalendar={schedule.when:%Y-%m-%d %H:%M:%S} {zone or ''}".rstrip()], notes
    if isinstance(schedule, IntervalSchedule) and not schedule.align:
        seconds = _seconds(schedule.seconds)
        return [f"OnActiveSec={seconds}", f"OnUnitActiveSec={seconds}"], notes
    if isinstance(schedule, IntervalSchedule) and schedule.seconds < 60:
        return [f"OnCalendar=*-*-* *:*:00/{schedule.seconds:g} {zone or ''}".rstrip()], \
            notes
    cron: CronText = cron_text(task, with_last=True)
    if cron.reason:
        return cron.reason, []
    if cron.expression == "@reboot":
        return ["OnBootSec=0"], notes
    try:
        return [f"OnCalendar={when}" for when in on_calendar(cron.expression.split(), zone)], \
            notes
    except CalendarError as error:
        return f'cron "{getattr(schedule, "expression", "")}": {error}', []


def _service(config: LoadedConfig, task: Task, config_path: str, user: bool,
             python: str) -> tuple[str, list[str]]:
    notes: list[str] = []
    description = " ".join(task.description.split())
    lines = ["[Unit]", f"Description=Task {task.task_id}" + (f": {description}" if description
                                                             else "")]
    if task.retries:
        lines += [f"StartLimitIntervalSec={_seconds(_retry_window(task))}",
                  f"StartLimitBurst={task.retries + 1}"]
    lines += ["", "[Service]", "Type=oneshot",
              f"WorkingDirectory={_escape(task.cwd or str(Path(config_path).parent))}"]
    env = raw_env(config, task)
    for name, value in sorted(env.items()):
        if "$" not in value and value not in task.secret_values:
            lines.append(f'Environment="{_escape(f"{name}={value}")}"')
    if secret_variables(env):
        lines.append(f"EnvironmentFile=-{USER_SECRETS_FILE if user else SECRETS_FILE}")
    lines.append("ExecStart=" + " ".join(_word(word) for word in
                                         run_arguments(task.task_id, config_path, python)))
    if task.timeout_seconds is not None:
        lines.append(f"TimeoutStartSec={_seconds(task.timeout_seconds)}")
    if task.retries:
        lines += ["Restart=on-failure", f"RestartSec={_seconds(task.retry_delay_seconds)}"]
        if task.retry_backoff != 1:
            notes.append(f"retry_backoff {task.retry_backoff:g} dropped (RestartSec= is fixed)")
    if task.max_instances > 1:
        notes.append(f"max_instances {task.max_instances}: a service runs one at a time")
    if task.misfire_grace_seconds is not None:
        notes.append("misfire_grace_seconds dropped (a timer starts late runs anyway)")
    return "\n".join(lines + [""]), notes


def _retry_window(task: Task) -> float:
    """Long enough for every attempt: systemd counts starts within this window."""
    timeout = task.timeout_seconds or 0
    return (task.retries + 1) * (timeout + task.retry_max_delay_seconds) + 60


def scheduler_unit(config_path: str, user: bool, python: str) -> str:
    """Return configure-task-scheduler.service: the whole scheduler as a notify service."""
    command = [python, "-m", PACKAGE, "--config", config_path]
    return "\n".join([
        "[Unit]", f"Description=configure_task_scheduler: the tasks of {config_path}", "",
        "[Service]", "Type=notify", "NotifyAccess=main",
        f"WorkingDirectory={_escape(str(Path(config_path).parent))}",
        f"EnvironmentFile=-{USER_SECRETS_FILE if user else SECRETS_FILE}",
        "ExecStart=" + " ".join(_word(word) for word in command),
        "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
        f"WatchdogSec={WATCHDOG_SECONDS}", "",
        "[Install]", f"WantedBy={'default.target' if user else 'multi-user.target'}", ""])


def _seconds(seconds: float) -> str:
    """systemd time span text: "90s", "0.5s"."""
    return f"{seconds:g}s"


def _escape(text: str) -> str:
    """Escape what systemd would expand in a setting: specifiers, quotes, backslashes."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")


def _word(word: str) -> str:
    """One ExecStart= argument: quoted if needed, with "$" and "%" escaped."""
    escaped = _escape(word).replace("$", "$$")
    return f'"{escaped}"' if re.search(r"\s|'|;", word) or not word else escaped
