"""Tests for config file safety: which files and directories let other users in.

Real files in `tmp_path` get real modes; as root the tests also give them
real other owners (uid/gid 1 is "daemon"). Whether a group is the owner's
private one comes from the OS user database, so most mode tests replace the
module's two lookups (`user_name`, `group_members`) with a small simulated
database in which the running user is "alice".
"""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path

import pytest

from configure_task_scheduler.config import safety
from configure_task_scheduler.config.safety import insecure_config_reason

CONFIG = "config/tasks.json"
WAY_OUT = "or pass --allow-insecure-config for a throwaway setup"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files other owners")


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An owner-only config at config/tasks.json, relative to the current directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    os.chmod(tmp_path / "config", 0o755)
    path = tmp_path / CONFIG
    path.write_text('{"tasks": []}')
    os.chmod(path, 0o644)
    return path


def simulate_user_database(monkeypatch: pytest.MonkeyPatch, group_name: str,
                           members: set[str]) -> None:
    """Make the running user "alice", and every group `group_name` with these members."""
    monkeypatch.setattr(safety, "user_name",
                        lambda uid: "alice" if uid == os.geteuid() else None)
    monkeypatch.setattr(safety, "group_members",
                        lambda gid: (group_name, frozenset(members)))


def file_refusal(details: str, commands: str, path: str = CONFIG) -> str:
    return (f"{path}: refusing a config that other users can change ({details}); "
            f"anyone who can edit it can run commands as you: run {commands}, {WAY_OUT}")


def unused_id() -> int:
    """An id with neither a passwd nor a group entry."""
    taken = {user.pw_uid for user in pwd.getpwall()} | {group.gr_gid for group in grp.getgrall()}
    return next(number for number in range(54321, 60000) if number not in taken)


@pytest.mark.parametrize(("mode", "group_name", "members", "problems"), [
    (0o644, "staff", {"alice", "bob"}, None),
    (0o600, "staff", {"alice", "bob"}, None),
    (0o664, "alice", {"alice"}, None),
    (0o664, "alice", set(), None),
    (0o664, "staff", {"alice", "bob"}, "group-writable"),
    (0o664, "alice", {"alice", "bob"}, "group-writable"),
    (0o664, "bob", {"bob"}, "group-writable"),
    (0o646, "staff", {"alice", "bob"}, "writable by others"),
    (0o666, "alice", {"alice"}, "writable by others"),
    (0o666, "staff", {"alice", "bob"}, "group-writable, writable by others"),
], ids=[
    "0644 is safe",
    "0600 is safe",
    "0664 with the owner's private group is safe",
    "0664 with a private group listing no members is safe",
    "0664 with a shared group is refused",
    "0664 with a group named like the owner but with another member is refused",
    "0664 with another user's private group is refused",
    "0646 is refused",
    "0666 is refused even with the owner's private group",
    "0666 with a shared group is refused for both",
])
def test_file_mode_is_refused_when_someone_else_can_write(
        config_file: Path, monkeypatch: pytest.MonkeyPatch, mode: int, group_name: str,
        members: set[str], problems: str | None) -> None:
    simulate_user_database(monkeypatch, group_name, members)
    os.chmod(config_file, mode)
    expected = None if problems is None else file_refusal(
        f"owner alice, mode {mode:04o}, {problems}", f'"chmod g-w,o-w {CONFIG}"')
    assert insecure_config_reason(CONFIG) == expected


@as_root
def test_group_writable_config_with_a_shared_group_is_refused(config_file: Path) -> None:
    os.chown(config_file, 0, 1)
    os.chmod(config_file, 0o664)
    assert insecure_config_reason(CONFIG) == (
        "config/tasks.json: refusing a config that other users can change (owner root, "
        "mode 0664, group-writable); anyone who can edit it can run commands as you: "
        'run "chmod g-w,o-w config/tasks.json", or pass --allow-insecure-config for a '
        "throwaway setup")


@as_root
def test_world_writable_config_is_refused(config_file: Path) -> None:
    os.chown(config_file, 0, 1)
    os.chmod(config_file, 0o666)
    assert insecure_config_reason(CONFIG) == file_refusal(
        "owner root, mode 0666, group-writable, writable by others",
        '"chmod g-w,o-w config/tasks.json"')


@as_root
def test_config_owned_by_another_user_is_refused(config_file: Path) -> None:
    os.chown(config_file, 1, 1)
    assert insecure_config_reason(CONFIG) == (
        "config/tasks.json: refusing a config that other users can change (owner daemon, "
        "mode 0644, owned by neither you nor root); anyone who can edit it can run commands "
        'as you: run "chown root config/tasks.json", or pass --allow-insecure-config for a '
        "throwaway setup")


