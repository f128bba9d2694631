"""--export systemd: units that `systemd-analyze verify` accepts, calendars that fire like cron."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from configure_task_scheduler.addons.export.calendar import on_calendar
from configure_task_scheduler.addons.export.common import normalize_fields
from configure_task_scheduler.cli import main
from configure_task_scheduler.schedules import CronSchedule, upcoming_runs

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(SYSTEMD_ANALYZE is None,
                                   reason="systemd-analyze is not installed (Debian has it)")
BASE = datetime(2026, 5, 11, 12, 0, tzinfo=timezone.utc)  # no DST change for weeks
SECRET_VALUE = "s3cr3t-Value-42"


def shell(task_id: str, **fields: Any) -> dict[str, Any]:
    return {"task_id": task_id, "task_type": "shell", "entry_point": "true", **fields}


CONFIG = {"scheduler": {"timezone": "Europe/Berlin"}, "tasks": [
    shell("full", cron="0 6 * * 1-5", description="every field", timeout_seconds=600,
          retries=2, retry_delay_seconds=30, jitter_seconds=5, catch_up=True,
          env={"API_TOKEN": "${API_TOKEN}", "MODE": "50% fast"}),
    shell("poll", interval_seconds=45),
    shell("quarter", interval_seconds=900, align=True),
    shell("tick", interval_seconds=10, align=True),
    shell("once", at="2030-01-01T08:00:00"),
    shell("boot", cron="@reboot"),
    shell("off", cron="@daily", enabled=False),
    shell("and_nth", cron="0 9 */2 * FRI#2"),
]}


def test_systemd_units_for_every_field(tmp_path: Path, write_config: Callable[..., Path],
                                       capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET_VALUE)
    config = write_config(CONFIG)
    out = tmp_path / "units"
    out.mkdir()
    assert main(["--config", str(config), "--export", "systemd", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "task full: approximated: retry_backoff 2 dropped (RestartSec= is fixed)",
        "task poll: exported",
        "task quarter: exported",
        "task tick: exported",
        "task once: exported",
        "task boot: exported",
        "task off: exported (disabled: its timer is not enabled)",
        'task and_nth: left out: cron "0 9 */2 * FRI#2": systemd cannot require both a day '
        "of the month and an nth or last weekday",
    ]
    files = {path.name: path.read_text() for path in out.iterdir()}
    assert SECRET_VALUE not in "".join(files.values())
    assert files["cts-full.service"] == (
        "[Unit]\nDescription=Task full: every field\nStartLimitIntervalSec=2760s\n"
        "StartLimitBurst=3\n\n[Service]\nType=oneshot\n"
        f"WorkingDirectory={tmp_path}\n"
        'Environment="MODE=50%% fast"\n'
        "EnvironmentFile=-/etc/configure_task_scheduler/env\n"
        f"ExecStart={sys.executable} -m configure_task_scheduler --run full --config {config}\n"
        "TimeoutStartSec=600s\nRestart=on-failure\nRestartSec=30s\n")
    assert files["cts-full.timer"] == (
        "[Unit]\nDescription=Timer of task full (at 06:00 on Monday to Friday)\n\n"
        "[Timer]\nOnCalendar=Mon,Tue,Wed,Thu,Fri *-*-* 06:00:00 Europe/Berlin\n"
        "AccuracySec=1s\nRandomizedDelaySec=5s\nPersistent=true\n\n"
        "[Install]\nWantedBy=timers.target\n")
    timers = {name: [line for line in text.splitlines() if line.startswith("On")]
              for name, text in files.items() if name.endswith(".timer")}
    assert timers == {
        "cts-full.timer": ["OnCalendar=Mon,Tue,Wed,Thu,Fri *-*-* 06:00:00 Europe/Berlin"],
        "cts-poll.timer": ["OnActiveSec=45s", "OnUnitActiveSec=45s"],
        "cts-quarter.timer": ["OnCalendar=*-*-* *:00,15,30,45:00 Europe/Berlin"],
        "cts-tick.timer": ["OnCalendar=*-*-* *:*:00/10 Europe/Berlin"],
        "cts-once.timer": ["OnCalendar=2030-01-01 08:00:00 Europe/Berlin"],
        "cts-boot.timer": ["OnBootSec=0"],
        "cts-off.timer": ["OnCalendar=*-*-* 00:00:00 Europe/Berlin"],
    }
    assert "# Disabled in the config: install it, but do not enable it." in files["cts-off.timer"]
    assert "Type=notify" in files["configure-task-scheduler.service"]


@needs_systemd
def test_every_generated_unit_passes_systemd_analyze_verify(
        tmp_path: Path, write_config: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET_VALUE)
    out = tmp_path / "units"
    out.mkdir()
    main(["--config", str(write_config(CONFIG)), "--export", "systemd", "--out", str(out),
          "--user"])
    units = sorted(str(path) for path in out.iterdir())
    assert len(units) == 15
    result = subprocess.run([str(SYSTEMD_ANALYZE), "verify", *units], capture_output=True,
                            text=True, env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"})
    assert (result.returncode, result.stderr) == (0, "")


CRON_EXPRESSIONS = [
    "30 9 * * MON-FRI", "*/15 * * * *", "0 6 1,15 * *", "0 23 L * *", "0 9 * * FRI#2",
    "30 18 * * 5L", "0 12 13 * 5", "0 8 */2 * 1", "5 4 * JAN,JUL SUN", "@weekly",
    "0 0 1 1 *", "15 10-14/2 * * 6,7", "0 7 L 2 *",
]


def systemd_times(expression: str, count: int) -> list[datetime]:
    result = subprocess.run(
        [str(SYSTEMD_ANALYZE), "calendar", f"--iterations={count}",
         "--base-time=2026-05-11 12:00:00 UTC", expression],
        capture_output=True, text=True, env={**os.environ, "TZ": "UTC"}, check=True)
    times = []
    for line in result.stdout.splitlines():
        label, _, value = line.strip().partition(": ")
        if label == "Next elapse" or label.startswith("Iter."):
            times.append(datetime.strptime(value, "%a %Y-%m-%d %H:%M:%S UTC")
                         .replace(tzinfo=timezone.utc))
    return times


@needs_systemd
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
@pytest.mark.parametrize("expression", CRON_EXPRESSIONS)
def test_systemd_calendar_fires_at_the_same_20_times_as_cron(expression: str,
                                                           zone: str) -> None:
    fields = normalize_fields(CronSchedule(expression, zone).expression.split()) \
        if not expression.startswith("@") else "0 0 * * 0"
    merged = sorted({when for calendar in on_calendar(fields.split(), zone)
                     for when in systemd_times(calendar, 20)})[:20]
    expected = [when.astimezone(timezone.utc)
                for when in upcoming_runs(CronSchedule(expression, zone), BASE, 20)]
    assert merged == expected


def test_the_exported_exec_start_runs_the_task(tmp_path: Path, write_config: Callable[..., Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config({"tasks": [shell("touch", cron="@daily",
                                           entry_point=["touch", str(tmp_path / "ran")])]})
    out = tmp_path / "units"
    out.mkdir()
    assert main(["--config", str(config), "--export", "systemd", "--out", str(out)]) == 0
    exec_start = next(line for line in (out / "cts-touch.service").read_text().splitlines()
                      if line.startswith("ExecStart="))
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    completed = subprocess.run(exec_start.removeprefix("ExecStart=").split(), cwd=tmp_path,
                               env=environment, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "ran").exists()


def test_several_files_need_out(tmp_path: Path, write_config: Callable[..., Path],
                                capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config({"tasks": [shell("a", cron="@daily")]})
    assert main(["--config", str(config), "--export", "systemd"]) == 2
    assert capsys.readouterr() == ("", "this export writes 3 files: give --out DIR\n")
