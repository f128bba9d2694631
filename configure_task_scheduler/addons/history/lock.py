"""One scheduler at a time: an OS file lock beside the state database or the config.

`fcntl.flock` is released by the kernel when its holder dies, however it
dies, so a scheduler killed with SIGKILL never leaves a stale lock: the file
may stay, the lock does not. The holder writes its PID into the file for the
message a second instance prints and for `--status`. The lock file sits
beside the state database (`state.db.lock`), else beside the config
(`.tasks.json.lock`), else, when that directory is not writable, in the
user's runtime directory. Never deletes the file (deleting it would let a
second instance lock a new file while the first still holds the old one).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path


class LockError(Exception):
    """Another scheduler holds the lock; the message is one line of help."""


def lock_path_for(state_path: str | None, config_path: str | None) -> Path:
    """Return where the lock file of this state database (or config) lives."""
    if state_path is not None:
        return Path(state_path).with_name(Path(state_path).name + ".lock")
    config = Path(config_path or "scheduler")
    beside = config.with_name(f".{config.name}.lock")
    if os.access(beside.parent if str(beside.parent) else ".", os.W_OK):
        return beside
    runtime = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    digest = hashlib.sha256(str(config.resolve()).encode()).hexdigest()[:16]
    return Path(runtime) / f"configure_task_scheduler-{os.getuid()}-{digest}.lock"


class InstanceLock:
    """The exclusive lock of one state database or config, held while a scheduler runs.

    Args:
        path: the lock file (see `lock_path_for`).
        what: what the lock guards, for the message ("config/tasks.json").
    """

    def __init__(self, path: Path, what: str) -> None:
        self.path, self.what = path, what
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock at once or raise.

        Raises:
            LockError: another process holds it (the message names its PID).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise LockError(f"another scheduler (PID {pid or 'unknown'}) is already running "
                            f"with {self.what}; stop it first, or use another "
                            "state_path") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let go of the lock (the file stays, emptied)."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing releases the flock
            self._fd = None


def holder_pid(path: Path) -> int | None:
    """Return the PID of the scheduler holding the lock at `path`, or None if nobody does.

    Takes a shared lock for an instant to tell; never creates the file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(fd) or 0
    finally:
        os.close(fd)
    return None


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None
