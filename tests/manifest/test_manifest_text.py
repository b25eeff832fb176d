"""Every human-facing field refuses text that could rewrite or hide what
people are shown, naming the field (issue #17 item 4). The attack inputs live
in tests/assets/hostile/text/."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mppoci.errors import ManifestError
from mppoci.manifest import parse_source
from mppoci.manifest.parse import validate
from tests.text_oracle import unsafe

ASSETS = Path(__file__).parent.parent / "assets"
HOSTILE_DIR = ASSETS / "hostile" / "text"
GOOD: dict[str, Any] = yaml.safe_load((ASSETS / "manifests" / "valid-maximal.yaml").read_bytes())
HOSTILE: dict[str, str] = json.loads((HOSTILE_DIR / "strings.json").read_text())
MULTILINE: dict[str, str] = json.loads((HOSTILE_DIR / "multiline.json").read_text())

# (field path, where it lives in the document); free text may span lines.
ONE_LINE = {
    "authors[1]": ("authors", 1),
    "tools[0].annotations.title": ("tools", 0, "annotations", "title"),
    "permissions.filesystem[0].why": ("permissions", "filesystem", 0, "why"),
    "permissions.network.egress[0].why": ("permissions", "network", "egress", 0, "why"),
    "permissions.env[0].why": ("permissions", "env", 0, "why"),
    "permissions.storage[0].why": ("permissions", "storage", 0, "why"),
}
FREE_TEXT = {
    "description": ("description",),
    "tools[1].description": ("tools", 1, "description"),
}
SCHEMA = {
    "tools[0].inputSchema.properties.sql.description": (
        "tools",
        0,
        "inputSchema",
        "properties",
        "sql",
        "description",
    ),
}


def _with(steps: tuple[str | int, ...], value: str) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    where: Any = doc
    for step in steps[:-1]:
        where = where[step]
    where[steps[-1]] = value
    return doc


def _problems(doc: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ManifestError) as e:
        validate(doc, source="mpp.yaml")
    return dict(e.value.problems)


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("path", sorted({**ONE_LINE, **FREE_TEXT, **SCHEMA}))
def test_hidden_characters_in_a_human_facing_field_are_refused_with_its_path(
    path: str, name: str
) -> None:
    steps = {**ONE_LINE, **FREE_TEXT, **SCHEMA}[path]
    problems = _problems(_with(steps, HOSTILE[name]))
    assert path in problems, problems
    assert "control or invisible characters" in problems[path]
    # The message shows the character escaped, never the character itself.
    assert unsafe(problems[path]) == []


@pytest.mark.parametrize("name", sorted(MULTILINE))
@pytest.mark.parametrize("path", sorted(ONE_LINE))
def test_a_newline_or_tab_in_a_one_line_field_is_refused(path: str, name: str) -> None:
    problems = _problems(_with(ONE_LINE[path], MULTILINE[name]))
    assert "one line" in problems[path]


@pytest.mark.parametrize("path", sorted(FREE_TEXT))
def test_a_description_may_span_lines(path: str) -> None:
    doc = _with(FREE_TEXT[path], "First line.\n\n\tSecond paragraph.\n")
    validate(doc, source="mpp.yaml")


def test_a_hidden_character_in_an_input_schema_key_is_refused() -> None:
    doc = copy.deepcopy(GOOD)
    doc["tools"][0]["inputSchema"]["properties"]["pa\u202eth"] = {"type": "string"}
    problems = _problems(doc)
    assert any("inputSchema.properties" in p for p in problems), problems


def test_erase_line_why_from_the_issue_is_refused() -> None:
    data = (HOSTILE_DIR / "erase-line-why.yaml").read_bytes()
    with pytest.raises(ManifestError) as e:
        parse_source(data)
    assert [p for p, _ in e.value.problems] == ["permissions.network.egress[0].why"]
    assert "\\x0d" in e.value.message and "\r" not in e.value.message


def test_bidi_and_invisible_characters_in_names_and_titles_are_refused() -> None:
    with pytest.raises(ManifestError) as e:
        parse_source((HOSTILE_DIR / "bidi-description.yaml").read_bytes())
    assert [p for p, _ in e.value.problems] == [
        "description",
        "authors[0]",
        "tools[0].description",
        "tools[0].annotations.title",
    ]


def test_a_why_padded_with_hangul_fillers_to_fake_a_second_line_is_refused() -> None:
    with pytest.raises(ManifestError) as e:
        parse_source((HOSTILE_DIR / "hangul-filler-why.yaml").read_bytes())
    assert [p for p, _ in e.value.problems] == ["permissions.network.egress[0].why"]
    assert "\\u3164" in e.value.message and "\u3164" not in e.value.message


def test_a_why_padded_with_spaces_to_fake_a_second_line_is_refused() -> None:
    with pytest.raises(ManifestError) as e:
        parse_source((HOSTILE_DIR / "blank-padded-why.yaml").read_bytes())
    problems = dict(e.value.problems)
    assert list(problems) == ["permissions.network.egress[0].why"]
    assert "whitespace characters in a row" in problems["permissions.network.egress[0].why"]


@pytest.mark.parametrize("path", sorted(ONE_LINE))
@pytest.mark.parametrize(
    "value", [" leading", "trailing ", "four    spaces", "tab\u3000\u3000\u3000\u3000"]
)
def test_blank_padding_in_a_one_line_field_is_refused(path: str, value: str) -> None:
    problems = _problems(_with(ONE_LINE[path], value))
    assert "whitespace" in problems[path]


@pytest.mark.parametrize("path", sorted(ONE_LINE))
def test_ordinary_spacing_and_accents_in_a_one_line_field_are_accepted(path: str) -> None:
    for value in ("Read the files.  Then stop.", "a   b", "Vie\u0323\u0302t Nam", "日本語　ツール"):
        validate(_with(ONE_LINE[path], value), source="mpp.yaml")


def test_an_entrypoint_argument_with_a_fake_enforced_line_is_refused() -> None:
    with pytest.raises(ManifestError) as e:
        parse_source((HOSTILE_DIR / "entrypoint-fake-line.yaml").read_bytes())
    problems = dict(e.value.problems)
    assert list(problems) == ["entrypoint[1]", "entrypoint[2]"]
    assert "\\x0a" in problems["entrypoint[1]"] and "\\x1b" in problems["entrypoint[2]"]
    assert all("\n" not in message for message in problems.values())
