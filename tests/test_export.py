"""--export crontab|kubernetes|systemd and --import-crontab: exact files, verdicts, exit codes."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from configure_task_scheduler.addons.export.crontab import (
    export_crontab,
    import_crontab,
)
from configure_task_scheduler.addons.export.kubernetes import kubernetes_name
from configure_task_scheduler.cli import main
from configure_task_scheduler.config import load_config
from configure_task_scheduler.schedules import CronSchedule, upcoming_runs

SECRET_VALUE = "s3cr3t-Value-42"
START = datetime(2026, 5, 11, 12, 0, tzinfo=timezone.utc)  # away from DST nights


def shell(task_id: str, **fields: Any) -> dict[str, Any]:
    return {"task_id": task_id, "task_type": "shell", "entry_point": "true", **fields}


SIMPLE = {"scheduler": {"timezone": "UTC"}, "tasks": [
    shell("report", description="Daily report", cron="30 9 * * MON-FRI"),
    shell("quarter", interval_seconds=900, align=True),
    shell("every_15", interval_seconds=900),
    shell("berlin", cron="0 6 1,15 * *", timezone="Europe/Berlin"),
    shell("month_end", cron="0 23 L * *"),
    shell("odd", interval_seconds=7),
    shell("once", at="2030-01-01T00:00:00"),
    shell("off", cron="@daily", enabled=False),
]}


@pytest.fixture
def export(write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str],
           utc_local_time: None) -> Callable[..., tuple[int, str, str]]:
    """Run `main(--export ...)` on a config; return (status, stdout, stderr)."""

    def run(content: Any, *arguments: str) -> tuple[int, str, str]:
        path = write_config(content)
        status = main(["--config", str(path), *arguments])
        out, err = capsys.readouterr()
        return status, out, err

    return run


def test_crontab_has_one_line_per_task_cron_can_express(
        export: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    status, out, err = export(SIMPLE, "--export", "crontab")
    config, command = tmp_path / "tasks.json", "python3 -m configure_task_scheduler --run"
    prefix = f"cd {tmp_path} && {command}"
    assert out == (
        f"# crontab for {config}, written by configure_task_scheduler --export crontab\n\n"
        "# task report: Daily report\n"
        f"30 9 * * 1-5 {prefix} report --config {config}\n"
        "# task quarter\n"
        f"*/15 * * * * {prefix} quarter --config {config}\n"
        "# task every_15\n"
        f"*/15 * * * * {prefix} every_15 --config {config}\n"
        "CRON_TZ=Europe/Berlin\n"
        "# task berlin\n"
        f"0 6 1,15 * * {prefix} berlin --config {config}\n"
        "CRON_TZ=UTC\n"
        "# task off\n"
        f"# disabled: 0 0 * * * {prefix} off --config {config}\n")
    assert err.splitlines() == [
        "task report: exported",
        "task quarter: exported",
        "task every_15: approximated: every 15 minutes runs on the clock (*/15 * * * *), "
        "not counted from the start",
        "task berlin: exported (CRON_TZ=Europe/Berlin: cronie only)",
        'task month_end: left out: cron "0 23 L * *": L and # (last day, nth weekday) have '
        "no equivalent here",
        "task odd: left out: every 7 seconds: only an interval that divides an hour or a day "
        "has a cron form",
        "task once: left out: once at 2030-01-01 00:00:00+00:00: a one-shot date has no cron "
        "form",
        "task off: exported (disabled: commented out)",
    ]
    assert status == 1


def test_every_crontab_line_parses_back_to_the_same_schedule(utc_local_time: None,
                                                             write_config: Callable[..., Path]) -> None:
    config = load_config(write_config(SIMPLE))
    text = export_crontab(config, "UTC").files[0][1]
    tasks = {task.task_id: task for task in config.tasks}
    zone = "UTC"
    checked = []
    for line in text.splitlines():
        if line.startswith("CRON_TZ="):
            zone = line.partition("=")[2]
        elif line and not line.startswith("# task") and not line.startswith("# crontab"):
            fields = line.removeprefix("# disabled: ").split()
            task_id = fields[fields.index("--run") + 1]
            exported = CronSchedule(" ".join(fields[:5]), zone)
            original = tasks[task_id].schedule
            assert upcoming_runs(exported, START, 50) == upcoming_runs(original, START, 50), \
                task_id
            checked.append(task_id)
    assert checked == ["report", "quarter", "every_15", "berlin", "off"]


def test_debian_dialect_leaves_out_a_task_in_another_zone(
        export: Callable[..., tuple[int, str, str]]) -> None:
    status, out, err = export(SIMPLE, "--export", "crontab", "--cron-dialect", "debian")
    assert "CRON_TZ" not in out
    assert "task berlin: left out: runs in Europe/Berlin, not the machine's zone UTC: Debian " \
           "cron has no CRON_TZ (--cron-dialect cronie writes one)" in err.splitlines()


def test_a_percent_sign_in_a_path_is_escaped_for_cron(
        export: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    (tmp_path / "50%").mkdir()
    status, out, err = export({"tasks": [shell("p", cron="0 1 * * *", cwd="50%")]},
                              "--export", "crontab")
    assert out.splitlines()[-1].startswith(f"0 1 * * * cd {tmp_path}/50\\% && python3")
    assert "%" not in out.replace("\\%", "")
    assert status == 0


def test_export_import_export_round_trip_is_byte_identical(
        export: Callable[..., tuple[int, str, str]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _, first, _ = export(SIMPLE, "--export", "crontab")
    (tmp_path / "crontab").write_text(first)
    assert main(["--import-crontab", str(tmp_path / "crontab")]) == 0
    imported, err = capsys.readouterr()
    assert err == ""
    _, second, _ = export(json.loads(imported), "--export", "crontab")
    assert second == first


def test_import_keeps_comments_reboot_and_reports_what_it_cannot_use() -> None:
    text = ("MAILTO=ops@example.com\nSHELL=/bin/bash\nPATH=/usr/bin:/bin\n"
            "# rotate the logs\n# every night\n15 3 * * * /usr/sbin/logrotate /etc/lr.conf\n"
            "\n@reboot /usr/local/bin/warm-cache\n"
            "61 * * * * /bin/true\n"
            "0 1 * * * echo 50% | mail\n"
            "CRON_TZ=Europe/Berlin\n0 7 * * 1 /bin/weekly-report\nbad line\n")
    document, problems = import_crontab(text, "crontab")
    common = {"task_type": "shell", "shell": "/bin/bash", "env": {"PATH": "/usr/bin:/bin"}}
    assert document == {"tasks": [
        {"task_id": "logrotate", "description": "rotate the logs every night", **common,
         "entry_point": "/usr/sbin/logrotate /etc/lr.conf", "cron": "15 3 * * *"},
        {"task_id": "warm-cache", **common, "entry_point": "/usr/local/bin/warm-cache",
         "cron": "@reboot"},
        {"task_id": "weekly-report", **common, "entry_point": "/bin/weekly-report",
         "cron": "0 7 * * 1", "timezone": "Europe/Berlin"},
    ]}
    assert problems == [
        "crontab: line 1: MAILTO=ops@example.com: not carried over: the scheduler logs each "
        "run's output instead of mailing it",
        'crontab: line 9: cron "61 * * * *": minute: 61 is out of range 0-59: left out',
        "crontab: line 10: a bare % (cron sends what follows to the command's standard "
        "input): left out; write \\% for a literal %",
        "crontab: line 13: not a job (five time fields and a command): left out",
    ]


def test_import_of_an_unreadable_file_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--import-crontab", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'missing'}: cannot read: No such file or directory\n"


# --- Kubernetes ---------------------------------------------------------------------------

EVERY_FIELD = {"scheduler": {"timezone": "Europe/Berlin"}, "tasks": [
    shell("Nightly_Backup.v2", cron="0 2 * * *", description="all fields",
          timeout_seconds=600, retries=2, misfire_grace_seconds=3, max_instances=3,
          jitter_seconds=5, run_on_start=True, catch_up=False,
          env={"API_TOKEN": "${API_TOKEN}", "MODE": "fast", "OPT": "${OPTIONAL:-x}"}),
    shell("plain", cron="*/10 * * * *", misfire_grace_seconds=60),
    shell("off", cron="@hourly", enabled=False),
    shell("nth", cron="0 9 * * FRI#2"),
]}


def test_kubernetes_objects_have_the_api_reference_fields_and_no_secret(
        export: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET_VALUE)
    status, out, err = export(EVERY_FIELD, "--export", "kubernetes", "--image", "reg/app:1",
                              "--namespace", "jobs", "--secret", "app-secrets")
    assert SECRET_VALUE not in out and SECRET_VALUE not in err
    document = json.loads(out)
    assert (document["apiVersion"], document["kind"]) == ("v1", "List")
    config_map, *jobs = document["items"]
    assert (config_map["apiVersion"], config_map["kind"]) == ("v1", "ConfigMap")
    assert isinstance(config_map["data"]["tasks.json"], str)
    assert [job["metadata"]["name"] for job in jobs] == ["nightly-backup-v2", "plain", "off"]
    for job in jobs:
        assert (job["apiVersion"], job["kind"]) == ("batch/v1", "CronJob")
        assert set(job["metadata"]) == {"name", "namespace", "labels", "annotations"}
        spec = job["spec"]
        assert isinstance(spec["schedule"], str) and spec["timeZone"] == "Europe/Berlin"
        assert spec["concurrencyPolicy"] in ("Allow", "Forbid")
        assert isinstance(spec["suspend"], bool)
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never"
        assert isinstance(spec["jobTemplate"]["spec"]["backoffLimit"], int)
        (container,) = pod["containers"]
        assert container["image"] == "reg/app:1"
        assert container["command"][:5] == ["python3", "-m", "configure_task_scheduler",
                                             "--run", job["metadata"]["annotations"][
                                                 "configure-task-scheduler/task-id"]]
    backup = jobs[0]["spec"]
    assert backup["concurrencyPolicy"] == "Allow"
    assert backup["startingDeadlineSeconds"] == 10
    assert backup["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 600
    assert backup["jobTemplate"]["spec"]["backoffLimit"] == 2
    assert backup["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "MODE", "value": "fast"},
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "app-secrets",
                                                             "key": "API_TOKEN"}}},
        {"name": "OPTIONAL", "valueFrom": {"secretKeyRef": {"name": "app-secrets",
                                                            "key": "OPTIONAL",
                                                            "optional": True}}},
    ]
    assert jobs[1]["spec"]["startingDeadlineSeconds"] == 60
    assert jobs[2]["spec"]["suspend"] is True
    assert err.splitlines() == [
        "task Nightly_Backup.v2: approximated: jitter_seconds 5 dropped; run_on_start dropped "
        "(a CronJob has no start); retry delays dropped (the Job controller's back-off "
        "applies); activeDeadlineSeconds bounds all attempts together (--run still stops "
        "each at timeout_seconds); max_instances 3: concurrencyPolicy Allow has no cap; "
        "misfire_grace_seconds 3: startingDeadlineSeconds 10",
        "task plain: exported",
        "task off: exported (disabled: suspend: true)",
        'task nth: left out: cron "0 9 * * FRI#2": L and # (last day, nth weekday) have no '
        "equivalent here",
    ]
    assert status == 1


@pytest.mark.parametrize(("task_id", "name"), [
    ("backup", "backup"), ("Nightly_Backup.v2", "nightly-backup-v2"), ("__x__", "x"),
    ("a" * 64, "a" * 52),
])
def test_kubernetes_names_are_dns_1123(task_id: str, name: str) -> None:
    assert kubernetes_name(task_id) == name


@pytest.mark.parametrize(("content", "arguments", "message"), [
    ({"tasks": [shell("a_b", cron="@daily"), shell("a-b", cron="@daily")]},
     ("--image", "x"),
     'tasks "a_b" and "a-b" both become the Kubernetes name "a-b": rename one'),
    ({"tasks": [shell("__", cron="@daily")]}, ("--image", "x"),
     'task "__": no Kubernetes name can be made from its id (it needs a letter or a digit)'),
    ({"tasks": [shell("a", cron="@daily")]}, (),
     "--export kubernetes needs --image IMAGE: an image with configure_task_scheduler and "
     "the task code"),
], ids=["same-name", "no-name", "no-image"])
def test_kubernetes_bad_input_is_one_line_and_exit_2(
        export: Callable[..., tuple[int, str, str]], content: Any,
        arguments: tuple[str, ...], message: str) -> None:
    assert export(content, "--export", "kubernetes", *arguments) == (2, "", message + "\n")


# --- Writing files ------------------------------------------------------------------------


def test_out_writes_files_and_never_replaces_a_differing_one_without_force(
        export: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert export(SIMPLE, "--export", "crontab", "--out", str(out))[0] == 1
    written = (out / "crontab").read_bytes()
    assert export(SIMPLE, "--export", "crontab", "--out", str(out))[0] == 1  # identical: fine
    (out / "crontab").write_text("mine\n")
    status, _, err = export(SIMPLE, "--export", "crontab", "--out", str(out))
    assert (status, err) == (2, f"--out {out}: crontab exists and differs (--force replaces "
                                "it)\n")
    assert (out / "crontab").read_text() == "mine\n"
    assert export(SIMPLE, "--export", "crontab", "--out", str(out), "--force")[0] == 1
    assert (out / "crontab").read_bytes() == written
    assert sorted(os.listdir(out)) == ["crontab"]  # no temporary files left


def test_out_must_be_a_directory(export: Callable[..., tuple[int, str, str]],
                                 tmp_path: Path) -> None:
    status, out, err = export(SIMPLE, "--export", "crontab", "--out", str(tmp_path / "nope"))
    assert (status, out, err) == (2, "", f"--out {tmp_path / 'nope'}: not a directory "
                                         "(create it first)\n")


@pytest.mark.parametrize("form", ["crontab", "kubernetes", "systemd"])
def test_the_same_config_gives_byte_identical_files(
        export: Callable[..., tuple[int, str, str]], tmp_path: Path, form: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET_VALUE)
    contents = []
    for attempt in ("one", "two"):
        out = tmp_path / attempt
        out.mkdir()
        export(EVERY_FIELD if form != "crontab" else SIMPLE, "--export", form, "--out",
               str(out), "--image", "x")
        contents.append({path.name: path.read_bytes() for path in sorted(out.iterdir())})
    assert contents[0] == contents[1] and contents[0]


# --- The sample config, secrets, validation --------------------------------------------------

SAMPLE = Path(__file__).resolve().parent.parent / "config" / "tasks.json"


@pytest.mark.parametrize(("form", "lines"), [
    ("crontab", [
        "task hello: approximated: every minute runs on the clock (* * * * *), not counted "
        "from the start; run_on_start dropped (cron has no such thing)",
        "task disk_usage: approximated: run_on_start dropped (cron has no such thing)",
        "task weekday_report: exported",
        'task month_end: left out: cron "0 23 L * *": L and # (last day, nth weekday) have no '
        "equivalent here",
        "task nightly_backup: exported (disabled: commented out)"]),
    ("kubernetes", [
        "task hello: approximated: every minute runs on the clock (* * * * *), not counted "
        "from the start; run_on_start dropped (a CronJob has no start)",
        "task disk_usage: approximated: run_on_start dropped (a CronJob has no start)",
        "task weekday_report: exported",
        'task month_end: left out: cron "0 23 L * *": L and # (last day, nth weekday) have no '
        "equivalent here",
        "task nightly_backup: exported (disabled: suspend: true)"]),
    ("systemd", [
        "task hello: exported", "task disk_usage: exported", "task weekday_report: exported",
        "task month_end: exported",
        "task nightly_backup: exported (disabled: its timer is not enabled)"]),
])
def test_the_sample_config_exports_with_these_verdicts(
        export: Callable[..., tuple[int, str, str]], tmp_path: Path, form: str,
        lines: list[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    status, _, err = export(SAMPLE.read_text(), "--export", form, "--out", str(out),
                            "--image", "x")
    assert err.splitlines() == lines
    assert status == (0 if form == "systemd" else 1)


def test_a_crontab_line_reads_secrets_from_the_env_file_never_the_value(
        export: Callable[..., tuple[int, str, str]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET_VALUE)
    status, out, err = export({"tasks": [shell("s", cron="0 1 * * *",
                                               env={"TOKEN": "${API_TOKEN}"})]},
                              "--export", "crontab")
    assert SECRET_VALUE not in out + err
    assert out.splitlines()[-1] == (
        f"0 1 * * * cd {tmp_path} && set -a && . /etc/configure_task_scheduler/env && set +a "
        f"&& python3 -m configure_task_scheduler --run s --config {tmp_path}/tasks.json")
    assert err == ("task s: approximated: cron passes no secrets: API_TOKEN read from "
                   "/etc/configure_task_scheduler/env\n")
    assert status == 1


def test_a_config_with_problems_is_not_exported(export: Callable[..., tuple[int, str, str]],
                                                tmp_path: Path) -> None:
    status, out, err = export({"tasks": [shell("a", cron="61 * * * *")]}, "--export", "crontab")
    assert (status, out) == (2, "")
    assert err == (f'{tmp_path}/tasks.json: task #1 "a": cron "61 * * * *": minute: 61 '
                   "is out of range 0-59\n")


# Field names of the published API reference (batch/v1 CronJob, Job; core/v1 Pod, Container).
CRON_JOB_SPEC = {"concurrencyPolicy": str, "failedJobsHistoryLimit": int, "jobTemplate": dict,
                 "schedule": str, "startingDeadlineSeconds": int,
                 "successfulJobsHistoryLimit": int, "suspend": bool, "timeZone": str}
JOB_SPEC = {"activeDeadlineSeconds": int, "backoffLimit": int, "completions": int,
            "parallelism": int, "template": dict, "ttlSecondsAfterFinished": int}
POD_SPEC = {"containers": list, "restartPolicy": str, "volumes": list}
CONTAINER = {"name": str, "image": str, "command": list, "args": list, "workingDir": str,
             "env": list, "volumeMounts": list}
REQUIRED = {"CronJobSpec": {"schedule", "jobTemplate"}, "JobSpec": {"template"},
            "PodSpec": {"containers"}, "Container": {"name"}}


def check_fields(found: dict[str, Any], reference: dict[str, type], required: set[str]) -> None:
    assert required <= set(found) <= set(reference)
    for name, value in found.items():
        assert isinstance(value, reference[name]), name


def test_cron_jobs_use_only_api_reference_fields_with_their_types(
        export: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET_VALUE)
    _, out, _ = export(EVERY_FIELD, "--export", "kubernetes", "--image", "x")
    for job in json.loads(out)["items"][1:]:
        check_fields(job["spec"], CRON_JOB_SPEC, REQUIRED["CronJobSpec"])
        job_spec = job["spec"]["jobTemplate"]["spec"]
        check_fields(job_spec, JOB_SPEC, REQUIRED["JobSpec"])
        check_fields(job_spec["template"]["spec"], POD_SPEC, REQUIRED["PodSpec"])
        for container in job_spec["template"]["spec"]["containers"]:
            check_fields(container, CONTAINER, REQUIRED["Container"])
            assert all(isinstance(word, str) for word in container["command"])


def test_a_disabled_task_that_cannot_be_exported_does_not_make_the_export_approximate(
        export: Callable[..., tuple[int, str, str]]) -> None:
    # Exit 0 means "every enabled task exported faithfully": a disabled one left out is
    # reported on its line, and does not change the status.
    config = {"scheduler": {"timezone": "UTC"}, "tasks": [
        shell("report", cron="30 9 * * MON-FRI"),
        shell("odd", interval_seconds=7, enabled=False)]}

    status, _, err = export(config, "--export", "crontab")

    assert status == 0
    assert [line for line in err.splitlines() if line.startswith("task odd:")] == [
        line for line in err.splitlines() if "left out" in line]
