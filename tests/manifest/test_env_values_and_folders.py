"""Fixed environment values (``env[].value``) and required folders
(``filesystem[].required``): parsed, refused, normalised, signed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from mppoci.digest import Digest
from mppoci.errors import ManifestError
from mppoci.manifest import config_bytes, parse_config, parse_source, to_document
from mppoci.manifest import permissions_digest as digest_of
from mppoci.manifest.model import EnvVar, FilesystemGrant
from mppoci.manifest.parse import FIXED_VALUE_IS_PUBLIC, FIXED_VALUE_IS_SET

ASSETS = Path(__file__).parent.parent / "assets" / "manifests"
MINIMAL: dict[str, Any] = yaml.safe_load((ASSETS / "valid-minimal.yaml").read_bytes())
DIGEST = Digest("sha256:" + "0123456789abcdef" * 4)


def _with(permissions: dict[str, Any]) -> bytes:
    doc = copy.deepcopy(MINIMAL)
    doc["permissions"] = permissions
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()


def _env(**entry: Any) -> bytes:
    return _with({"env": [{"name": "PYTHONPATH", "why": "vendored dependencies", **entry}]})


def _problems(data: bytes) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        parse_source(data)
    return [f"{where}: {message}" for where, message in caught.value.problems]


# --- env[].value ----------------------------------------------------------------


def test_a_fixed_value_is_parsed_and_kept_in_the_normalised_document() -> None:
    m = parse_source(_env(value="/pkg/vendor"))
    assert m.permissions.env == (
        EnvVar(
            "PYTHONPATH", "vendored dependencies", secret=False, required=False, value="/pkg/vendor"
        ),
    )
    assert to_document(m)["permissions"]["env"] == [
        {
            "name": "PYTHONPATH",
            "why": "vendored dependencies",
            "secret": False,
            "required": False,
            "value": "/pkg/vendor",
        }
    ]


def test_a_variable_without_value_keeps_its_document_and_digest() -> None:
    # Packages built before `value` existed keep their config and digests.
    m = parse_source(_env())
    assert m.permissions.env[0].value is None
    assert to_document(m)["permissions"]["env"] == [
        {"name": "PYTHONPATH", "why": "vendored dependencies", "secret": False, "required": False}
    ]


def test_a_fixed_value_survives_the_config_round_trip_and_enters_the_permission_digest() -> None:
    m = parse_source(_env(value="/pkg/vendor")).with_runtime(DIGEST)
    assert parse_config(config_bytes(m)) == m
    other = parse_source(_env(value="/pkg/other")).with_runtime(DIGEST)
    unset = parse_source(_env()).with_runtime(DIGEST)
    assert len({digest_of(m), digest_of(other), digest_of(unset)}) == 3


@pytest.mark.parametrize(
    "value",
    ["--max-old-space-size=512 --enable-source-maps", "safe.directory=*", "ü/€", "0"],
)
def test_ordinary_values_are_accepted(value: str) -> None:
    assert parse_source(_env(value=value)).permissions.env[0].value == value


def test_a_secret_cannot_have_a_value() -> None:
    assert _problems(_env(value="hunter2", secret=True)) == [
        f"permissions.env[0].value: {FIXED_VALUE_IS_PUBLIC}"
    ]


def test_a_fixed_value_is_not_also_required() -> None:
    assert _problems(_env(value="/pkg/vendor", required=True)) == [
        f"permissions.env[0].required: {FIXED_VALUE_IS_SET}"
    ]


def test_secret_false_and_required_false_go_with_a_value() -> None:
    parse_source(_env(value="/pkg/vendor", secret=False, required=False))


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("a\nb", "must not contain control or invisible characters (found \\x0a at character 2)"),
        (
            "a\x1b[2Jb",
            "must not contain control or invisible characters (found \\x1b at character 2)",
        ),
        (
            "a\u202eb",
            "must not contain control or invisible characters (found \\u202e at character 2)",
        ),
        ("a\x00b", "must not contain control or invisible characters (found \\x00 at character 2)"),
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        (" /pkg", "must not start or end with whitespace; this field is one line of text"),
        ("x" * 4097, "must be at most 4096 characters"),
        (5, "must be a string"),
        (True, "must be a string"),
    ],
)
def test_a_value_obeys_the_text_rules_of_manifest_strings(value: Any, problem: str) -> None:
    (line,) = _problems(_env(value=value))
    assert line.startswith("permissions.env[0].value: "), line
    assert problem in line, line


@pytest.mark.parametrize("name", ["PATH", "HOME", "LD_PRELOAD", "MPPOCI_HOME"])
def test_the_refused_names_stay_refused_with_a_value(name: str) -> None:
    (line,) = _problems(_with({"env": [{"name": name, "why": "w", "value": "/x"}]}))
    assert line.startswith("permissions.env[0].name: ")


# --- filesystem[].required --------------------------------------------------------


def _folder(**entry: Any) -> bytes:
    return _with(
        {"filesystem": [{"name": "repo", "path": "/repo", "why": "the repository", **entry}]}
    )


def test_a_required_folder_is_parsed_and_kept_in_the_normalised_document() -> None:
    m = parse_source(_folder(required=True))
    assert m.permissions.filesystem == (
        FilesystemGrant("repo", "/repo", "the repository", required=True),
    )
    assert to_document(m)["permissions"]["filesystem"] == [
        {
            "name": "repo",
            "path": "/repo",
            "access": "read",
            "why": "the repository",
            "required": True,
        }
    ]


def test_a_folder_not_required_keeps_its_document_and_digest() -> None:
    for data in (_folder(), _folder(required=False)):
        m = parse_source(data)
        assert m.permissions.filesystem[0].required is False
        assert to_document(m)["permissions"]["filesystem"] == [
            {"name": "repo", "path": "/repo", "access": "read", "why": "the repository"}
        ]
    assert digest_of(parse_source(_folder())) == digest_of(parse_source(_folder(required=False)))


def test_required_enters_the_config_and_the_permission_digest() -> None:
    m = parse_source(_folder(required=True)).with_runtime(DIGEST)
    assert parse_config(config_bytes(m)) == m
    assert digest_of(m) != digest_of(parse_source(_folder()))


def test_required_must_be_a_boolean() -> None:
    assert _problems(_folder(required="yes")) == [
        "permissions.filesystem[0].required: must be true or false"
    ]
