"""Input schemas in draft-07, 2019-09 and 2020-12: accepted, checked under
their own draft, kept as written."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from mppoci.digest import Digest
from mppoci.errors import ManifestError
from mppoci.manifest import config_bytes, drafts, parse_config, parse_source, to_document

ASSETS = Path(__file__).parent.parent / "assets" / "manifests"
MINIMAL: dict[str, Any] = yaml.safe_load((ASSETS / "valid-minimal.yaml").read_bytes())
DIGEST = Digest("sha256:" + "0123456789abcdef" * 4)

# What zod-to-json-schema writes for a TypeScript MCP server's tool
# (server-filesystem's read_text_file, trimmed).
ZOD_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "path": {"type": "string"},
        "head": {"type": "number", "description": "If provided, returns only the first N lines"},
        "range": {"$ref": "#/definitions/range"},
    },
    "required": ["path"],
    "additionalProperties": False,
    "definitions": {
        "range": {"type": "array", "items": [{"type": "integer"}, {"type": "integer"}]}
    },
}


def _with_schema(schema: Any) -> bytes:
    doc = copy.deepcopy(MINIMAL)
    doc["tools"][0]["inputSchema"] = schema
    return yaml.safe_dump(doc, sort_keys=False).encode()


def _problems(data: bytes) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        parse_source(data)
    return [f"{where}: {message}" for where, message in caught.value.problems]


def test_a_zod_draft_07_schema_is_accepted_and_kept_as_written() -> None:
    m = parse_source(_with_schema(ZOD_SCHEMA))
    assert m.tools[0].input_schema == ZOD_SCHEMA
    assert to_document(m)["tools"][0]["inputSchema"] == ZOD_SCHEMA


def test_a_draft_07_schema_survives_the_config_round_trip() -> None:
    m = parse_source(_with_schema(ZOD_SCHEMA)).with_runtime(DIGEST)
    assert parse_config(config_bytes(m)) == m


@pytest.mark.parametrize(
    "uri",
    [
        "http://json-schema.org/draft-07/schema#",
        "http://json-schema.org/draft-07/schema",
        "https://json-schema.org/draft/2019-09/schema",
        "https://json-schema.org/draft/2019-09/schema#",
        "https://json-schema.org/draft/2020-12/schema",
        "https://json-schema.org/draft/2020-12/schema#",
    ],
)
def test_each_accepted_draft_uri_parses(uri: str) -> None:
    m = parse_source(_with_schema({"$schema": uri, "type": "object"}))
    assert m.tools[0].input_schema["$schema"] == uri
    assert uri in drafts.ACCEPTED_URIS


@pytest.mark.parametrize(
    "uri",
    [
        "http://json-schema.org/draft-04/schema#",
        "http://json-schema.org/draft-06/schema#",
        "http://json-schema.org/schema#",
        "https://json-schema.org/draft-07/schema#",  # https: not what draft-07 names itself
        "HTTP://JSON-SCHEMA.ORG/DRAFT-07/SCHEMA#",
        "http://json-schema.org/draft-07/schema##",
        "https://example.test/my-draft",
        "",
    ],
)
def test_other_draft_uris_are_refused_with_the_accepted_list(uri: str) -> None:
    assert _problems(_with_schema({"$schema": uri, "type": "object"})) == [
        f"tools[0].inputSchema.$schema: {drafts.UNKNOWN}"
    ]


def test_an_items_list_is_valid_in_draft_07_and_2019_09_but_not_2020_12() -> None:
    pair = {"pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}}
    for uri in ("http://json-schema.org/draft-07/schema#", drafts.DRAFT_2019_09.uri):
        parse_source(_with_schema({"$schema": uri, "type": "object", "properties": pair}))
    problems = _problems(_with_schema({"type": "object", "properties": pair}))
    assert len(problems) == 1 and "(draft 2020-12)" in problems[0]


def test_a_schema_is_checked_against_its_own_drafts_meta_schema() -> None:
    # draft-07 refuses draft-04's boolean exclusiveMaximum; 2019-09 wants
    # "$recursiveAnchor" to be a boolean.
    bad_07 = {
        "$schema": drafts.DRAFT_07.uri,
        "type": "object",
        "properties": {"n": {"exclusiveMaximum": True}},
    }
    assert _problems(_with_schema(bad_07)) == [
        "tools[0].inputSchema.properties.n.exclusiveMaximum: is not valid JSON Schema "
        "(draft-07): True is not of type 'number'"
    ]
    bad_2019 = {"$schema": drafts.DRAFT_2019_09.uri, "type": "object", "$recursiveAnchor": "x"}
    problems = _problems(_with_schema(bad_2019))
    assert len(problems) == 1
    assert problems[0].startswith("tools[0].inputSchema.$recursiveAnchor: is not valid JSON")
    assert "(draft 2019-09)" in problems[0]


def test_the_text_rules_apply_to_a_draft_07_schema_too() -> None:
    schema = copy.deepcopy(ZOD_SCHEMA)
    schema["properties"]["path"]["description"] = "a\x1b[2Jpath"
    problems = _problems(_with_schema(schema))
    assert len(problems) == 1
    assert problems[0].startswith("tools[0].inputSchema.properties.path.description: must not")


def test_draft_of_reads_the_schema_keyword() -> None:
    assert drafts.draft_of({"type": "object"}) is drafts.DEFAULT is drafts.DRAFT_2020_12
    assert drafts.draft_of({"$schema": "http://json-schema.org/draft-07/schema"}) is drafts.DRAFT_07
    assert drafts.draft_of({"$schema": 7}) is None
    assert drafts.draft_of({"$schema": None}) is None


def test_validator_for_picks_the_drafts_class_and_refuses_an_unknown_draft() -> None:
    from jsonschema import Draft7Validator, Draft201909Validator, Draft202012Validator

    assert isinstance(drafts.validator_for(ZOD_SCHEMA), Draft7Validator)
    assert isinstance(
        drafts.validator_for({"$schema": drafts.DRAFT_2019_09.uri}), Draft201909Validator
    )
    assert isinstance(drafts.validator_for({}), Draft202012Validator)
    with pytest.raises(ValueError, match="unknown draft"):
        drafts.validator_for({"$schema": "http://json-schema.org/draft-04/schema#"})
