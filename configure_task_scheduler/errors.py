"""Error types shared by every stage of the pipeline.

A config problem is a value (`Problem`), not an exception: the loader collects
all of them so a user fixes a file in one pass. `ConfigError` carries a list of
problems across an API boundary; `ScheduleError` is raised by the schedule
parsers (interval, cron, one-shot) and turned into a `Problem` by the loader.
This module imports nothing from the package.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a config, rendered as one line of help.

    Attributes:
        file: the config file's path as the user gave it ("" for API input).
        where: the place in the file: 'task #3 "backup"', "scheduler", "defaults".
        field: the field at fault, or "" when the problem concerns the whole place.
        message: what was expected and what was found.
    """

    file: str
    where: str
    field: str
    message: str

    def __str__(self) -> str:
        parts = [part for part in (self.file, self.where, self.field) if part]
        return ": ".join(parts + [self.message])


class ConfigError(Exception):
    """A config (file or API arguments) has problems that stop it being used.

    Attributes:
        problems: every problem found, in file order.
    """

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class ScheduleError(ValueError):
    """A schedule expression is invalid; the message names the part at fault.

    Example: 'cron "0 25 * * *": hour: 25 is out of range 0-23'.
    """
