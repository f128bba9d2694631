"""The HTTP server's defences: headers, body limits, deadlines and the connection cap.

Real sockets on 127.0.0.1. A slow client and 200 idle connections are real
sockets held open by the test; the checks wait on deadlines (the server's
own, set short here) rather than sleeping, and show that other clients and
the scheduler's runs go on meanwhile.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator

import pytest
from conftest import wait_until
from http_client import get_json, request, served

from configure_task_scheduler import Scheduler
from configure_task_scheduler.addons.http import HttpServer
from configure_task_scheduler.clock import RealClock

PAGE_CSP = re.compile(r"default-src 'none'; script-src 'nonce-([A-Za-z0-9_-]{24})'; "
                      r"style-src 'nonce-\1'; connect-src 'self'; img-src 'self'; "
                      r"base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@pytest.fixture
def url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.delenv("CTS_HTTP_TOKEN", raising=False)
    scheduler = Scheduler(http="0")
    scheduler.every(3600, "true", task_id="hourly", task_name="<script>alert(1)</script>")
    with served(scheduler) as address:
        yield address


@pytest.fixture
def busy_scheduler() -> Iterator[Scheduler]:
    """A running scheduler with a task every 50 ms, to show runs go on."""
    scheduler = Scheduler()
    scheduler.every(0.05, "true", task_id="tick")
    scheduler.start()
    try:
        yield scheduler
    finally:
        scheduler.stop()


def ticks(scheduler: Scheduler) -> int:
    return sum(scheduler.tasks()[0].counts.values())


def open_server(scheduler: Scheduler, timeout_seconds: float,
                max_connections: int = 256) -> HttpServer:
    clock = RealClock()
    server = HttpServer(scheduler, "127.0.0.1", 0, token=None, wall=clock.wall,
                        monotonic=clock.monotonic, request_timeout_seconds=timeout_seconds,
                        max_connections=max_connections)
    server.open()
    server.start()
    return server


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def closed_by_server(sock: socket.socket) -> bool:
    """Read what the server sends until it closes; True once it has closed."""
    try:
        while sock.recv(4096):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    return True


def test_every_answer_carries_the_security_headers_and_no_cors(url: str) -> None:
    for path in ("/", "/api/tasks", "/metrics", "/healthz", "/nope"):
        headers = request(url, path=path).headers
        assert (headers["x-content-type-options"], headers["referrer-policy"],
                headers["cache-control"], headers["x-frame-options"]) == (
            "nosniff", "no-referrer", "no-store", "DENY"), path
        assert not [name for name in headers if name.startswith("access-control")], path
    assert request(url, path="/api/tasks").headers["content-security-policy"] == \
        "default-src 'none'; frame-ancestors 'none'"


def test_the_page_allows_only_its_own_script_and_style_by_a_fresh_nonce(url: str) -> None:
    first, second = request(url, path="/"), request(url, path="/")
    match = PAGE_CSP.fullmatch(first.headers["content-security-policy"])

    assert first.status == 200 and first.headers["content-type"] == "text/html; charset=utf-8"
    assert match is not None
    html = first.body.decode()
    assert re.findall(r"<(script|style)\b([^>]*)>", html) == [
        ("style", f' nonce="{match[1]}"'), ("script", f' nonce="{match[1]}"')]
    assert first.headers["content-security-policy"] != \
        second.headers["content-security-policy"]
    assert not re.search(r"(src|href)=\"?(https?:)?//", html)  # nothing external
    assert "innerHTML" not in html and "alert(1)" not in html  # data only via textContent


def test_task_names_and_output_reach_the_page_only_as_json_strings(url: str) -> None:
    reply = request(url, path="/api/tasks")

    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["tasks"][0]["task_name"] == "<script>alert(1)</script>"


@pytest.mark.parametrize("headers, status, message", [
    ({"Content-Length": str(64 * 1024 + 1)}, 413,
     "request body of 65537 bytes is over the limit of 65536 bytes"),
    ({"Content-Length": "lots"}, 400, "Content-Length: expected a number of bytes, found 'lots'"),
    ({"Transfer-Encoding": "chunked"}, 411,
     "chunked request bodies are not accepted; send Content-Length"),
], ids=["over-64-KiB", "bad-length", "chunked"])
def test_a_body_too_big_or_unframed_is_refused_before_it_is_read(
        url: str, headers: dict[str, str], status: int, message: str) -> None:
    sock = connect(url)
    with sock:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        sock.sendall(f"POST /api/reload HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode())
        reply = sock.makefile("rb").read().decode()

    status_line, _, rest = reply.partition("\r\n")
    assert status_line.split(" ", 2)[1] == str(status)
    assert rest.split("\r\n\r\n", 1)[1] == f'{{"error":"{message}"}}'


def test_a_small_body_is_read_and_ignored(url: str) -> None:
    reply = request(url, "POST", "/api/tasks", body=b"x" * 1000)
    assert reply.status == 405


def test_a_malformed_request_line_gets_a_json_error(url: str) -> None:
    sock = connect(url)
    with sock:
        sock.sendall(b"GET /api/tasks HTTP/9.9\r\n\r\n")
        reply = sock.makefile("rb").read().decode()

    assert reply.startswith("HTTP/1.0 505 ")
    assert reply.endswith('{"error":"invalid http version (9.9)"}')


def test_a_slow_client_is_cut_at_its_deadline_while_others_and_runs_go_on(
        busy_scheduler: Scheduler) -> None:
    server = open_server(busy_scheduler, timeout_seconds=1.0)
    stop = threading.Event()
    slow = connect(server.url)

    def trickle() -> None:  # one byte at a time, never finishing the headers
        slow.sendall(b"GET /api/tasks HTTP/1.1\r\nX-Slow: ")
        while not stop.wait(0.1):
            try:
                slow.sendall(b"a")
            except OSError:
                return

    thread = threading.Thread(target=trickle)
    thread.start()
    try:
        before = ticks(busy_scheduler)
        answers = [request(server.url, path="/api/tasks").status for _ in range(5)]
        wait_until(lambda: ticks(busy_scheduler) >= before + 3)  # the scheduler goes on
        assert closed_by_server(slow)  # returns once the server cut it (recv times out at 10s)
    finally:
        stop.set()
        thread.join()
        slow.close()
        server.close()

    assert answers == [200] * 5


def test_200_idle_connections_do_not_stall_other_clients_or_the_scheduler(
        busy_scheduler: Scheduler) -> None:
    server = open_server(busy_scheduler, timeout_seconds=2.0)
    idle = [connect(server.url) for _ in range(200)]
    try:
        before = ticks(busy_scheduler)
        assert get_json(server.url, "/api/tasks")["tasks"][0]["task_id"] == "tick"
        wait_until(lambda: ticks(busy_scheduler) >= before + 3)
        assert all(closed_by_server(sock) for sock in idle)  # each cut at its deadline
    finally:
        for sock in idle:
            sock.close()
        server.close()


def test_past_the_connection_cap_a_client_gets_503_at_once(
        busy_scheduler: Scheduler) -> None:
    server = open_server(busy_scheduler, timeout_seconds=30.0, max_connections=3)
    idle = [connect(server.url) for _ in range(3)]
    try:
        wait_until(lambda: request(server.url, path="/healthz").status == 503)
        reply = request(server.url, path="/healthz")
    finally:
        for sock in idle:
            sock.close()
        server.close()

    assert (reply.status, reply.headers["retry-after"], reply.json()) == (
        503, "1", {"error": "too many connections; try again in a few seconds"})


def test_close_cuts_open_connections_and_leaves_no_threads(
        busy_scheduler: Scheduler) -> None:
    server = open_server(busy_scheduler, timeout_seconds=60.0)
    idle = [connect(server.url) for _ in range(5)]
    wait_until(lambda: sum(t.name == "http-connection" for t in threading.enumerate()) >= 5)
    server.close()  # returns without waiting for the 60 s deadlines
    try:
        assert all(closed_by_server(sock) for sock in idle)
    finally:
        for sock in idle:
            sock.close()


def test_a_request_naming_another_host_is_refused_on_loopback(url: str) -> None:
    port = url.rstrip("/").rsplit(":", 1)[1]
    reply = request(url, path="/api/tasks", headers={"Host": f"evil.example:{port}"})
    own = request(url, path="/api/tasks", headers={"Host": f"localhost:{port}"})

    assert (reply.status, reply.json()) == (421, {"error": (
        f"this server answers to http://127.0.0.1:{port}, http://[::1]:{port}, "
        f"http://localhost:{port}, not to Host 'evil.example:{port}'")})
    assert own.status == 200
