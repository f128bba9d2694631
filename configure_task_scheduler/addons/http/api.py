"""The HTTP add-on's endpoints: a request in, a `Response` out, no sockets.

Owns routing, the JSON shapes, the query checks and the control rules
(bearer token compared with `hmac.compare_digest`, same-origin only, every
action logged with the client's address). It reads the scheduler through the
`Steering` protocol (which `Scheduler` satisfies) and runs through a
`RunSource`; every bad request becomes a 4xx `{"error": "..."}`. It never
writes to a socket and never holds the engine's lock (`tasks()` returns a copy).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qs

from ...task import TaskSnapshot
from . import page
from .metrics import CONTENT_TYPE as METRICS_TYPE
from .metrics import RunMetrics, render_metrics
from .runs import MAX_RUNS, RecentRuns, RunSource
from .tasks_json import STATUS_VALUES, TaskEncoder

logger = logging.getLogger("configure_task_scheduler.http")

TOKEN_VARIABLE = "CTS_HTTP_TOKEN"
DEFAULT_RUNS = 50
# How long one /api/tasks answer is shared by every client: pages polling every
# few seconds, or a script polling 20 times a second, then cost the scheduler one
# answer a second (10,000 tasks take tens of ms of the GIL). Control actions
# drop it at once, so their effect shows in the next answer.
TASKS_ANSWER_SECONDS = 1.0
JSON_TYPE = "application/json"
_TASK_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_TASK_PATH = re.compile(r"/api/tasks/([^/]*)")
_ACTION_PATH = re.compile(r"/api/tasks/([^/]*)/(run|pause|resume|cancel)")
_RUN_QUERY = ("task_id", "status", "limit")
READ_ONLY = (f"control is disabled: start the scheduler with the environment variable "
             f"{TOKEN_VARIABLE} set to a secret, then send 'Authorization: Bearer <secret>'")
WRONG_TOKEN = (f"missing or wrong token: send 'Authorization: Bearer <the value of "
               f"{TOKEN_VARIABLE}>'")


class Steering(Protocol):
    """What the server reads and steers; `Scheduler` satisfies it."""

    def tasks(self) -> list[TaskSnapshot]: ...
    def run_now(self, task_id: str) -> None: ...
    def pause(self, task_id: str) -> None: ...
    def resume(self, task_id: str) -> None: ...
    def cancel(self, task_id: str) -> tuple[int, int]: ...
    def reload(self) -> object: ...
    def loop_stalled_reason(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed request: method, target (path and query), headers (lower-case names), client."""

    method: str
    target: str
    headers: Mapping[str, str]
    client: str


