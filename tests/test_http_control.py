"""Control over HTTP: refused unless the token is right and the origin is the server's own.

Real sockets, a real `Scheduler`, real shell processes: a cancel must kill
the whole process group of a running shell task, as a timeout does, and the
effect of every accepted action must show in `/api/tasks`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_until
from http_client import get_json, request, served

from configure_task_scheduler import Scheduler

TOKEN = "s3cret-t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
READ_ONLY = ("control is disabled: start the scheduler with the environment variable "
             "CTS_HTTP_TOKEN set to a secret, then send 'Authorization: Bearer <secret>'")
WRONG_TOKEN = ("missing or wrong token: send 'Authorization: Bearer <the value of "
               "CTS_HTTP_TOKEN>'")


def hold() -> None:
    """A Python task that runs until the test lets it go."""
    RELEASE.wait(10)


RELEASE = threading.Event()


@pytest.fixture
def controlled(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Scheduler, str]]:
    monkeypatch.setenv("CTS_HTTP_TOKEN", TOKEN)
    scheduler = Scheduler(http="0")
    scheduler.every(3600, "true", task_id="hourly")
    with served(scheduler) as url:
        yield scheduler, url


def test_without_the_token_variable_control_is_403_with_how_to_enable_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CTS_HTTP_TOKEN", raising=False)
    scheduler = Scheduler(http="0")
    scheduler.every(3600, "true", task_id="hourly")
    with served(scheduler) as url:
        replies = [request(url, "POST", path, AUTH) for path in (
            "/api/tasks/hourly/run", "/api/tasks/hourly/pause", "/api/reload")]
        state = get_json(url, "/api/tasks/hourly")["state"]

    assert [(reply.status, reply.json()) for reply in replies] == \
        [(403, {"error": READ_ONLY})] * 3
    assert state == "scheduled"


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": "Bearer"},
], ids=["none", "wrong", "other-scheme", "longer", "empty"])
def test_a_missing_or_wrong_token_is_401_and_changes_nothing(
        controlled: tuple[Scheduler, str], headers: dict[str, str]) -> None:
    _, url = controlled
    reply = request(url, "POST", "/api/tasks/hourly/pause", headers)

    assert (reply.status, reply.headers["www-authenticate"], reply.json()) == (
        401, "Bearer", {"error": WRONG_TOKEN})
    assert get_json(url, "/api/tasks/hourly")["state"] == "scheduled"


def test_a_foreign_origin_is_refused_even_with_the_right_token(
        controlled: tuple[Scheduler, str]) -> None:
    _, url = controlled
    reply = request(url, "POST", "/api/tasks/hourly/pause",
                    AUTH | {"Origin": "https://evil.example"})

    assert (reply.status, reply.json()) == (403, {"error": (
        "cross-origin control refused: Origin 'https://evil.example' is not this server; "
        "use the page served here")})
    assert get_json(url, "/api/tasks/hourly")["state"] == "scheduled"


def test_pause_and_resume_with_the_token_show_in_api_tasks(
        controlled: tuple[Scheduler, str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "configure_task_scheduler.http")
    _, url = controlled
    own_origin = url.rstrip("/")
    paused = request(url, "POST", "/api/tasks/hourly/pause", AUTH | {"Origin": own_origin})
    after_pause = get_json(url, "/api/tasks/hourly")
    resumed = request(url, "POST", "/api/tasks/hourly/resume", AUTH)
    after_resume = get_json(url, "/api/tasks/hourly")

    assert (paused.status, paused.json()) == (200, {
        "task_id": "hourly", "action": "pause",
        "message": "paused: no runs are planned until it is resumed"})
    assert (after_pause["state"], after_pause["enabled"], after_pause["next_run_at"]) == (
        "disabled", False, None)
    assert (resumed.status, resumed.json()["message"]) == (200, "resumed: its next run is planned")
    assert (after_resume["state"], after_resume["enabled"]) == ("scheduled", True)
    logged = [r.getMessage() for r in caplog.records if "from 127.0.0.1:" in r.getMessage()]
    assert [line.split(" from ")[0] for line in logged] == [
        "http: pause task hourly", "http: resume task hourly"]


def test_run_with_the_token_starts_a_run_that_shows_in_the_runs(
        controlled: tuple[Scheduler, str]) -> None:
    _, url = controlled
    reply = request(url, "POST", "/api/tasks/hourly/run", AUTH)
    wait_until(lambda: get_json(url, "/api/tasks/hourly")["counts"]["succeeded"] == 1)

    assert (reply.status, reply.json()) == (202, {
        "task_id": "hourly", "action": "run",
        "message": "a run was requested; it starts as soon as a worker is free"})
    assert [run["task_id"] for run in get_json(url, "/api/runs")["runs"]] == ["hourly"]


@pytest.mark.parametrize("path, status, message", [
    ("/api/tasks/nope/run", 404, "no task 'nope'"),
    ("/api/tasks/bad%20id/pause", 400,
     "malformed task id 'bad%20id': expected 1-64 letters, digits, '_', '-' or '.'"),
    ("/api/tasks/hourly/cancel", 409, "it has no run in flight to cancel"),
    ("/api/reload", 409, "reload() needs a scheduler made by Scheduler.from_config()"),
], ids=["unknown-task", "malformed-id", "nothing-to-cancel", "reload-without-config"])
def test_control_errors_are_json(controlled: tuple[Scheduler, str], path: str, status: int,
                                 message: str) -> None:
    _, url = controlled
    reply = request(url, "POST", path, AUTH)

    assert (reply.status, reply.json()) == (status, {"error": message})


def test_cancel_terminates_the_process_group_of_a_running_shell_task(
        controlled: tuple[Scheduler, str], tmp_path: Path) -> None:
    scheduler, url = controlled
    child = tmp_path / "child.pid"
    # The child ignores nothing but is not the group leader: only a group kill reaches it.
    scheduler.every(3600, f"sleep 60 & echo $! > {child}; wait", task_id="busy")
    scheduler.run_now("busy")
    wait_until(lambda: child.exists() and child.read_text().strip() != "")
    pid = int(child.read_text())
    reply = request(url, "POST", "/api/tasks/busy/cancel", AUTH)
    wait_until(lambda: get_json(url, "/api/tasks/busy")["counts"]["cancelled"] == 1)
    last = get_json(url, "/api/tasks/busy")["last_result"]

    assert (reply.status, reply.json()) == (200, {
        "task_id": "busy", "action": "cancel", "message": "cancelled 1 run in flight"})
    assert (last["status"], last["error"]) == (
        "cancelled", "cancelled on request; process group terminated")
    wait_until(lambda: not is_alive(pid))


def test_cancel_reports_a_python_run_as_not_cancellable(
        controlled: tuple[Scheduler, str]) -> None:
    scheduler, url = controlled
    RELEASE.clear()
    scheduler.every(3600, hold, task_id="python")
    scheduler.run_now("python")
    wait_until(lambda: get_json(url, "/api/tasks/python")["running"] == 1)
    try:
        reply = request(url, "POST", "/api/tasks/python/cancel", AUTH)
    finally:
        RELEASE.set()

    assert (reply.status, reply.json()) == (409, {
        "error": "its run in flight is a Python call, which cannot be cancelled"})


def is_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its parent counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_reload_with_the_token_applies_the_config_file(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CTS_HTTP_TOKEN", TOKEN)
    config = tmp_path / "tasks.json"
    entry = {"task_id": "a", "task_type": "shell", "entry_point": "true",
             "interval_seconds": 3600}
    config.write_text(json.dumps({"scheduler": {"http": "0", "reload_interval_seconds": 0},
                                  "tasks": [entry]}))
    scheduler = Scheduler.from_config(str(config))
    with served(scheduler) as url:
        config.write_text(json.dumps({"scheduler": {"http": "0"},
                                      "tasks": [entry, entry | {"task_id": "b"}]}))
        reply = request(url, "POST", "/api/reload", AUTH)
        task_ids = [task["task_id"] for task in get_json(url, "/api/tasks")["tasks"]]

    assert (reply.status, reply.json()) == (200, {
        "action": "reload",
        "message": "reloaded config: 1 added (b), 0 removed, 0 changed, 1 unchanged"})
    assert task_ids == ["a", "b"]
