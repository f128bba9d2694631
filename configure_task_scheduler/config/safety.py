"""Config file safety: refuse a config that other users can change, as cron does.

The CLI asks this module before it loads a config; it only looks at owners and
modes, and never reads, changes or loads the file. Anyone who can edit the
config can run commands as the scheduler's user, so a config is refused when:

- the file is writable by others (o+w);
- the file is group-writable (g+w), unless the group is the owner's private
  group: named like the owner and with no other member (Debian/Ubuntu "user
  private groups", where umask 002 makes every new file group-writable);
- the file is owned by a user who is neither the one running the scheduler nor root;
- the directory holding it is writable by others without the sticky bit
  (anyone could replace the file).

Symlinks are followed (their target is what gets read), and both the link's
directory and the target's are checked. A path that cannot be examined at
all, or that is not a regular file (/dev/null, a FIFO), is left to the
loader, which refuses it: advice to chmod a device would break the system.
"""

from __future__ import annotations

import grp
import os
import pwd
import shlex
import stat

__all__ = ["insecure_config_reason"]

_WAY_OUT = "or pass --allow-insecure-config for a throwaway setup"


def insecure_config_reason(path: str) -> str | None:
    """Say why other users could change the config at `path`, if they could.

    Args:
        path: the config file, as the user gave it (it names the file in the message).

    Returns:
        None if the config is safe to load (or cannot be examined, or is not a
        regular file: the loader reports those), else one line naming the file, its owner and mode, and
        the chmod or chown that fixes it.
    """
    link_directory = os.path.dirname(path) or "."
    target_directory = os.path.dirname(os.path.realpath(path))
    try:
        file_status = os.stat(path)
        link_status = os.stat(link_directory)
        target_status = os.stat(target_directory)
    except OSError:
        return None
    if not stat.S_ISREG(file_status.st_mode):
        return None
    reason = _file_reason(path, file_status)
    if reason is None:
        reason = _directory_reason(path, link_directory, link_status)
    if reason is None and not os.path.samestat(link_status, target_status):
        reason = _directory_reason(path, target_directory, target_status)
    return reason


def _file_reason(path: str, status: os.stat_result) -> str | None:
    me, quoted = os.geteuid(), shlex.quote(path)
    problems: list[str] = []
    fixes: list[str] = []
    if status.st_uid not in (me, 0):
        problems.append("owned by neither you nor root")
        fixes.append(f"chown {shlex.quote(_shown_user(me))} {quoted}")
    writable = _mode_problems(status)
    if writable:
        problems += writable
        fixes.append(f"chmod g-w,o-w {quoted}")
    if not problems:
        return None
    commands = " and ".join(f'"{fix}"' for fix in fixes)
    return (f"{path}: refusing a config that other users can change "
            f"({_owner_and_mode(status)}, {', '.join(problems)}); "
            f"anyone who can edit it can run commands as you: run {commands}, {_WAY_OUT}")


def _mode_problems(status: os.stat_result) -> list[str]:
    """Name the write permissions that let other users edit the file."""
    writable: list[str] = []
    if status.st_mode & stat.S_IWGRP and not _is_private_group(status.st_gid, status.st_uid):
        writable.append("group-writable")
    if status.st_mode & stat.S_IWOTH:
        writable.append("writable by others")
    return writable


def _directory_reason(path: str, directory: str, status: os.stat_result) -> str | None:
    # The sticky bit (as on /tmp) lets only a file's owner rename or delete it.
    if not status.st_mode & stat.S_IWOTH or status.st_mode & stat.S_ISVTX:
        return None
    return (f"{path}: refusing a config in a directory that other users can change "
            f"({directory}: {_owner_and_mode(status)}, writable by others, no sticky bit); "
            f"anyone who can replace the file can run commands as you: "
            f'run "chmod o-w {shlex.quote(directory)}", {_WAY_OUT}')


def _owner_and_mode(status: os.stat_result) -> str:
    return f"owner {_shown_user(status.st_uid)}, mode {stat.S_IMODE(status.st_mode):04o}"


def _shown_user(uid: int) -> str:
    name = user_name(uid)
    return name if name is not None else str(uid)


def _is_private_group(gid: int, owner_uid: int) -> bool:
    owner = user_name(owner_uid)
    group = group_members(gid)
    if owner is None or group is None:  # unknown ids are nobody's private group
        return False
    group_name, members = group
    return group_name == owner and members <= {owner}


# The seam to the OS user database: tests replace these two functions.

def user_name(uid: int) -> str | None:
    """Return the login name of `uid`, or None if it has no passwd entry."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def group_members(gid: int) -> tuple[str, frozenset[str]] | None:
    """Return the name of group `gid` and every user in it, or None if it is unknown.

    Its users are its listed members and the users whose primary group it is.
    """
    try:
        group = grp.getgrgid(gid)
    except KeyError:
        return None
    primary = {user.pw_name for user in pwd.getpwall() if user.pw_gid == gid}
    return group.gr_name, frozenset(group.gr_mem) | primary
