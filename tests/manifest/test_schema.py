"""schema/mpp-v1.schema.json agrees with the parser and with docs/manifest.md."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from mppoci.digest import Digest
from mppoci.manifest import parse as manifest_parse
from mppoci.manifest import parse_source, to_document

ROOT = Path(__file__).parent.parent.parent
SCHEMA: dict[str, Any] = json.loads((ROOT / "schema" / "mpp-v1.schema.json").read_bytes())
ASSETS = ROOT / "tests" / "assets" / "manifests"
DIGEST = Digest("sha256:" + "fe" * 32)


def _docs_examples() -> dict[str, bytes]:
    text = (ROOT / "docs" / "manifest.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    full = re.search(r"<!-- full-example -->\n```yaml\n(.*?)```", text, flags=re.DOTALL)
    assert full is not None, "docs/manifest.md lost its <!-- full-example --> marker"
    examples = {"docs-full": full.group(1).encode()}
    examples |= {f"docs-block-{i}": b.encode() for i, b in enumerate(blocks)}
    return examples


EXAMPLES: dict[str, bytes] = {
    "valid-minimal": (ASSETS / "valid-minimal.yaml").read_bytes(),
    "valid-maximal": (ASSETS / "valid-maximal.yaml").read_bytes(),
    **_docs_examples(),
}


def _errors(instance: Any) -> list[str]:
    validator = Draft202012Validator(SCHEMA)
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(instance)]


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


def test_every_object_of_ours_refuses_unknown_fields() -> None:
    def objects(node: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
        found: list[tuple[str, dict[str, Any]]] = []
        if isinstance(node, dict):
            if node.get("type") == "object" and where != "inputSchema":
                found.append((where, node))
            for key, value in node.items():
                if key in ("default", "const", "enum"):
                    continue  # values, not schemas
                found += objects(value, key if key not in ("properties", "$defs") else where)
        elif isinstance(node, list):
            for value in node:
                found += objects(value, where)
        return found

    found = objects(SCHEMA, "")
    assert len(found) >= 10
    for where, obj in found:
        assert obj.get("additionalProperties") is False, where


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_valid_examples_pass_the_schema_and_the_parser(name: str) -> None:
    data = EXAMPLES[name]
    assert _errors(yaml.safe_load(data)) == []
    parse_source(data)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_normalised_documents_pass_the_schema(name: str) -> None:
    m = parse_source(EXAMPLES[name])
    assert _errors(to_document(m)) == []
    assert _errors(to_document(m.with_runtime(DIGEST))) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("colour",), "red"),
        (("tools", 0, "timeout"), "5s"),
        (("tools", 0, "annotations", "readonlyHint"), True),
        (("permissions", "devices"), []),
        (("permissions", "network", "ingress"), []),
        (("permissions", "network", "egress", 0, "protocol"), "udp"),
        (("permissions", "filesystem", 0, "mode"), "0755"),
        (("permissions", "env", 0, "default"), "x"),
        (("permissions", "storage", 0, "driver"), "local"),
        (("permissions", "resources", "gpus"), 1),
    ],
    ids=lambda v: ".".join(map(str, v)) if isinstance(v, tuple) else None,
)
def test_unknown_fields_fail_the_schema(path: tuple[str | int, ...], value: Any) -> None:
    doc = copy.deepcopy(yaml.safe_load(EXAMPLES["valid-maximal"]))
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    assert _errors(doc) != []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("schemaVersion",), 2),
        (("version",), 1.2),
        (("authors",), "Ada"),
        (("protocol",), "http"),
        (("tools",), []),
        (("tools", 0, "inputSchema"), {"type": "string"}),
        (("tools", 0, "annotations", "readOnlyHint"), "yes"),
        (("runtime",), "ghcr.io/acme/python:3.12"),
        (("permissions", "network", "egress", 0, "port"), "443"),
        (("permissions", "network", "egress", 0, "port"), True),
        (("permissions", "network", "egress", 0, "port"), 0),
        (("permissions", "network", "egress", 0, "host"), "*"),
        (("permissions", "network", "egress", 0, "dangerouslyAllowAnyHost"), True),
        (("permissions", "filesystem", 0, "path"), "data"),
        (("permissions", "filesystem", 0, "path"), "/data:rw"),
        (("permissions", "filesystem", 0, "access"), "write"),
        (("permissions", "env", 0, "name"), "LD_PRELOAD"),
        (("permissions", "resources", "memory"), "256MB"),
        (("permissions", "resources", "cpus"), "0.1234"),
        (("permissions", "resources", "timeout"), 30),
        (("permissions", "resources", "pids"), 0),
    ],
    ids=lambda v: ".".join(map(str, v)) if isinstance(v, tuple) else repr(v),
)
def test_wrong_types_and_values_fail_the_schema(path: tuple[str | int, ...], value: Any) -> None:
    doc = copy.deepcopy(yaml.safe_load(EXAMPLES["valid-maximal"]))
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    assert _errors(doc) != []


def test_missing_required_field_fails_the_schema() -> None:
    doc = yaml.safe_load(EXAMPLES["valid-minimal"])
    del doc["entrypoint"]
    assert _errors(doc) == ["$: 'entrypoint' is a required property"]


@pytest.mark.parametrize(
    ("pointer", "fields"),
    [
        ((), manifest_parse.TOP_FIELDS),
        (("$defs", "tool"), manifest_parse.TOOL_FIELDS),
        (("$defs", "tool", "properties", "annotations"), manifest_parse.ANNOTATION_FIELDS),
        (("$defs", "permissions"), manifest_parse.PERMISSION_FIELDS),
        (("$defs", "permissions", "properties", "resources"), manifest_parse.RESOURCE_FIELDS),
        (
            ("$defs", "permissions", "properties", "filesystem", "items"),
            manifest_parse.FILESYSTEM_FIELDS,
        ),
        (("$defs", "permissions", "properties", "env", "items"), manifest_parse.ENV_FIELDS),
    ],
)
def test_schema_lists_the_same_fields_as_the_parser(
    pointer: tuple[str, ...], fields: tuple[str, ...]
) -> None:
    node: Any = SCHEMA
    for step in pointer:
        node = node[step]
    assert tuple(node["properties"]) == fields
