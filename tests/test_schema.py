"""Tests that config/tasks.schema.json and the loader describe the same config.

Editors check and complete configs with the JSON Schema; the loader is what
actually decides. These tests pin the schema to the loader: the same field
names, the loader's one-line descriptions, the defaults a loaded task really
gets, and a sample config that passes both. No JSON Schema library is used:
a small checker covers the parts of the schema the sample config exercises.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from configure_task_scheduler.config import loader
from configure_task_scheduler.task import Task, TaskType

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
SCHEMA = json.loads((CONFIG_DIR / "tasks.schema.json").read_text(encoding="utf-8"))
DEFS = SCHEMA["$defs"]
TASK_PROPERTIES = DEFS["fullTask"]["properties"]
SCHEDULER_PROPERTIES = DEFS["scheduler"]["properties"]
NO_FIXED_DEFAULT = {"task_name", "cwd"}  # the task's id; the scheduler's own directory
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "boolean": (bool,), "array": (list,), "object": (dict,),
    "null": (type(None),), "integer": (int,), "number": (int, float)}


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a local "$ref" ("#/$defs/...") to the schema it names."""
    while "$ref" in schema:
        reference = schema["$ref"]
        assert reference.startswith("#/"), f"not a local reference: {reference}"
        schema = SCHEMA
        for part in reference[2:].split("/"):
            schema = schema[part]
    return schema


def references(node: Any) -> Iterator[str]:
    """Every "$ref" anywhere in a schema."""
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def type_matches(value: Any, property_schema: dict[str, Any]) -> bool:
    names = property_schema.get("type", list(JSON_TYPES))
    names = [names] if isinstance(names, str) else names
    if isinstance(value, bool):  # a JSON boolean is not a number
        return "boolean" in names
    return any(isinstance(value, JSON_TYPES[name]) for name in names) and \
        value in property_schema.get("enum", [value])


def object_violations(entry: dict[str, Any], object_schema: dict[str, Any],
                      where: str) -> list[str]:
    """Unknown keys, missing required keys, the exactly-one-of rule, and JSON types."""
    properties = object_schema["properties"]
    found = [f"{where}: unknown key {key}" for key in entry
             if key not in properties and not key.startswith("_")]
    found += [f"{where}: missing {key}" for key in object_schema.get("required", [])
              if key not in entry]
    choices = [branch["required"] for branch in object_schema.get("oneOf", [])]
    if choices and sum(all(key in entry for key in choice) for choice in choices) != 1:
        found.append(f"{where}: needs exactly one of {choices}")
    found += [f"{where}: {key}: wrong type" for key, value in entry.items()
              if key in properties and not type_matches(value, resolve(properties[key]))]
    return found


def violations(document: Any) -> list[str]:
    """What in a parsed config breaks the schema (the subset `object_violations` checks)."""
    found = []
    if isinstance(document, dict):
        found += object_violations(document, SCHEMA, "top level")
        found += object_violations(document.get("scheduler", {}), DEFS["scheduler"], "scheduler")
        found += object_violations(document.get("defaults", {}), DEFS["defaults"], "defaults")
    tasks = document if isinstance(document, list) else document.get("tasks", [])
    for position, task in enumerate(tasks, start=1):
        form = "compactTask" if any(key in task for key in loader.COMPACT_FIELDS) else "fullTask"
        found += object_violations(task, DEFS[form], f"task #{position}")
    return found


