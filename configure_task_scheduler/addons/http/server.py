"""The HTTP server: `ThreadingHTTPServer` with deadlines, a connection cap and safe headers.

`HttpServer` owns the listening socket, its serving thread and one thread
per connection. Every connection has a deadline (`request_timeout_seconds`
for reading the request and writing the answer); the serving thread shuts
down the sockets that passed it, so a client sending a byte a second or
holding a connection idle only ever costs one thread for that long. Past
`max_connections` a new connection gets a 503 at once. Every answer carries
the security headers (CSP, nosniff, no-referrer, no-store) and no CORS
header. Answers come from `api.Api`; this module never touches the engine.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ...task import Listener
from .api import Api, Request, Response, Steering, error, json_response
from .metrics import RunMetrics
from .runs import RecentRuns, RunSource

logger = logging.getLogger("configure_task_scheduler.http")

MAX_BODY_BYTES = 64 * 1024
MAX_CONNECTIONS = 256  # above the 200 idle connections a careless client may hold
REQUEST_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.25  # how often the serving thread looks for connections past their deadline
_JSON_CSP = "default-src 'none'; frame-ancestors 'none'"
_PAGE_CSP = ("default-src 'none'; script-src 'nonce-{0}'; style-src 'nonce-{0}'; "
             "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
             "frame-ancestors 'none'")


class HttpError(Exception):
    """The server cannot listen where it was asked to; the message is one line of help."""


@dataclass(slots=True)
class _Connection:
    deadline: float
    expired: bool = False


class HttpServer:
    """Serves the status page, the JSON API and the metrics of one scheduler.

    Args:
        steering: the scheduler to read and steer.
        host, port: where to listen (port 0: any free port).
        token: the control token (None or "": read-only).
        wall, monotonic: the scheduler's clock.
        runs: where /api/runs reads (default: the in-memory recent runs).
        request_timeout_seconds, max_connections: see the module docstring.
    """

    def __init__(self, steering: Steering, host: str, port: int, *, token: str | None,
                 wall: Callable[[], datetime], monotonic: Callable[[], float],
                 runs: RunSource | None = None,
                 request_timeout_seconds: float = REQUEST_TIMEOUT_SECONDS,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        self.recent, self.metrics = RecentRuns(), RunMetrics()
        self._steering, self._host, self._port = steering, host, port
        self._token, self._wall, self._runs = token, wall, runs
        self._monotonic = monotonic
        self._timeout, self._max_connections = request_timeout_seconds, max_connections
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    @property
    def listeners(self) -> list[Listener]:
        """The run listeners to subscribe before the scheduler starts."""
        return [self.recent, self.metrics]

    def open(self) -> None:
        """Bind and listen, then log `http: serving on URL`.

        Raises:
            HttpError: bad host, port in use, no permission (one line).
        """
        family, address = _resolve(self._host, self._port)
        try:
            server = _Server(family, address, self._timeout, self._max_connections,
                             self._monotonic)
        except OSError as problem:
            raise HttpError(_bind_problem(self._host, self._port, problem)) from None
        port = server.server_address[1]
        self.url = f"http://{_url_host(self._host)}:{port}/"
        server.api = Api(self._steering, self.recent, self.metrics, self._runs, self._token,
                         _origins(self._host, port), self._wall, self._monotonic)
        self._server = server
        logger.info("http: serving on %s", self.url)

    def start(self) -> None:
        """Serve on a background thread (after `open`)."""
        assert self._server is not None, "open() first"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        args=(POLL_SECONDS,), name="http-server")
        self._thread.start()

    def close(self) -> None:
        """Stop serving, cut open connections, wait for their threads; idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        if self._thread is not None:
            server.shutdown()
            self._thread.join()
        server.cut_all()
        server.server_close()  # joins the connection threads


def _resolve(host: str, port: int) -> tuple[int, tuple[Any, ...]]:
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise HttpError(f"http: cannot listen on {host}:{port}: unknown host {host!r}; use an "
                        "IP address or a name of this machine") from None
    family, _, _, _, address = info[0]
    return family, address


def _bind_problem(host: str, port: int, problem: OSError) -> str:
    where = f"http: cannot listen on {_url_host(host)}:{port}"
    if problem.errno == errno.EADDRINUSE:
        return f"{where}: the port is already in use; choose another port, or 0 for any free one"
    if problem.errno == errno.EADDRNOTAVAIL:
        return f"{where}: {host} is not an address of this machine"
    if problem.errno == errno.EACCES:
        return f"{where}: permission denied; use a port from 1024 to 65535"
    return f"{where}: {problem.strerror or problem}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _origins(host: str, port: int) -> frozenset[str]:
    """This server's own origins: its host, and the loopback names when it listens on one."""
    names = {_url_host(host), "127.0.0.1", "localhost", "[::1]"}
    if host not in ("127.0.0.1", "localhost", "::1"):
        names = {_url_host(host), socket.gethostname(), socket.getfqdn()}
    return frozenset(f"http://{name}:{port}" for name in names)


