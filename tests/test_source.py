"""Reading the config file: only a regular file, of bounded size, as UTF-8 text.

Devices, FIFOs and sockets are refused before they are opened (a FIFO blocks
`open()`, /dev/zero never ends), in one line and with no advice to chmod
them; the FIFO and /dev/zero cases run the real CLI with a deadline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from configure_task_scheduler.config import insecure_config_reason, load_config, source
from configure_task_scheduler.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEADLINE_SECONDS = 20.0  # only reached when something is broken


def run_cli(*args: str | Path) -> tuple[int, str, str]:
    completed = subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=REPO_ROOT,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=DEADLINE_SECONDS)
    return completed.returncode, completed.stdout, completed.stderr


def load_error(path: str | Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_dev_null_as_config_is_refused_as_a_device_without_chmod_advice() -> None:
    # --check reports on stdout (see test_cli_config); a start reports on stderr.
    assert run_cli("--config", "/dev/null", "--check") == (
        2, "/dev/null: is a character device, expected a config file\n", "")
    assert run_cli("--config", "/dev/null", "--duration", "5") == (
        2, "", "/dev/null: is a character device, expected a config file\n")


def test_fifo_as_config_is_refused_at_once_instead_of_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "tasks.json"
    os.mkfifo(fifo, 0o666)

    assert run_cli("--config", fifo, "--duration", "5") == (
        2, "", f"{fifo}: is a named pipe (FIFO), expected a config file\n")


def test_dev_zero_as_config_is_refused_before_reading_even_when_insecure_is_allowed() -> None:
    assert run_cli("--config", "/dev/zero", "--allow-insecure-config", "--duration", "5") == (
        2, "", "/dev/zero: is a character device, expected a config file\n")


def test_a_directory_as_config_is_refused(tmp_path: Path) -> None:
    assert load_error(tmp_path) == f"{tmp_path}: is a directory, expected a config file"


def test_a_file_replaced_by_a_fifo_after_the_check_is_refused_without_blocking(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    regular = tmp_path / "regular.json"
    regular.write_text('{"tasks": []}')
    fifo = tmp_path / "tasks.json"
    os.mkfifo(fifo)
    real_stat = os.stat
    # The race: the path was a regular file when it was examined, a FIFO when opened.
    monkeypatch.setattr(os, "stat", lambda path, **kw: real_stat(
        regular if str(path) == str(fifo) else path, **kw))
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.append(load_error(fifo)))
    reader.start()
    reader.join(DEADLINE_SECONDS)

    assert errors == [f"{fifo}: is a named pipe (FIFO), expected a config file"]


def test_a_file_over_64_mib_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    with path.open("wb") as file:
        file.truncate(source.MAX_CONFIG_BYTES + 1)  # sparse: no disk space used

    assert source.MAX_CONFIG_BYTES == 64 * 2**20
    assert load_error(path) == f"{path}: larger than 64 MiB, the most a config file may hold"


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    entry = {"task_id": "a", "task_type": "shell", "entry_point": "true", "interval_seconds": 5}
    path.write_bytes(source.UTF8_BOM + json.dumps({"tasks": [entry]}).encode())

    assert [task.task_id for task in load_config(path).tasks] == ["a"]


def test_bad_utf8_after_a_byte_order_mark_names_its_byte_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    path.write_bytes(source.UTF8_BOM + b'{"tasks": ["caf\xe9"]}')

    assert load_error(path) == f"{path}: not UTF-8 text (byte 18)"


@pytest.mark.parametrize("make", ["fifo", "device"])
def test_safety_check_gives_no_advice_about_what_is_not_a_regular_file(
        tmp_path: Path, make: str) -> None:
    path = "/dev/null"
    if make == "fifo":
        path = str(tmp_path / "tasks.json")
        os.mkfifo(path)
        os.chmod(path, 0o666)

    assert insecure_config_reason(path) is None
