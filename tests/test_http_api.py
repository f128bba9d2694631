"""The HTTP add-on's JSON API over real sockets: every endpoint's status and shape.

Each test runs a real `Scheduler` with `http="0"` (a free port on 127.0.0.1)
and real shell tasks, and waits on its results with deadlines. Shapes are
compared whole; only times, which come from the real clock, are replaced.
"""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import shell_task, wait_until
from http_client import get_json, request, served

from configure_task_scheduler import Scheduler
from configure_task_scheduler.addons.http import HttpError
from configure_task_scheduler.engine import Engine
from configure_task_scheduler.registry import Registry

COUNTS = {"succeeded": 0, "failed": 0, "timed_out": 0, "skipped": 0, "missed": 0,
          "interrupted": 0, "cancelled": 0}
TIMES = ("planned_at", "started_at", "ended_at", "duration_seconds")


def without_times(run: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in run.items() if key not in TIMES}


@pytest.fixture
def scheduler(monkeypatch: pytest.MonkeyPatch) -> Scheduler:
    monkeypatch.delenv("CTS_HTTP_TOKEN", raising=False)
    scheduler = Scheduler(max_workers=2, http="0")
    scheduler.every(3600, "true", task_id="hourly", task_name="Hourly check",
                    description="does nothing")
    scheduler.every(3600, "echo out; echo err >&2; exit 3", task_id="broken")
    return scheduler


def test_the_server_logs_its_url_on_127_0_0_1_with_the_real_port(
        scheduler: Scheduler, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "configure_task_scheduler.http")
    with served(scheduler) as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:[0-9]+/", url)
        assert url.rsplit(":", 1)[1] != "0/"
        assert f"http: serving on {url}" in [r.getMessage() for r in caplog.records]


def test_api_tasks_lists_each_task_with_its_schedule_state_and_counts(
        scheduler: Scheduler) -> None:
    with served(scheduler) as url:
        wait_until(lambda: get_json(url, "/api/tasks")["tasks"][0]["next_run_at"] is not None)
        body = get_json(url, "/api/tasks")

    assert set(body) == {"now", "control_enabled", "tasks"}
    assert body["control_enabled"] is False
    hourly = body["tasks"][0]
    assert 3590 < hourly.pop("next_run_in_seconds") <= 3600
    assert datetime.fromisoformat(hourly.pop("next_run_at")) > \
        datetime.fromisoformat(body["now"])
    assert hourly == {
        "task_id": "hourly", "task_name": "Hourly check", "task_type": "shell",
        "description": "does nothing", "schedule": "every hour", "enabled": True,
        "state": "scheduled", "running": 0, "last_result": None, "counts": COUNTS,
        "recent": [],
    }
    assert [task["task_id"] for task in body["tasks"]] == ["hourly", "broken"]


def test_api_task_shows_the_last_result_and_the_strip_of_recent_runs(
        scheduler: Scheduler) -> None:
    with served(scheduler) as url:
        scheduler.run_now("broken")
        wait_until(lambda: get_json(url, "/api/tasks/broken")["recent"] == ["failed"])
        task = get_json(url, "/api/tasks/broken")

    assert without_times(task["last_result"]) == {
        "task_id": "broken", "run_number": 1, "attempt": 1, "status": "failed",
        "exit_code": 3, "error": "exit code 3", "stdout_tail": "out\n", "stderr_tail": "err\n",
    }
    assert task["counts"] == COUNTS | {"failed": 1}
    assert task["state"] == "scheduled"


