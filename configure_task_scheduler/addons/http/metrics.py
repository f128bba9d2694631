"""Prometheus metrics for the HTTP add-on: histograms from run events, text format 0.0.4.

`RunMetrics` is a run listener that accumulates what snapshots cannot tell:
the duration histogram per task, the lateness histogram, and when each task
last ended a run in each status. `render_metrics` writes those together with
the snapshot's counts and next runs in the text exposition format: `# HELP`
and `# TYPE` before each family, label values escaped (backslash, double
quote, newline), histograms as cumulative `_bucket{le=...}` plus `_sum` and
`_count`. Never reads a clock; never holds its lock while rendering text.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ...task import EventKind, RunEvent, RunStatus, TaskSnapshot, TaskState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Bucket bounds in seconds: from a quick `true` to an hour-long backup.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
                    900, 3600)
# Lateness of a first attempt's start: a healthy scheduler stays in the first few.
LATENESS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60)
NOT_RUN = frozenset({RunStatus.SKIPPED, RunStatus.MISSED})


@dataclass(slots=True)
class Histogram:
    """Counts of observations per bucket (not cumulative), with their sum."""

    bounds: Sequence[float]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def observe(self, value: float) -> None:
        """Count `value` in the first bucket whose bound holds it (the last: +Inf)."""
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)
        index = next((i for i, bound in enumerate(self.bounds) if value <= bound),
                     len(self.bounds))
        self.counts[index] += 1
        self.total += value

    def copy(self) -> Histogram:
        """Return an independent copy (for a scrape while runs go on)."""
        return Histogram(self.bounds, list(self.counts), self.total)


class RunMetrics:
    """A run listener that keeps the histograms and last-run times of every task."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._durations: dict[str, Histogram] = {}
        self._lateness = Histogram(LATENESS_BUCKETS)
        self._last_ended: dict[tuple[str, str], float] = {}

    def __call__(self, event: RunEvent) -> None:
        result = event.result
        if result is None or event.kind is EventKind.RUN_STARTED:
            return
        with self._lock:
            self._last_ended[(result.task_id, result.status.value)] = \
                result.ended_at.timestamp()
            if result.status in NOT_RUN:
                return
            histogram = self._durations.get(result.task_id)
            if histogram is None:
                histogram = self._durations[result.task_id] = Histogram(DURATION_BUCKETS)
            histogram.observe(result.duration_seconds)
            if result.attempt == 1:  # a retry starts late on purpose
                late = (result.started_at - result.planned_at).total_seconds()
                self._lateness.observe(max(late, 0.0))

    def copy(self) -> tuple[dict[str, Histogram], Histogram, dict[tuple[str, str], float]]:
        """Return a consistent copy: (durations per task, lateness, last end per task/status)."""
        with self._lock:
            return ({task_id: h.copy() for task_id, h in self._durations.items()},
                    self._lateness.copy(), dict(self._last_ended))


def render_metrics(snapshots: Sequence[TaskSnapshot], metrics: RunMetrics,
                   dropped_total: int) -> str:
    """Return every metric in the text exposition format (ending with a newline)."""
    durations, lateness, last_ended = metrics.copy()
    lines: list[str] = []
    family(lines, "cts_runs_total", "counter", "Runs that ended, by task and final status.",
           [((("task_id", s.task_id), ("status", status.value)), count)
            for s in snapshots for status, count in sorted(s.counts.items()) if count])
    lines += histogram_families(durations, lateness)
    family(lines, "cts_last_run_timestamp_seconds", "gauge",
           "When a task last ended a run in each status (Unix time).",
           [((("task_id", task_id), ("status", status)), when)
            for (task_id, status), when in sorted(last_ended.items())])
    family(lines, "cts_next_run_timestamp_seconds", "gauge",
           "When each task's next run is planned (Unix time).",
           [((("task_id", s.task_id),), s.next_run_at.timestamp())
            for s in snapshots if s.next_run_at is not None])
    states = {state: 0 for state in TaskState}
    for snapshot in snapshots:
        states[snapshot.state] += 1
    family(lines, "cts_tasks", "gauge", "Tasks by state.",
           [((("state", state.value),), count) for state, count in states.items()])
    family(lines, "cts_runs_in_flight", "gauge", "Runs executing now.",
           [((), sum(s.running for s in snapshots))])
    family(lines, "cts_history_dropped_total", "counter",
           "Run records the history dropped because its queue was full.",
           [((), dropped_total)])
    return "\n".join(lines) + "\n"


Labels = Sequence[tuple[str, str]]


def histogram_families(durations: dict[str, Histogram], lateness: Histogram) -> list[str]:
    """The duration histogram of every task, then the lateness histogram."""
    lines = ["# HELP cts_run_duration_seconds How long runs took, by task.",
             "# TYPE cts_run_duration_seconds histogram"]
    for task_id, histogram in sorted(durations.items()):
        lines += histogram_lines("cts_run_duration_seconds", (("task_id", task_id),),
                                 histogram)
    lines += ["# HELP cts_run_lateness_seconds How late first attempts started.",
              "# TYPE cts_run_lateness_seconds histogram"]
    return lines + histogram_lines("cts_run_lateness_seconds", (), lateness)


def family(lines: list[str], name: str, kind: str, help_text: str,
           samples: Iterable[tuple[Labels, float]]) -> None:
    """Append a metric family: its HELP and TYPE lines, then one line per sample."""
    lines.append(f"# HELP {name} {escape_help(help_text)}")
    lines.append(f"# TYPE {name} {kind}")
    lines.extend(f"{name}{label_text(labels)} {number(value)}" for labels, value in samples)


def histogram_lines(name: str, labels: Labels, histogram: Histogram) -> list[str]:
    """Return the cumulative `_bucket` lines, then `_sum` and `_count`."""
    counts = histogram.counts or [0] * (len(histogram.bounds) + 1)
    lines, running = [], 0
    for bound, count in zip([*histogram.bounds, math.inf], counts):
        running += count
        lines.append(f"{name}_bucket{label_text([*labels, ('le', number(bound))])} {running}")
    lines.append(f"{name}_sum{label_text(labels)} {number(histogram.total)}")
    lines.append(f"{name}_count{label_text(labels)} {running}")
    return lines


def label_text(labels: Labels) -> str:
    """Return `{a="x",b="y"}` (empty for no labels), values escaped."""
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{escape_label(value)}"' for key, value in labels) + "}"


def escape_label(value: str) -> str:
    """Escape a label value: backslash, double quote and newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    """Escape a HELP text: backslash and newline."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def number(value: float) -> str:
    """Format a sample value: integers without a point, +Inf/-Inf/NaN as the format spells them."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))
