"""A tiny HTTP client for the HTTP add-on's tests: real sockets on 127.0.0.1.

`request` sends one request and returns the whole reply (status, lower-case
headers, body); `served` runs a `Scheduler` with its HTTP server on a free
port for the length of a `with` block and always stops it.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from configure_task_scheduler import Scheduler

TIMEOUT_SECONDS = 10.0


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        assert self.headers["content-type"] == "application/json", self.headers
        return json.loads(self.body)


def request(url: str, method: str = "GET", path: str = "/",
            headers: dict[str, str] | None = None, body: bytes | None = None) -> Reply:
    """Send one request to the server at `url`; return its reply."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port,
                                            timeout=TIMEOUT_SECONDS)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                     response.read())
    finally:
        connection.close()


def get_json(url: str, path: str) -> Any:
    reply = request(url, path=path)
    assert reply.status == 200, reply
    return reply.json()


@contextmanager
def served(scheduler: Scheduler) -> Iterator[str]:
    """Start `scheduler` (its `http` set) and yield its URL; stop it afterwards."""
    scheduler.start()
    try:
        yield scheduler.http_url
    finally:
        scheduler.stop()
