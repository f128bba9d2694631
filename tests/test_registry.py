"""The registry: a thread-safe, ordered map of task_id -> Task."""

from __future__ import annotations

import threading

from conftest import shell_task

from configure_task_scheduler.registry import Registry


def test_put_replaces_a_task_in_place_and_returns_the_old_one() -> None:
    first, second, replacement = shell_task("a", 1), shell_task("b", 1), shell_task("a", 5)
    registry = Registry([first, second])

    previous = registry.put(replacement)

    assert previous is first
    assert registry.tasks() == [replacement, second]


def test_remove_returns_the_task_or_none() -> None:
    registry = Registry([shell_task("a", 1)])

    assert registry.remove("a") is not None
    assert registry.remove("a") is None
    assert (len(registry), "a" in registry, registry.ids()) == (0, False, [])


def test_concurrent_puts_and_removes_never_corrupt_the_map() -> None:
    registry = Registry()

    def churn(worker: int) -> None:
        for n in range(500):
            registry.put(shell_task(f"{worker}-{n % 7}", 1))
            registry.remove(f"{worker}-{(n + 3) % 7}")
            registry.tasks()

    threads = [threading.Thread(target=churn, args=(w,), name=f"churn-{w}") for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert registry.ids() == [task.task_id for task in registry.tasks()]
    assert len(registry.ids()) == len(set(registry.ids())) <= 28