@pytest.mark.parametrize("path, status, message", [
    ("/api/tasks/nope", 404, "no task 'nope'"),
    ("/api/tasks/no%20pe", 400,
     "malformed task id 'no%20pe': expected 1-64 letters, digits, '_', '-' or '.'"),
    ("/api/tasks/" + "x" * 65, 400,
     f"malformed task id '{'x' * 65}': expected 1-64 letters, digits, '_', '-' or '.'"),
    ("/api/nothing", 404, "no such endpoint: /api/nothing"),
    ("/api/tasks/hourly/extra", 404, "no such endpoint: /api/tasks/hourly/extra"),
    ("/api/tasks?x=1", 400, "/api/tasks takes no query parameters, found 'x=1'"),
    ("/api/runs?limit=0", 400, "limit: expected an integer from 1 to 1000, found '0'"),
    ("/api/runs?limit=1001", 400, "limit: expected an integer from 1 to 1000, found '1001'"),
    ("/api/runs?limit=ten", 400, "limit: expected an integer from 1 to 1000, found 'ten'"),
    ("/api/runs?limit=", 400, "limit: expected an integer from 1 to 1000, found ''"),
    ("/api/runs?status=ok", 400, "status: expected one of succeeded, failed, timed_out, "
                                 "skipped, missed, interrupted, cancelled, found 'ok'"),
    ("/api/runs?task_id=a/b", 400,
     "task_id: expected 1-64 letters, digits, '_', '-' or '.', found 'a/b'"),
    ("/api/runs?colour=red", 400, "unknown query parameter 'colour'; known: task_id, status, "
                                  "limit"),
    ("/api/runs?limit=1&limit=2", 400, "query parameter 'limit' given 2 times"),
    ("/api/runs?limit", 400, "malformed query 'limit'"),
], ids=["unknown-id", "malformed-id", "long-id", "unknown-path", "deeper-path",
        "query-on-tasks", "limit-zero", "limit-too-big", "limit-word", "limit-empty",
        "unknown-status", "bad-task-id", "unknown-parameter", "repeated-parameter",
        "malformed-query"])
def test_bad_requests_get_a_json_error(scheduler: Scheduler, path: str, status: int,
                                       message: str) -> None:
    with served(scheduler) as url:
        reply = request(url, path=path)

    assert (reply.status, reply.json()) == (status, {"error": message})


@pytest.mark.parametrize("method, path, allow", [
    ("DELETE", "/api/tasks", "GET"),
    ("PUT", "/api/tasks/hourly", "GET"),
    ("GET", "/api/tasks/hourly/run", "POST"),
    ("GET", "/api/reload", "POST"),
    ("POST", "/api/tasks", "GET"),
    ("POST", "/metrics", "GET"),
], ids=["delete-tasks", "put-task", "get-run", "get-reload", "post-tasks", "post-metrics"])
def test_a_wrong_method_gets_405_with_allow(scheduler: Scheduler, method: str, path: str,
                                            allow: str) -> None:
    with served(scheduler) as url:
        reply = request(url, method, path)

    assert (reply.status, reply.headers["allow"], reply.json()) == (
        405, allow, {"error": f"method {method} is not allowed on {path}; use {allow}"})


def test_api_runs_lists_runs_newest_first_filtered_and_limited(scheduler: Scheduler) -> None:
    with served(scheduler) as url:
        for _ in range(3):
            count = len(get_json(url, "/api/runs")["runs"])
            scheduler.run_now("broken")
            wait_until(lambda: len(get_json(url, "/api/runs")["runs"]) == count + 1)
        scheduler.run_now("hourly")
        wait_until(lambda: len(get_json(url, "/api/runs")["runs"]) == 4)
        every = get_json(url, "/api/runs")
        failed = get_json(url, "/api/runs?task_id=broken&status=failed&limit=2")
        succeeded = get_json(url, "/api/runs?status=succeeded")

    assert every["source"] == "memory"
    assert [(r["task_id"], r["run_number"]) for r in every["runs"]] == [
        ("hourly", 1), ("broken", 3), ("broken", 2), ("broken", 1)]
    assert [(r["task_id"], r["run_number"]) for r in failed["runs"]] == [
        ("broken", 3), ("broken", 2)]
    assert [without_times(r) for r in succeeded["runs"]] == [{
        "task_id": "hourly", "run_number": 1, "attempt": 1, "status": "succeeded",
        "exit_code": 0, "error": "", "stdout_tail": "", "stderr_tail": ""}]


