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
import re
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


def referenced(reference: str) -> dict[str, Any]:
    """The schema a local "$ref" names (its own "$ref", if any, is left to the caller)."""
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


def type_matches(value: Any, names: str | list[str]) -> bool:
    names = [names] if isinstance(names, str) else names
    if isinstance(value, bool):  # a JSON boolean is not a number
        return "boolean" in names
    return any(isinstance(value, JSON_TYPES[name]) for name in names)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _object_errors(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    if not isinstance(value, dict):
        return []
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    extra = schema.get("additionalProperties", True)
    found = [f"{where}: missing {key}" for key in schema.get("required", []) if key not in value]
    for key, item in value.items():
        matched = [pattern for pattern in patterns if re.search(pattern, key)]
        found += [error for pattern in matched
                  for error in schema_errors(item, patterns[pattern], f"{where}.{key}")]
        if key in properties:
            found += schema_errors(item, properties[key], f"{where}.{key}")
        elif not matched and extra is False:
            found.append(f"{where}: unknown key {key}")
        elif not matched and isinstance(extra, dict):
            found += schema_errors(item, extra, f"{where}.{key}")
    for key, needed in schema.get("dependentRequired", {}).items():
        found += [f"{where}: {key} needs {name}" for name in needed
                  if key in value and name not in value]
    for key, subschema in schema.get("dependentSchemas", {}).items():
        if key in value and schema_errors(value, subschema, where):
            found.append(f"{where}: {key} not allowed here")
    return found


def _combination_errors(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    found = [error for subschema in schema.get("allOf", [])
             for error in schema_errors(value, subschema, where)]
    if "anyOf" in schema and all(schema_errors(value, s, where) for s in schema["anyOf"]):
        found.append(f"{where}: matches none of anyOf")
    if "oneOf" in schema and sum(not schema_errors(value, s, where)
                                 for s in schema["oneOf"]) != 1:
        found.append(f"{where}: matches not exactly one of oneOf")
    if "not" in schema and not schema_errors(value, schema["not"], where):
        found.append(f"{where}: matches what is forbidden")
    if "if" in schema:
        branch = "else" if schema_errors(value, schema["if"], where) else "then"
        found += schema_errors(value, schema.get(branch, {}), where)
    return found


def _value_errors(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    found = []
    if "type" in schema and not type_matches(value, schema["type"]):
        return [f"{where}: wrong type"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: not one of {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        found.append(f"{where}: does not match {schema['pattern']}")
    if "minimum" in schema and _is_number(value) and value < schema["minimum"]:
        found.append(f"{where}: below {schema['minimum']}")
    if "exclusiveMinimum" in schema and _is_number(value) and value <= schema["exclusiveMinimum"]:
        found.append(f"{where}: not above {schema['exclusiveMinimum']}")
    if "maximum" in schema and _is_number(value) and value > schema["maximum"]:
        found.append(f"{where}: above {schema['maximum']}")
    if "minLength" in schema and isinstance(value, str) and len(value) < schema["minLength"]:
        found.append(f"{where}: shorter than {schema['minLength']}")
    if "minItems" in schema and isinstance(value, list) and len(value) < schema["minItems"]:
        found.append(f"{where}: fewer than {schema['minItems']} items")
    if "items" in schema and isinstance(value, list):
        found += [error for index, item in enumerate(value, start=1)
                  for error in schema_errors(item, schema["items"], f"{where}[{index}]")]
    return found


# Keywords whose value maps names (of properties, definitions, ...) to schemas or lists.
NAME_MAPS = {"properties", "patternProperties", "$defs", "dependentRequired", "dependentSchemas"}
SUPPORTED_KEYWORDS = {
    "$ref", "type", "enum", "pattern", "minimum", "exclusiveMinimum", "maximum", "minLength",
    "minItems", "items",
    "properties", "patternProperties", "additionalProperties", "required", "dependentRequired",
    "dependentSchemas", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
    "$schema", "$defs", "$comment", "title", "description", "default"}


def schema_errors(value: Any, schema: dict[str, Any] = SCHEMA, where: str = "config") -> list[str]:
    """What in `value` breaks `schema`: a small JSON Schema 2020-12 validator.

    It knows the keywords the project's schema uses (`SUPPORTED_KEYWORDS`;
    a test fails if the schema starts using another one), so the tests need
    nothing but pytest. Where the jsonschema package is installed, a test
    checks that both give the same verdicts.
    """
    found = schema_errors(value, referenced(schema["$ref"]), where) if "$ref" in schema else []
    return (found + _value_errors(value, schema, where) + _object_errors(value, schema, where)
            + _combination_errors(value, schema, where))


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


def test_full_task_requires_an_id_and_has_at_most_one_schedule_of_its_own() -> None:
    assert DEFS["fullTask"]["required"] == ["task_id"]
    assert DEFS["fullTask"]["not"] == DEFS["defaults"]["not"] == {"$ref": "#/$defs/twoSchedules"}
    assert DEFS["schedule"]["anyOf"] == [{"required": [name]} for name in loader.SCHEDULE_FIELDS]


def test_task_is_either_the_full_or_the_compact_form_and_top_level_may_be_a_list() -> None:
    assert DEFS["task"]["oneOf"] == [{"$ref": "#/$defs/fullTask"}, {"$ref": "#/$defs/compactTask"}]
    assert SCHEMA["type"] == ["object", "array"]
    assert SCHEMA["properties"]["tasks"]["items"] == {"$ref": "#/$defs/task"}
    assert SCHEMA["items"] == {"$ref": "#/$defs/completeTask"}  # a list has no defaults


def test_the_schema_uses_only_keywords_the_test_validator_knows() -> None:
    def keywords(node: Any, named: bool = False) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if not named:
                    yield key
                yield from keywords(value, key in NAME_MAPS and not named)
        elif isinstance(node, list):
            for value in node:
                yield from keywords(value)

    assert set(keywords(SCHEMA)) - SUPPORTED_KEYWORDS == set()


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


# -- the schema and the loader accept the same configs ---------------------------------------


def shell(task_id: str, **fields: Any) -> dict[str, Any]:
    return {"task_id": task_id, **fields}


def full(task_id: str, **fields: Any) -> dict[str, Any]:
    return shell(task_id, task_type="shell", entry_point="true", **fields)


# Configs that lean on `defaults`, and their mistakes; (document, accepted by both).
AGREEMENT_CASES = {
    "type from defaults": ({"defaults": {"task_type": "shell"},
                            "tasks": [shell("a", entry_point="true", interval_seconds=5)]}, True),
    "entry point from defaults": ({"defaults": {"entry_point": "true"},
                                   "tasks": [shell("a", task_type="shell", cron="@daily")]}, True),
    "schedule from defaults": ({"defaults": {"interval_seconds": 60},
                                "tasks": [full("a"), full("b", interval_seconds=5)]}, True),
    "cron from defaults, overridden": ({"defaults": {"cron": "@daily"},
                                        "tasks": [full("a", cron="@hourly"), full("b")]}, True),
    "everything from defaults": ({"defaults": {"task_type": "shell", "entry_point": "true",
                                               "at": "2099-01-01T00:00:00"},
                                  "tasks": [shell("a")]}, True),
    "align from defaults": ({"defaults": {"align": True, "interval_seconds": 60},
                             "tasks": [full("a")]}, True),
    "align on an interval from defaults": ({"defaults": {"interval_seconds": 60},
                                            "tasks": [full("a", align=True)]}, True),
    "compact and full beside defaults": ({"defaults": {"task_type": "shell"}, "tasks": [
        {"name": "c", "command": "true", "schedule": "@daily"},
        shell("a", entry_point="true", interval_seconds=5)]}, True),
    "a bare list of complete tasks": ([full("a", interval_seconds=5),
                                       {"name": "c", "command": "true", "schedule": "@daily"}],
                                      True),
    "no tasks, defaults with one schedule": ({"defaults": {"cron": "@daily"}, "tasks": []}, True),
    "no type anywhere": ({"tasks": [shell("a", entry_point="true", interval_seconds=5)]}, False),
    "no entry point anywhere": ({"defaults": {"task_type": "shell"},
                                 "tasks": [shell("a", interval_seconds=5)]}, False),
    "no schedule anywhere": ({"defaults": {"task_type": "shell"},
                              "tasks": [shell("a", entry_point="true")]}, False),
    "a bare list relies on nothing": ([shell("a", entry_point="true", interval_seconds=5)],
                                      False),
    "interval from defaults, cron of its own": ({"defaults": {"interval_seconds": 60},
                                                 "tasks": [full("a", cron="@daily")]}, False),
    "cron from defaults, at of its own": ({"defaults": {"cron": "@daily"},
                                           "tasks": [full("a", at="2099-01-01T00:00:00")]}, False),
    "at from defaults, interval of its own": ({"defaults": {"at": "2099-01-01T00:00:00"},
                                               "tasks": [full("a", interval_seconds=5)]}, False),
    "align on a cron from defaults": ({"defaults": {"cron": "@daily"},
                                       "tasks": [full("a", align=True)]}, False),
    "align from defaults on a cron": ({"defaults": {"align": True},
                                       "tasks": [full("a", cron="@daily")]}, False),
    "align and cron in one task": ({"tasks": [full("a", align=True, cron="@daily")]}, False),
    "two schedules in defaults": ({"defaults": {"interval_seconds": 5, "cron": "@daily"},
                                   "tasks": []}, False),
    "align with a cron in defaults": ({"defaults": {"align": True, "cron": "@daily"},
                                       "tasks": []}, False),
    "a task id in defaults": ({"defaults": {"task_id": "x"}, "tasks": []}, False),
    "a notifier from defaults, opted out with null": (
        {"defaults": {"on_failure": "alert"},
         "tasks": [full("alert", on_failure=None, interval_seconds=60),
                   full("a", on_success="alert", interval_seconds=5)]}, True),
    "a notifier that is not an id": ({"tasks": [full("a", interval_seconds=5,
                                                     on_failure="a b")]}, False),
    "a task without an id": ({"tasks": [{"task_type": "shell", "entry_point": "true",
                                         "interval_seconds": 5}]}, False),
}


def loader_accepts(document: Any, directory: Path) -> bool:
    path = directory / "config.json"
    path.write_text(json.dumps(document))
    try:
        return loader.load_config(path).problems == []
    except loader.ConfigError:
        return False


def readme_configs() -> list[Any]:
    """The README's ```json blocks: whole configs, or one task (as a list of one)."""
    text = (CONFIG_DIR.parent / "README.md").read_text(encoding="utf-8")
    blocks = [json.loads(block) for block in re.findall(r"^```json\n(.*?)^```$", text,
                                                         re.MULTILINE | re.DOTALL)]
    return [block if "tasks" in block else [block] for block in blocks]


REPOSITORY_CONFIGS = {
    **{f"config/{path.name}": json.loads(path.read_text(encoding="utf-8"))
       for path in sorted(CONFIG_DIR.glob("*.json")) if path.name != "tasks.schema.json"},
    **{f"README.md json block {number}": document
       for number, document in enumerate(readme_configs(), start=1)},
}


def test_the_repository_has_configs_to_check() -> None:
    assert list(REPOSITORY_CONFIGS) == [
        "config/tasks.json", "README.md json block 1", "README.md json block 2",
        "README.md json block 3", "README.md json block 4", "README.md json block 5",
        "README.md json block 6"]


# What the README's examples take from their surroundings: the secrets they name
# and the Python module one of them imports.
README_ENVIRONMENT = {"API_TOKEN": "tok-example", "DEPLOY_TOKEN": "tok-example",
                      "WEBHOOK_URL": "http://127.0.0.1:8765/hook"}
README_MODULES = {"jobs.py": "def sync(context):\n    pass\n"}


@pytest.mark.parametrize("document", REPOSITORY_CONFIGS.values(), ids=REPOSITORY_CONFIGS.keys())
def test_every_config_in_the_repository_loads_and_follows_the_schema(
        document: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in README_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name, text in README_MODULES.items():
        (tmp_path / name).write_text(text)
    assert (loader_accepts(document, tmp_path), schema_errors(document)) == (True, [])


@pytest.mark.parametrize(("document", "accepted"), AGREEMENT_CASES.values(),
                         ids=AGREEMENT_CASES.keys())
def test_the_schema_and_the_loader_accept_the_same_configs(
        document: Any, accepted: bool, tmp_path: Path) -> None:
    assert (loader_accepts(document, tmp_path), not schema_errors(document)) == (accepted,
                                                                                accepted)


def test_the_test_validator_agrees_with_jsonschema_where_it_is_installed() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    documents = [document for document, _ in AGREEMENT_CASES.values()]
    documents += list(REPOSITORY_CONFIGS.values()) + [document for document, _ in CHECKER_CASES]

    assert [validator.is_valid(d) for d in documents] == [not schema_errors(d) for d in documents]


CHECKER_CASES = [
    ([{"name": "a", "command": "true"}], ["config[1]: matches not exactly one of oneOf"]),
    ({"tasks": [full("a")]}, ["config.tasks[1]: matches none of anyOf"]),
    ({"tasks": [], "scheduler": {"max_worker": 2}}, ["config.scheduler: unknown key max_worker"]),
    ({"tasks": [], "defaults": {"enabled": "false"}}, ["config.defaults.enabled: wrong type"]),
    ({"tasks": [{"task_id": "a", "task_type": "perl", "entry_point": "x", "cron": "@daily",
                 "_note": "comments are fine"}]},
     ["config.tasks[1]: matches not exactly one of oneOf"]),
]


@pytest.mark.parametrize(("document", "expected"), CHECKER_CASES,
                         ids=["missing compact field", "no schedule", "unknown key",
                              "string boolean", "bad enum"])
def test_checker_finds_what_the_schema_forbids(document: Any, expected: list[str]) -> None:
    assert schema_errors(document) == expected
