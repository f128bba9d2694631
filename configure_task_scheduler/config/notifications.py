"""Checks across tasks: the notifications a task names (`on_failure`, `on_success`).

A task's `on_failure` and `on_success` name another task, started when one
of its runs ends. The named task must exist, be another task, be enabled
and not lead back to the first one through its own notifications (a cycle
would start runs for ever). The loader checks a whole file with
`notification_problems`, `Scheduler.add` one new task against the
scheduler's tasks. Pure: it reads `Task` records and returns problems.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Collection, Mapping, Sequence

from ..errors import Problem
from ..task import Task
from .checks import closest_key, task_place

NOTIFICATION_FIELDS = ("on_failure", "on_success")


def notified_ids(task: Task) -> list[str]:
    """The ids the task's notification fields name, in field order."""
    return [task_id for task_id in (task.on_failure, task.on_success) if task_id is not None]


def notification_problems(tasks: Sequence[Task], file: str = "",
                          positions: Mapping[str, int] | None = None,
                          skipped_ids: Collection[str] = (),
                          checked_ids: Collection[str] | None = None) -> dict[str, list[Problem]]:
    """Check the notification fields of `tasks` against each other.

    Args:
        tasks: every valid task (of a file, or of a running scheduler).
        file: the file name used in problems ("" for the library API).
        positions: each task's 1-based position in the file (absent: the API's 0).
        skipped_ids: ids of tasks left out for their own problems.
        checked_ids: check only these tasks (None: every one).

    Returns:
        The problems by task id, in the order of `tasks`; an empty dict if none.
    """
    by_id = {task.task_id: task for task in tasks}
    on_cycle = _tasks_on_cycles(by_id)
    problems: dict[str, list[Problem]] = {}
    for task in tasks:
        if checked_ids is not None and task.task_id not in checked_ids:
            continue
        where = task_place((positions or {}).get(task.task_id, 0), task.task_id)
        for field in NOTIFICATION_FIELDS:
            message = _reference_problem(task, getattr(task, field), by_id, skipped_ids,
                                         on_cycle)
            if message:
                problems.setdefault(task.task_id, []).append(
                    Problem(file, where, field, message))
    return problems


def _reference_problem(task: Task, target_id: str | None, by_id: Mapping[str, Task],
                       skipped_ids: Collection[str], on_cycle: Collection[str]) -> str:
    """What is wrong with one notification field of `task`, or ""."""
    if target_id is None:
        return ""
    found = json.dumps(target_id)
    if target_id == task.task_id:
        return f"expected the id of another task, found {found} (the task itself)"
    target = by_id.get(target_id)
    if target is None and target_id in skipped_ids:
        return (f"expected the id of a valid task, found {found} (that task is skipped "
                "for its own problem)")
    if target is None:
        close = closest_key(target_id, list(by_id))
        hint = f'; did you mean "{close}"?' if close else ""
        return f"expected the id of another task, found {found} (no task has that id){hint}"
    if not target.enabled:
        return (f"expected the id of an enabled task, found {found} "
                '(that task has "enabled": false)')
    if task.task_id in on_cycle:
        cycle = _cycle_from(task.task_id, target_id, by_id)
        if cycle:
            return (f"expected a task that does not lead back to this one, found {found} "
                    f"(a cycle: {' -> '.join(cycle)})")
    return ""


def _tasks_on_cycles(by_id: Mapping[str, Task]) -> set[str]:
    """The ids of the tasks whose notifications can lead back to themselves.

    Tasks that notify nothing are peeled off, then those that notify only
    peeled tasks, and so on; what is left lies on a cycle or leads into one.
    """
    edges = {task_id: [target for target in notified_ids(task) if target in by_id]
             for task_id, task in by_id.items() if notified_ids(task)}
    notified_by: dict[str, list[str]] = {}
    for source, targets in edges.items():
        for target in targets:
            notified_by.setdefault(target, []).append(source)
    left = {task_id: len(targets) for task_id, targets in edges.items()}
    sinks = deque(task_id for task_id, count in left.items() if count == 0)
    sinks.extend(task_id for task_id in notified_by if task_id not in left)
    while sinks:
        for source in notified_by.get(sinks.popleft(), ()):
            left[source] -= 1
            if left[source] == 0:
                sinks.append(source)
    return {task_id for task_id, count in left.items()
            if count > 0 and _cycle_from(task_id, None, by_id)}


def _cycle_from(start_id: str, first_id: str | None, by_id: Mapping[str, Task]) -> list[str]:
    """The shortest chain of notifications start -> ... -> start (through `first_id`
    if given), as a list of ids; [] if there is none."""
    firsts = [first_id] if first_id is not None else notified_ids(by_id[start_id])
    came_from: dict[str, str] = {first: start_id for first in firsts if first in by_id}
    queue = deque(came_from)
    while queue:
        current = queue.popleft()
        if current == start_id:
            return _path_back(start_id, came_from)
        for target in notified_ids(by_id[current]):
            if target in by_id and target not in came_from:
                came_from[target] = current
                queue.append(target)
    return []


def _path_back(start_id: str, came_from: Mapping[str, str]) -> list[str]:
    path = [start_id]
    current = came_from[start_id]
    while current != start_id:
        path.append(current)
        current = came_from[current]
    return [start_id, *reversed(path[1:]), start_id]