@as_root
def test_config_owned_by_another_user_and_writable_by_others_names_both_fixes(
        config_file: Path) -> None:
    os.chown(config_file, 1, 1)
    os.chmod(config_file, 0o646)
    assert insecure_config_reason(CONFIG) == file_refusal(
        "owner daemon, mode 0646, owned by neither you nor root, writable by others",
        '"chown root config/tasks.json" and "chmod g-w,o-w config/tasks.json"')


@as_root
def test_owner_and_group_without_a_user_database_entry_are_shown_as_numbers(
        config_file: Path) -> None:
    number = unused_id()
    os.chown(config_file, number, number)
    os.chmod(config_file, 0o664)
    assert insecure_config_reason(CONFIG) == file_refusal(
        f"owner {number}, mode 0664, owned by neither you nor root, group-writable",
        '"chown root config/tasks.json" and "chmod g-w,o-w config/tasks.json"')


@as_root
def test_config_owned_by_root_is_accepted_when_running_as_root(config_file: Path) -> None:
    os.chown(config_file, 0, 0)
    assert insecure_config_reason(CONFIG) is None


def test_paths_in_the_fix_are_quoted_for_the_shell(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    simulate_user_database(monkeypatch, "alice", {"alice"})
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my config").mkdir(mode=0o755)
    (tmp_path / "my config" / "tasks.json").write_text("[]")
    os.chmod(tmp_path / "my config" / "tasks.json", 0o666)
    assert insecure_config_reason("my config/tasks.json") == file_refusal(
        "owner alice, mode 0666, writable by others",
        "\"chmod g-w,o-w 'my config/tasks.json'\"", path="my config/tasks.json")


def test_directory_writable_by_others_without_sticky_bit_is_refused(
        config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    simulate_user_database(monkeypatch, "alice", {"alice"})
    os.chmod(config_file.parent, 0o777)
    assert insecure_config_reason(CONFIG) == (
        "config/tasks.json: refusing a config in a directory that other users can change "
        "(config: owner alice, mode 0777, writable by others, no sticky bit); anyone who can "
        'replace the file can run commands as you: run "chmod o-w config", or pass '
        "--allow-insecure-config for a throwaway setup")


def test_bare_file_name_is_checked_against_the_current_directory(
        config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    simulate_user_database(monkeypatch, "alice", {"alice"})
    monkeypatch.chdir(config_file.parent)
    os.chmod(config_file.parent, 0o777)
    assert insecure_config_reason("tasks.json") == (
        "tasks.json: refusing a config in a directory that other users can change "
        "(.: owner alice, mode 0777, writable by others, no sticky bit); anyone who can "
        'replace the file can run commands as you: run "chmod o-w .", or pass '
        "--allow-insecure-config for a throwaway setup")


def test_sticky_directory_writable_by_others_is_accepted_like_tmp(config_file: Path) -> None:
    os.chmod(config_file.parent, 0o1777)
    assert insecure_config_reason(CONFIG) is None


@pytest.fixture
def shared_file(tmp_path: Path) -> Path:
    """An owner-only file in shared/, which config/tasks.json will link to."""
    (tmp_path / "shared").mkdir()
    os.chmod(tmp_path / "shared", 0o755)
    target = tmp_path / "shared" / "tasks.json"
    target.write_text('{"tasks": []}')
    os.chmod(target, 0o644)
    return target


def test_symlink_to_a_safe_file_is_accepted(config_file: Path, shared_file: Path) -> None:
    config_file.unlink()
    config_file.symlink_to("../shared/tasks.json")
    assert insecure_config_reason(CONFIG) is None


def test_symlink_to_a_file_others_can_write_is_refused_under_the_link_name(
        config_file: Path, shared_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    simulate_user_database(monkeypatch, "alice", {"alice"})
    config_file.unlink()
    config_file.symlink_to("../shared/tasks.json")
    os.chmod(shared_file, 0o646)
    assert insecure_config_reason(CONFIG) == file_refusal(
        "owner alice, mode 0646, writable by others", '"chmod g-w,o-w config/tasks.json"')


def test_symlink_into_a_directory_others_can_write_is_refused_naming_that_directory(
        config_file: Path, shared_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    simulate_user_database(monkeypatch, "alice", {"alice"})
    config_file.unlink()
    config_file.symlink_to("../shared/tasks.json")
    os.chmod(shared_file.parent, 0o777)
    shared = os.path.realpath(shared_file.parent)
    assert insecure_config_reason(CONFIG) == (
        "config/tasks.json: refusing a config in a directory that other users can change "
        f"({shared}: owner alice, mode 0777, writable by others, no sticky bit); anyone who "
        f'can replace the file can run commands as you: run "chmod o-w {shared}", or pass '
        "--allow-insecure-config for a throwaway setup")


def test_missing_config_is_left_to_the_loader(tmp_path: Path) -> None:
    assert insecure_config_reason(str(tmp_path / "missing.json")) is None