@dataclass(frozen=True, slots=True)
class Response:
    """What to send back: status, body, content type, extra headers, the page's CSP nonce."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()
    nonce: str = ""


def json_response(status: int, value: Any, *headers: tuple[str, str]) -> Response:
    """A JSON response (UTF-8, compact, keys in insertion order)."""
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(status, body, JSON_TYPE, headers)


def error(status: int, message: str, *headers: tuple[str, str]) -> Response:
    """A 4xx/5xx answer: `{"error": message}`."""
    return json_response(status, {"error": message}, *headers)


class Api:
    """Answers requests; one per server, shared by its handler threads.

    Args:
        steering: the scheduler.
        recent: the in-memory runs (the strips, and the runs without a history).
        metrics: the run histograms.
        runs: where `/api/runs` reads (default: `recent`).
        token: the control token; None or "": read-only.
        origins: this server's own origins ("http://127.0.0.1:8080"); on a loopback
            address, requests naming another Host are refused.
        wall, monotonic: the scheduler's clock (countdowns; the shared answer's age).
    """

    def __init__(self, steering: Steering, recent: RecentRuns, metrics: RunMetrics,
                 runs: RunSource | None, token: str | None, origins: frozenset[str],
                 wall: Callable[[], datetime], monotonic: Callable[[], float]) -> None:
        self._steering, self._recent, self._metrics = steering, recent, metrics
        self._runs: RunSource = runs or recent
        self._token = token.encode() if token else None
        self._origins, self._wall, self._monotonic = origins, wall, monotonic
        self._loopback = "http://127.0.0.1" in {origin.rsplit(":", 1)[0] for origin in origins}
        self._tasks_answer: tuple[float, bytes] | None = None  # (built at, body)
        self._encoder = TaskEncoder()

    @property
    def control_enabled(self) -> bool:
        """True if a token was set: the control endpoints (POST) answer."""
        return self._token is not None

    def handle(self, request: Request) -> Response:
        """Answer one request (its body, at most 64 KiB, is ignored: no endpoint takes one)."""
        path, _, query = request.target.partition("?")
        host = request.headers.get("host")
        if self._loopback and host is not None and f"http://{host}" not in self._origins:
            # A page on another site that resolves its name to 127.0.0.1 (DNS
            # rebinding) sends its own name here: it gets nothing.
            return error(421, f"this server answers to {', '.join(sorted(self._origins))}, "
                         f"not to Host {host!r}")
        if request.method == "POST":
            return self._post(request, path)
        if request.method != "GET":
            if self._allowed(path):
                return error(405, f"method {request.method} is not allowed on {path}; "
                             f"use {self._allowed(path)}", ("Allow", self._allowed(path)))
            return error(404, f"no such endpoint: {path}")
        return self._get(path, query)

    def _get(self, path: str, query: str) -> Response:
        if query and path != "/api/runs":
            return error(400, f"{path} takes no query parameters, found {query!r}")
        if path == "/":
            nonce, html = page.render(self.control_enabled)
            return Response(200, html, "text/html; charset=utf-8", nonce=nonce)
        if path == "/api/tasks":
            return Response(200, self._tasks_body())
        if path == "/api/runs":
            return self._get_runs(query)
        if path == "/healthz":
            return self._health()
        if path == "/metrics":
            text = render_metrics(self._steering.tasks(), self._metrics,
                                  self._runs.dropped_total())
            return Response(200, text.encode(), METRICS_TYPE)
        if match := _TASK_PATH.fullmatch(path):
            return self._get_task(match[1])
        if self._allowed(path) == "POST":
            return error(405, f"method GET is not allowed on {path}; use POST",
                         ("Allow", "POST"))
        return error(404, f"no such endpoint: {path}")

    def _allowed(self, path: str) -> str:
        """The method a known path takes ("" for an unknown path)."""
        if path == "/api/reload" or _ACTION_PATH.fullmatch(path):
            return "POST"
        if path in ("/", "/api/tasks", "/api/runs", "/healthz", "/metrics") or \
                _TASK_PATH.fullmatch(path):
            return "GET"
        return ""

    # -- reading -----------------------------------------------------------------

    def _tasks_body(self) -> bytes:
        """The /api/tasks answer, shared for TASKS_ANSWER_SECONDS (a race builds it twice)."""
        now, cached = self._monotonic(), self._tasks_answer
        if cached is not None and 0 <= now - cached[0] < TASKS_ANSWER_SECONDS:
            return cached[1]
        body = self._encoder.tasks_text(self._steering.tasks(), self._recent.strips(),
                                        self._wall(), self.control_enabled).encode()
        self._tasks_answer = (now, body)
        return body

    def _get_task(self, task_id: str) -> Response:
        if not _TASK_ID.fullmatch(task_id):
            return error(400, f"malformed task id {task_id!r}: expected 1-64 letters, "
                         "digits, '_', '-' or '.'")
        now = self._wall()
        for snapshot in self._steering.tasks():
            if snapshot.task_id == task_id:
                return json_response(200, self._encoder.task_json(
                    snapshot, self._recent.strip(task_id), now))
        return error(404, f"no task {task_id!r}")

    def _get_runs(self, query: str) -> Response:
        values, problem = read_run_query(query)
        if problem:
            return error(400, problem)
        runs = self._runs.recent_runs(values.get("task_id"), values.get("status"),
                                      int(values.get("limit", DEFAULT_RUNS)))
        return json_response(200, {"source": self._runs.name, "runs": runs})

    def _health(self) -> Response:
        reason = self._steering.loop_stalled_reason()
        if reason:
            return json_response(503, {"status": "unavailable", "reason": reason})
        return json_response(200, {"status": "ok"})

    # -- control -----------------------------------------------------------------

    def _post(self, request: Request, path: str) -> Response:
        if self._allowed(path) != "POST":
            if self._allowed(path):
                return error(405, f"method POST is not allowed on {path}; use GET",
                             ("Allow", "GET"))
            return error(404, f"no such endpoint: {path}")
        refusal = self._refusal(request)
        if refusal is not None:
            logger.warning("http: control %s refused from %s: %s", path, request.client,
                           json.loads(refusal.body)["error"])
            return refusal
        if path == "/api/reload":
            return self._reload(request)
        match = _ACTION_PATH.fullmatch(path)
        assert match is not None
        return self._act(request, match[1], match[2])

    def _refusal(self, request: Request) -> Response | None:
        """Why a control request is refused (read-only, foreign origin, token), or None."""
        if self._token is None:
            return error(403, READ_ONLY)
        origin = request.headers.get("origin")
        if origin is not None and origin not in self._origins:
            return error(403, f"cross-origin control refused: Origin {origin!r} is not "
                         "this server; use the page served here")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                 self._token):
            return error(401, WRONG_TOKEN, ("WWW-Authenticate", "Bearer"))
        return None

    def _act(self, request: Request, task_id: str, action: str) -> Response:
        if not _TASK_ID.fullmatch(task_id):
            return error(400, f"malformed task id {task_id!r}: expected 1-64 letters, "
                         "digits, '_', '-' or '.'")
        try:
            status, message = self._apply(task_id, action)
        except KeyError:
            return error(404, f"no task {task_id!r}")
        self._tasks_answer = None
        logger.info("http: %s task %s from %s: %s", action, task_id, request.client, message)
        if status >= 400:
            return error(status, message)
        return json_response(status, {"task_id": task_id, "action": action,
                                      "message": message})

    def _apply(self, task_id: str, action: str) -> tuple[int, str]:
        """Do the action; return (status, message). Raises KeyError for an unknown task."""
        steering = self._steering
        if action == "run":
            steering.run_now(task_id)
            return 202, "a run was requested; it starts as soon as a worker is free"
        if action == "pause":
            steering.pause(task_id)
            return 200, "paused: no runs are planned until it is resumed"
        if action == "resume":
            steering.resume(task_id)
            return 200, "resumed: its next run is planned"
        cancelled, python_runs = steering.cancel(task_id)
        if cancelled:
            return 200, f"cancelled {cancelled} run{'s' if cancelled > 1 else ''} in flight"
        if python_runs:
            return 409, "its run in flight is a Python call, which cannot be cancelled"
        return 409, "it has no run in flight to cancel"

    def _reload(self, request: Request) -> Response:
        try:
            summary = self._steering.reload()
        except RuntimeError as problem:
            return error(409, str(problem))
        if summary is None:
            return error(409, "the config file could not be used; the tasks are unchanged "
                         "(the log says why)")
        self._tasks_answer = None
        logger.info("http: reload from %s: %s", request.client, summary)
        return json_response(200, {"action": "reload", "message": str(summary)})


def read_run_query(query: str) -> tuple[dict[str, str], str]:
    """Check /api/runs's query; return (values, "") or ({}, what is wrong)."""
    try:
        parsed = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        return {}, f"malformed query {query!r}"
    for name, given in parsed.items():
        if name not in _RUN_QUERY:
            return {}, f"unknown query parameter {name!r}; known: {', '.join(_RUN_QUERY)}"
        if len(given) > 1:
            return {}, f"query parameter {name!r} given {len(given)} times"
    values = {name: given[0] for name, given in parsed.items()}
    statuses = list(STATUS_VALUES.values())
    if "task_id" in values and not _TASK_ID.fullmatch(values["task_id"]):
        return {}, f"task_id: expected 1-64 letters, digits, '_', '-' or '.', found " \
                   f"{values['task_id']!r}"
    if "status" in values and values["status"] not in statuses:
        return {}, f"status: expected one of {', '.join(statuses)}, found {values['status']!r}"
    limit = values.get("limit", str(DEFAULT_RUNS))
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= MAX_RUNS:
        return {}, f"limit: expected an integer from 1 to {MAX_RUNS}, found {limit!r}"
    return values, ""

