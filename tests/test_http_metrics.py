"""/metrics in the Prometheus text format 0.0.4, checked by a parser of the format's grammar.

The parser reads every line the way a scraper does: `# HELP` and `# TYPE`
once per family and before its samples, metric and label names by their
character classes, label values with their three escapes, values as floats
(or +Inf, -Inf, NaN), histograms with cumulative buckets ending at
`le="+Inf"` equal to `_count`. A test fails on any line it cannot read.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pytest
from conftest import wait_until
from http_client import get_json, request, served

from configure_task_scheduler import Scheduler
from configure_task_scheduler.addons.http.metrics import (
    Histogram,
    escape_help,
    histogram_lines,
    label_text,
)

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count", "")}


@dataclass
class Family:
    kind: str = ""
    help: str | None = None
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


def parse_exposition(text: str) -> dict[str, Family]:
    """Parse the whole text; raise AssertionError naming the first line that breaks the format."""
    assert text.endswith("\n"), "the last line must end with a line feed"
    families: dict[str, Family] = {}
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    current = ""
    for number, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {number}: {line!r}"
        if not line:
            continue
        if line.startswith("#"):
            current = parse_comment(line, families, where) or current
            continue
        name, labels, value = parse_sample(line, where)
        family = family_of(name, families)
        assert family == current, f"{where}: sample outside its family's block"
        key = (name, tuple(sorted(labels.items())))
        assert key not in seen, f"{where}: duplicate sample"
        seen.add(key)
        families[family].samples.append((name, labels, value))
    return families


def parse_comment(line: str, families: dict[str, Family], where: str) -> str:
    parts = line.split(" ", 3)
    if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
        return ""  # another comment: ignored
    name = parts[2]
    assert NAME.fullmatch(name), f"{where}: bad metric name"
    family = families.setdefault(name, Family())
    assert not family.samples, f"{where}: {parts[1]} after the family's samples"
    if parts[1] == "HELP":
        assert family.help is None, f"{where}: second HELP"
        text = parts[3] if len(parts) > 3 else ""
        assert re.fullmatch(r"(?:[^\\\n]|\\\\|\\n)*", text), f"{where}: bad escape in HELP"
        family.help = text
    else:
        assert family.kind == "", f"{where}: second TYPE"
        assert len(parts) == 4 and parts[3] in TYPES, f"{where}: bad TYPE"
        family.kind = parts[3]
    return name


def parse_sample(line: str, where: str) -> tuple[str, dict[str, str], float]:
    match = NAME.match(line)
    assert match, f"{where}: no metric name"
    name, rest = match[0], line[match.end():]
    labels: dict[str, str] = {}
    if rest.startswith("{"):
        labels, rest = parse_labels(rest[1:], where)
    assert rest.startswith(" "), f"{where}: no space before the value"
    fields = rest.split()
    assert 1 <= len(fields) <= 2, f"{where}: expected a value and an optional timestamp"
    if len(fields) == 2:
        assert re.fullmatch(r"-?[0-9]+", fields[1]), f"{where}: bad timestamp"
    return name, labels, parse_value(fields[0], where)


def parse_labels(text: str, where: str) -> tuple[dict[str, str], str]:
    labels: dict[str, str] = {}
    while not text.startswith("}"):
        match = LABEL_NAME.match(text)
        assert match and text[match.end():].startswith('="'), f"{where}: bad label"
        assert match[0] not in labels, f"{where}: repeated label {match[0]}"
        value, text = read_quoted(text[match.end() + 2:], where)
        labels[match[0]] = value
        if text.startswith(","):
            text = text[1:]
        else:
            assert text.startswith("}"), f"{where}: expected ',' or '}}'"
    return labels, text[1:]


def read_quoted(text: str, where: str) -> tuple[str, str]:
    """Read a label value up to its closing quote; return (value, the rest)."""
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == '"':
            return "".join(out), text[i + 1:]
        if char == "\\":
            escaped = text[i + 1:i + 2]
            assert escaped in ("\\", '"', "n"), f"{where}: bad escape \\{escaped}"
            out.append("\n" if escaped == "n" else escaped)
            i += 2
            continue
        assert char != "\n", f"{where}: raw newline in a label value"
        out.append(char)
        i += 1
    raise AssertionError(f"{where}: unterminated label value")


def parse_value(text: str, where: str) -> float:
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    assert re.fullmatch(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?", text), \
        f"{where}: bad value"
    return float(text)


def family_of(name: str, families: dict[str, Family]) -> str:
    if name in families and families[name].kind not in SUFFIXES:
        return name
    for family, info in families.items():
        for suffix in SUFFIXES.get(info.kind, ()):
            if name == family + suffix:
                return family
    raise AssertionError(f"sample {name} has no # TYPE before it")


def check_histograms(families: dict[str, Family]) -> None:
    """Buckets cumulative, sorted by le, ending at +Inf == _count; one _sum per label set."""
    for name, family in families.items():
        if family.kind != "histogram":
            continue
        groups: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
        counts: dict[tuple[tuple[str, str], ...], float] = {}
        for sample, labels, value in family.samples:
            rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            if sample == name + "_bucket":
                groups.setdefault(rest, []).append((parse_value(labels["le"], name), value))
            elif sample == name + "_count":
                counts[rest] = value
        assert set(groups) == set(counts), f"{name}: buckets without a count"
        for rest, buckets in groups.items():
            bounds = [bound for bound, _ in buckets]
            assert bounds == sorted(bounds) and bounds[-1] == math.inf, f"{name} {rest}"
            values = [value for _, value in buckets]
            assert values == sorted(values) and values[-1] == counts[rest], f"{name} {rest}"


# -- the parser rejects what the format forbids ---------------------------------------


@pytest.mark.parametrize("text, message", [
    ("x 1", "the last line must end with a line feed"),
    ("x 1\n", "sample x has no # TYPE before it"),
    ('# TYPE x gauge\nx{a="\\t"} 1\n', "bad escape"),
    ('# TYPE x gauge\nx{a="b} 1\n', "unterminated label value"),
    ("# TYPE x gauge\nx one\n", "bad value"),
    ("# TYPE x gauge\n# TYPE x counter\n", "second TYPE"),
    ("# TYPE x gauge\nx 1\nx 2\n", "duplicate sample"),
    ("# TYPE x gauge\nx 1\n# HELP x late\n", "HELP after the family's samples"),
], ids=["no-final-newline", "no-type", "bad-escape", "unterminated", "bad-value",
        "second-type", "duplicate", "late-help"])
def test_the_parser_rejects_what_the_format_forbids(text: str, message: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(message)):
        parse_exposition(text)


def test_label_values_escape_backslash_quote_and_newline() -> None:
    text = label_text([("task_id", 'a\\b"c\nd')])
    family = parse_exposition(f"# TYPE x gauge\nx{text} 1\n")["x"]

    assert text == '{task_id="a\\\\b\\"c\\nd"}'
    assert family.samples == [("x", {"task_id": 'a\\b"c\nd'}, 1.0)]
    assert escape_help("a\\b\nc") == "a\\\\b\\nc"


def test_a_histogram_is_cumulative_and_ends_at_inf() -> None:
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.5, 0.5, 7.0):
        histogram.observe(value)

    assert histogram_lines("h", (("task_id", "a"),), histogram) == [
        'h_bucket{task_id="a",le="0.1"} 1', 'h_bucket{task_id="a",le="1"} 3',
        'h_bucket{task_id="a",le="+Inf"} 4', 'h_sum{task_id="a"} 8.05',
        'h_count{task_id="a"} 4']


# -- the server's metrics --------------------------------------------------------------


def test_metrics_parse_line_by_line_and_count_the_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CTS_HTTP_TOKEN", raising=False)
    scheduler = Scheduler(http="0")
    scheduler.every(3600, "true", task_id="good")
    scheduler.every(3600, "exit 1", task_id="bad")
    scheduler.every(3600, "true", task_id="idle", enabled=False)
    with served(scheduler) as url:
        for task_id in ("good", "good", "bad"):
            done = sum(get_json(url, f"/api/tasks/{task_id}")["counts"].values())
            scheduler.run_now(task_id)
            wait_until(lambda: sum(get_json(url, f"/api/tasks/{task_id}")["counts"].values())
                       == done + 1)
        reply = request(url, path="/metrics")

    assert reply.status == 200
    assert reply.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = parse_exposition(reply.body.decode())
    check_histograms(families)
    assert {name: family.kind for name, family in families.items()} == {
        "cts_runs_total": "counter", "cts_run_duration_seconds": "histogram",
        "cts_run_lateness_seconds": "histogram", "cts_last_run_timestamp_seconds": "gauge",
        "cts_next_run_timestamp_seconds": "gauge", "cts_tasks": "gauge",
        "cts_runs_in_flight": "gauge", "cts_history_dropped_total": "counter"}
    assert all(family.help for family in families.values())
    samples = {(name, tuple(sorted(labels.items()))): value
               for family in families.values() for name, labels, value in family.samples}
    assert samples[("cts_runs_total", (("status", "succeeded"), ("task_id", "good")))] == 2
    assert samples[("cts_runs_total", (("status", "failed"), ("task_id", "bad")))] == 1
    assert samples[("cts_run_duration_seconds_count", (("task_id", "good"),))] == 2
    assert samples[("cts_run_lateness_seconds_count", ())] == 3
    assert [labels for name, labels, _ in families["cts_next_run_timestamp_seconds"].samples] \
        == [{"task_id": "good"}, {"task_id": "bad"}]
    assert {labels["state"]: value for _, labels, value in families["cts_tasks"].samples} == {
        "disabled": 1, "scheduled": 2, "queued": 0, "running": 0, "finished": 0}
    assert samples[("cts_runs_in_flight", ())] == 0
    assert samples[("cts_history_dropped_total", ())] == 0
    assert {labels["status"] for _, labels, _ in
            families["cts_last_run_timestamp_seconds"].samples} == {"succeeded", "failed"}
