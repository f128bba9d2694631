"""The status page in a real browser: headless Chromium renders it from the JSON API.

The page's script runs under its own CSP nonce; if the policy blocked it,
the tables would stay empty. Task names and errors that look like HTML must
come out as text. Skipped where Chromium is not installed
(`apt-get install chromium`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_until
from http_client import get_json, served

from configure_task_scheduler import Scheduler

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                "(apt-get install -y chromium)")
EVIL = "</script><script>alert(2)</script>"


def explode() -> None:
    raise ValueError(EVIL)


def chromium(tmp_path: Path, *arguments: str) -> str:
    """Run headless Chromium with the flags of the README; return its stdout."""
    assert CHROMIUM is not None
    profile = tmp_path / "profile"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=True)
    return done.stdout


@pytest.fixture
def url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.delenv("CTS_HTTP_TOKEN", raising=False)
    scheduler = Scheduler(http="0")
    scheduler.every(3600, "echo '</script>'", task_id="echo",
                    task_name="<script>alert(1)</script>")
    scheduler.every(3600, explode, task_id="explode")
    with served(scheduler) as address:
        for task_id in ("echo", "explode"):
            scheduler.run_now(task_id)
        wait_until(lambda: len(get_json(address, "/api/runs")["runs"]) == 2)
        yield address


def test_the_page_shows_tasks_and_runs_with_html_in_data_as_text(
        url: str, tmp_path: Path) -> None:
    dom = chromium(tmp_path, "--virtual-time-budget=4000", "--dump-dom", url)

    tasks = re.search(r'<tbody id="tasks">(.*?)</tbody>', dom, re.S)
    runs = re.search(r'<tbody id="runs">(.*?)</tbody>', dom, re.S)
    assert tasks is not None and runs is not None
    assert "<td>echo</td>" in tasks[1] and "<td>explode</td>" in tasks[1]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in tasks[1]
    assert f"ValueError: {EVIL}".replace("<", "&lt;").replace(">", "&gt;") in runs[1]
    assert len(re.findall(r"<script\b", dom)) == 1  # the page's own, nothing injected
    assert 'title="succeeded"' in tasks[1] and 'title="failed"' in tasks[1]


def test_a_runs_output_opens_by_its_address_and_shows_html_as_text(
        url: str, tmp_path: Path) -> None:
    dom = chromium(tmp_path, "--virtual-time-budget=4000", "--dump-dom", url + "#run=echo.1.1")

    details = re.search(r'<section id="details">(.*?)</section>', dom, re.S)
    assert details is not None
    assert "<pre>&lt;/script&gt;\n</pre>" in details[1]
    assert "<h2>Run 1 of echo (attempt 1)</h2>" in details[1]
    assert len(re.findall(r"<script\b", dom)) == 1