def as_json(value: Any) -> Any:
    """A loaded value as the config would write it: tuples as lists, mappings as objects."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


def loaded_task_defaults() -> dict[str, Any]:
    """Every field of a task loaded with nothing but its required fields."""
    entry = {"task_id": "t", "task_type": "python", "interval_seconds": 1,
             "entry_point": "configure_task_scheduler.examples:say_hello"}
    task, problems = loader.read_task(entry, 1, "tasks.json")
    assert task is not None, problems
    values = {field.name: as_json(getattr(task, field.name)) for field in dataclasses.fields(task)}
    return {**values, "align": task.schedule.align}  # type: ignore[attr-defined]


def test_schema_is_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_top_level_properties_are_the_loader_top_level_fields() -> None:
    assert set(SCHEMA["properties"]) == set(loader.TOP_LEVEL_FIELDS)


def test_task_properties_are_the_loader_task_fields() -> None:
    assert set(TASK_PROPERTIES) == set(loader.TASK_FIELDS)


def test_scheduler_properties_are_the_loader_scheduler_fields() -> None:
    assert set(SCHEDULER_PROPERTIES) == set(loader.SCHEDULER_FIELDS)


def test_defaults_properties_are_the_task_properties_except_task_id() -> None:
    assert DEFS["defaults"]["properties"] == {
        name: {"$ref": f"#/$defs/fullTask/properties/{name}"}
        for name in loader.TASK_FIELDS if name != "task_id"}


def test_compact_task_has_exactly_the_compact_fields_all_required() -> None:
    assert set(DEFS["compactTask"]["properties"]) == set(loader.COMPACT_FIELDS)
    assert DEFS["compactTask"]["required"] == list(loader.COMPACT_FIELDS)


def test_full_task_requires_id_type_entry_point_and_exactly_one_schedule() -> None:
    assert DEFS["fullTask"]["required"] == ["task_id", "task_type", "entry_point"]
    assert DEFS["fullTask"]["oneOf"] == [{"required": [name]} for name in loader.SCHEDULE_FIELDS]


def test_task_is_either_the_full_or_the_compact_form_and_top_level_may_be_a_list() -> None:
    assert DEFS["task"]["oneOf"] == [{"$ref": "#/$defs/fullTask"}, {"$ref": "#/$defs/compactTask"}]
    assert SCHEMA["type"] == ["object", "array"]
    assert SCHEMA["items"] == SCHEMA["properties"]["tasks"]["items"] == {"$ref": "#/$defs/task"}


@pytest.mark.parametrize("where", ["", "scheduler", "defaults", "fullTask", "compactTask"])
def test_every_object_rejects_unknown_keys_but_allows_underscore_comments(where: str) -> None:
    object_schema = DEFS[where] if where else SCHEMA
    assert object_schema["additionalProperties"] is False
    assert list(object_schema["patternProperties"]) == ["^_"]


def test_task_type_choices_are_the_task_types() -> None:
    assert TASK_PROPERTIES["task_type"]["enum"] == [kind.value for kind in TaskType]


@pytest.mark.parametrize("name", list(loader.TASK_FIELDS))
def test_task_property_description_is_the_loader_one(name: str) -> None:
    assert TASK_PROPERTIES[name]["description"] == loader.TASK_FIELDS[name]


@pytest.mark.parametrize("name", list(loader.SCHEDULER_FIELDS))
def test_scheduler_property_description_is_the_loader_one(name: str) -> None:
    assert SCHEDULER_PROPERTIES[name]["description"] == loader.SCHEDULER_FIELDS[name]


@pytest.mark.parametrize("where", ["", "compactTask"])
def test_other_properties_have_a_description(where: str) -> None:
    properties = (DEFS[where] if where else SCHEMA)["properties"]
    assert [name for name, schema in properties.items() if not schema.get("description")] == []


@pytest.mark.parametrize("name", [name for name in loader.TASK_FIELDS
                                  if "default" in TASK_PROPERTIES[name]])
def test_task_property_default_is_what_a_loaded_task_gets(name: str) -> None:
    assert TASK_PROPERTIES[name]["default"] == loaded_task_defaults()[name]


def test_every_task_field_the_loader_defaults_has_a_schema_default() -> None:
    defaulted = {field.name for field in dataclasses.fields(Task)
                 if field.default is not dataclasses.MISSING
                 or field.default_factory is not dataclasses.MISSING}
    expected = (defaulted & set(loader.TASK_FIELDS)) - NO_FIXED_DEFAULT | {"align"}
    assert {name for name in TASK_PROPERTIES if "default" in TASK_PROPERTIES[name]} == expected


def test_scheduler_defaults_are_what_the_loader_gives_an_empty_section() -> None:
    settings, problems = loader.read_settings({}, "tasks.json")
    assert problems == []
    fixed = {name: getattr(settings, name) for name in loader.SCHEDULER_FIELDS
             if getattr(settings, name) is not None}  # timezone: the machine's zone
    assert {name: schema["default"] for name, schema in SCHEDULER_PROPERTIES.items()
            if "default" in schema} == fixed


def test_every_reference_resolves() -> None:
    for reference in set(references(SCHEMA)):
        assert isinstance(resolve({"$ref": reference}), dict), reference


def test_sample_config_names_the_schema_first() -> None:
    sample = json.loads((CONFIG_DIR / "tasks.json").read_text(encoding="utf-8"))
    assert next(iter(sample.items())) == ("$schema", "./tasks.schema.json")
    assert (CONFIG_DIR / sample["$schema"]).is_file()


def test_sample_config_follows_the_schema_and_loads_without_problems() -> None:
    sample_path = CONFIG_DIR / "tasks.json"
    assert violations(json.loads(sample_path.read_text(encoding="utf-8"))) == []
    assert loader.load_config(sample_path).problems == []


@pytest.mark.parametrize(("document", "expected"), [
    ([{"name": "a", "command": "true"}], ["task #1: missing schedule"]),
    ({"tasks": [{"task_id": "a", "task_type": "shell", "entry_point": "true"}]},
     ["task #1: needs exactly one of [['interval_seconds'], ['cron'], ['at']]"]),
    ({"tasks": [], "scheduler": {"max_worker": 2}}, ["scheduler: unknown key max_worker"]),
    ({"tasks": [], "defaults": {"enabled": "false"}}, ["defaults: enabled: wrong type"]),
    ({"tasks": [{"task_id": "a", "task_type": "perl", "entry_point": "x", "cron": "@daily",
                 "_note": "comments are fine"}]}, ["task #1: task_type: wrong type"]),
], ids=["missing compact field", "no schedule", "unknown key", "string boolean", "bad enum"])
def test_checker_finds_what_the_schema_forbids(document: Any, expected: list[str]) -> None:
    assert violations(document) == expected