class _Server(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its connections, their deadlines and its cap."""

    daemon_threads = False  # close() joins them: nothing outlives the scheduler
    request_queue_size = 512  # the listen backlog (socketserver's 5 drops bursts of connects)
    api: Api

    def __init__(self, family: int, address: tuple[Any, ...], timeout_seconds: float,
                 max_connections: int, monotonic: Callable[[], float]) -> None:
        self.address_family = family
        self.timeout_seconds, self.max_connections = timeout_seconds, max_connections
        self.monotonic = monotonic
        self.connections: dict[socket.socket, _Connection] = {}
        self.connections_lock = threading.Lock()
        super().__init__(address[:2], _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Track the connection, or answer 503 at once if there are too many."""
        with self.connections_lock:
            full = len(self.connections) >= self.max_connections
            if not full:
                deadline = self.monotonic() + self.timeout_seconds
                self.connections[request] = _Connection(deadline)
        if full:
            _refuse_busy(request)
            return
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("http: connection from %s ended with an error", client_address,
                     exc_info=True)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.pop(request, None)
        super().shutdown_request(request)

    def service_actions(self) -> None:
        """Between polls of the serving thread: cut the connections past their deadline."""
        now = self.monotonic()
        with self.connections_lock:
            late = [(sock, c) for sock, c in self.connections.items()
                    if not c.expired and c.deadline <= now]
            for _, connection in late:
                connection.expired = True
        for sock, _ in late:
            _cut(sock)

    def cut_all(self) -> None:
        with self.connections_lock:
            for connection in self.connections.values():
                connection.expired = True
            sockets = list(self.connections)
        for sock in sockets:
            _cut(sock)

    def expired(self, sock: socket.socket) -> bool:
        with self.connections_lock:
            connection = self.connections.get(sock)
            return connection is None or connection.expired


def _cut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # the blocked read or write in its thread returns
    except OSError:
        pass  # already closed by its thread


def _refuse_busy(sock: socket.socket) -> None:
    body = b'{"error":"too many connections; try again in a few seconds"}'
    head = (f"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Retry-After: 1\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n")
    try:
        sock.setblocking(False)  # never wait on a client from the serving thread
        sock.send(head.encode() + body)
    except OSError:
        pass
    finally:
        sock.close()


class _Handler(BaseHTTPRequestHandler):
    """One connection, one request (HTTP/1.0 style: the connection closes after the answer)."""

    server: _Server
    server_version = "configure_task_scheduler"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        threading.current_thread().name = "http-connection"  # in thread dumps and leak checks
        super().setup()
        self.connection.settimeout(self.server.timeout_seconds)  # each socket operation

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _serve(self) -> None:
        response = self._read_body()
        if self.server.expired(self.request):
            return  # too slow: the socket was cut
        if response is None:
            response = self._answer()
        self._send(response)

    def _read_body(self) -> Response | None:
        """Read and drop the body; return an error response if it is not acceptable."""
        if self.headers.get("Transfer-Encoding"):
            return error(411, "chunked request bodies are not accepted; send Content-Length")
        length_text = self.headers.get("Content-Length", "0").strip()
        if not length_text.isdigit():
            return error(400, f"Content-Length: expected a number of bytes, "
                         f"found {length_text!r}")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            return error(413, f"request body of {length} bytes is over the limit of "
                         f"{MAX_BODY_BYTES} bytes")
        if length:
            self.rfile.read(length)
        return None

    def _answer(self) -> Response:
        client = f"{self.client_address[0]}:{self.client_address[1]}"
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = Request(self.command, self.path, headers, client)
        try:
            return self.server.api.handle(request)
        except Exception:
            logger.exception("http: %s %s from %s failed", self.command, self.path, client)
            return error(500, "internal error; the scheduler's log has the details")

    def _send(self, response: Response) -> None:
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # a request line that could not be read:
            self.request_version = "HTTP/1.0"  # answer with headers all the same
        self.send_response(response.status)
        csp = _PAGE_CSP.format(response.nonce) if response.nonce else _JSON_CSP
        for name, value in (("Content-Type", response.content_type),
                            ("Content-Length", str(len(response.body))),
                            ("Content-Security-Policy", csp),
                            ("X-Content-Type-Options", "nosniff"),
                            ("Referrer-Policy", "no-referrer"),
                            ("Cache-Control", "no-store"),
                            ("X-Frame-Options", "DENY"),
                            ("Connection", "close"), *response.headers):
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """Malformed requests (bad request line, too long, too many headers): JSON too."""
        text = message or HTTPStatus(code).phrase
        self._send(json_response(code, {"error": text.lower()}))

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except OSError:  # cut at its deadline, or the client went away
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("http: %s %s", self.address_string(), format % args)