def test_healthz_is_ok_while_the_loop_runs_and_503_once_it_stops(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A run in flight keeps the server up during the shutdown: the loop has
    # stopped, the page still answers, and /healthz says so.
    monkeypatch.setenv("CTS_HTTP_TOKEN", "t0ken")
    scheduler = Scheduler(http="0", shutdown_timeout_seconds=30)
    scheduler.every(3600, "sleep 30", task_id="slow")
    scheduler.start()
    url = scheduler.http_url
    stopping = None
    try:
        wait_until(lambda: request(url, path="/healthz").status == 200)  # the loop began
        assert get_json(url, "/healthz") == {"status": "ok"}
        scheduler.run_now("slow")
        wait_until(lambda: get_json(url, "/api/tasks/slow")["running"] == 1)
        stopping = threading.Thread(target=scheduler.stop)
        stopping.start()
        wait_until(lambda: request(url, path="/healthz").status == 503)
        reply = request(url, path="/healthz")
        cancel = request(url, "POST", "/api/tasks/slow/cancel",
                         {"Authorization": "Bearer t0ken"})
    finally:
        if stopping is None:
            scheduler.stop()
        else:
            stopping.join()

    assert (reply.status, reply.json()) == (503, {"status": "unavailable",
                            "reason": "the scheduler is stopping"})
    assert cancel.status == 200


def test_engine_loop_is_stalled_when_it_has_not_passed_for_two_longest_sleeps(
        fake_clock: Any, recording_executor: Any) -> None:
    engine = Engine(Registry(), recording_executor, fake_clock)
    assert engine.loop_stalled_reason() == "the scheduler loop is not running"
    reasons: list[str] = []

    def listener(event: Any) -> None:  # runs inside the loop's pass: the loop is "stuck"
        if not reasons:
            reasons.append(engine.loop_stalled_reason())
            fake_clock.advance(120.5)
            reasons.append(engine.loop_stalled_reason())
            engine.stop()
            reasons.append(engine.loop_stalled_reason())

    engine.add(shell_task("a", 1))
    engine.subscribe(listener)
    engine.run(5)

    assert reasons == ["", "the scheduler loop has not passed for 120s (more than 120s): "
                           "it is stuck", "the scheduler is stopping"]


def test_a_port_in_use_is_one_line_of_help() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        scheduler = Scheduler(http=str(port))
        with pytest.raises(HttpError, match=rf"^http: cannot listen on 127\.0\.0\.1:{port}: "
                           r"the port is already in use; choose another port, or 0 for any "
                           r"free one$"):
            scheduler.start()
    finally:
        taken.close()


def test_an_unknown_host_is_one_line_of_help() -> None:
    scheduler = Scheduler(http="no-such-host.invalid:0")
    with pytest.raises(HttpError, match=r"^http: cannot listen on no-such-host\.invalid:0: "
                       r"unknown host 'no-such-host\.invalid'; use an IP address or a name "
                       r"of this machine$"):
        scheduler.start()


def test_the_cli_exits_2_with_one_line_when_the_port_is_in_use(tmp_path: Any) -> None:
    config = tmp_path / "tasks.json"
    config.write_text('{"tasks": [{"task_id": "a", "task_type": "shell", "entry_point": "true", '
                      '"interval_seconds": 60}]}')
    config.chmod(0o600)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        done = subprocess.run([sys.executable, "-m", "configure_task_scheduler", "--config",
                               str(config), "--http", str(port)], capture_output=True,
                              text=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
    finally:
        taken.close()

    assert (done.returncode, done.stdout, done.stderr) == (2, "", (
        f"http: cannot listen on 127.0.0.1:{port}: the port is already in use; choose "
        "another port, or 0 for any free one\n"))
