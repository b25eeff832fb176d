"""Valid manifests: defaults, normalisation, and the config round trip."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mppoci.canonical import canonical_json
from mppoci.digest import Digest, sha256_digest
from mppoci.errors import ManifestError
from mppoci.manifest import (
    DEFAULT_RESOURCES,
    Access,
    Manifest,
    Protocol,
    RuntimeRef,
    config_bytes,
    parse_config,
    parse_source,
    permissions_digest,
    to_document,
)
from mppoci.manifest.units import format_cpus, parse_cpus, parse_duration, parse_quantity

ASSETS = Path(__file__).parent.parent / "assets" / "manifests"
MINIMAL = (ASSETS / "valid-minimal.yaml").read_bytes()
MAXIMAL = (ASSETS / "valid-maximal.yaml").read_bytes()
DIGEST = Digest("sha256:" + "0123456789abcdef" * 4)
NOT_CANONICAL = (
    "config is not in canonical form; it must be byte for byte what mppoci build writes "
    "(rebuild the package)"
)


def _yaml(doc: dict[str, Any]) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode("utf-8")


def _maximal_doc() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(MAXIMAL)
    return doc


# --- minimal and maximal ------------------------------------------------------


def test_minimal_manifest_gets_every_default() -> None:
    m = parse_source(MINIMAL)
    assert m.name == "acme/hello"
    assert (m.publisher, m.tool_name) == ("acme", "hello")
    assert m.runtime == RuntimeRef("python3", None)
    assert m.protocol is Protocol.CLI
    (tool,) = m.tools
    assert tool.input_schema == {"type": "object"}
    assert tool.annotations.read_only_hint is False
    assert tool.annotations.destructive_hint is True
    assert tool.requires_confirmation is True
    p = m.permissions
    assert (p.filesystem, p.egress, p.env, p.storage) == ((), (), (), ())
    assert p.resources == DEFAULT_RESOURCES
    assert p.resources.memory.byte_count == 256 * 1024 * 1024
    assert p.resources.millicores == 1000
    assert p.resources.timeout.milliseconds == 30_000
    assert p.resources.tmp.byte_count == 64 * 1024 * 1024


def test_minimal_manifest_normalised_document_is_the_full_form() -> None:
    assert to_document(parse_source(MINIMAL)) == {
        "schemaVersion": 1,
        "name": "acme/hello",
        "version": "0.1.0",
        "description": "Say hello",
        "authors": ["Ada"],
        "license": "MIT",
        "runtime": "python3",
        "entrypoint": ["python3", "/pkg/hello.py"],
        "protocol": "cli",
        "tools": [
            {
                "name": "hello",
                "description": "Print a greeting",
                "inputSchema": {"type": "object"},
                "annotations": {
                    "readOnlyHint": False,
                    "destructiveHint": True,
                    "idempotentHint": False,
                    "openWorldHint": True,
                },
                "requiresConfirmation": True,
            }
        ],
        "permissions": {
            "filesystem": [],
            "network": {"egress": []},
            "env": [],
            "storage": [],
            "resources": {
                "memory": "256Mi",
                "cpus": "1",
                "pids": 64,
                "timeout": "30s",
                "tmp": "64Mi",
            },
        },
    }


def test_maximal_manifest_reads_every_field() -> None:
    m = parse_source(MAXIMAL)
    assert m.version == "1.2.0-rc.1+build.5"
    assert m.authors == ("Ada Lovelace <ada@acme.test>", "Charles Babbage")
    assert m.protocol is Protocol.MCP
    query, export = m.tools
    assert query.annotations.title == "Query"
    assert query.input_schema["required"] == ["sql"]
    assert query.requires_confirmation is False
    assert export.requires_confirmation is True
    p = m.permissions
    assert [(g.name, g.path, g.access) for g in p.filesystem] == [
        ("data", "/data", Access.READ),
        ("out", "/out", Access.READ_WRITE),
    ]
    # Sorted by host: the lists are sets.
    assert [(e.host, e.port) for e in p.egress] == [
        ("*.cdn.acme.test", 443),
        ("api.acme.test", 443),
    ]
    assert p.env[0].secret and p.env[0].required
    assert p.storage[0].size.byte_count == 100 * 1024 * 1024
    assert p.resources.memory.byte_count == 512 * 1024 * 1024
    assert p.resources.millicores == 500
    assert p.resources.cpus == "0.5"
    assert p.resources.pids == 128
    assert p.resources.timeout.milliseconds == 120_000
    assert p.resources.timeout.seconds == 120.0


def test_manifest_is_frozen_and_its_input_schema_cannot_be_changed_through_a_copy() -> None:
    m = parse_source(MAXIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.name = "evil/tool"  # type: ignore[misc]
    schema = m.tools[0].input_schema
    schema["properties"]["sql"]["type"] = "integer"
    assert m.tools[0].input_schema["properties"]["sql"]["type"] == "string"
    assert hash(m) == hash(parse_source(MAXIMAL))


# --- requiresConfirmation -----------------------------------------------------


@pytest.mark.parametrize(
    ("annotations", "explicit", "expected"),
    [
        ({}, None, True),
        ({"readOnlyHint": True}, None, False),
        ({"destructiveHint": False}, None, False),
        ({"readOnlyHint": True, "destructiveHint": True}, None, False),
        ({"readOnlyHint": True}, True, True),
        ({"destructiveHint": False}, True, True),
        ({"destructiveHint": False}, False, False),
        ({}, True, True),
    ],
    ids=[
        "default-is-destructive",
        "read-only",
        "not-destructive",
        "read-only-wins-over-destructive",
        "read-only-may-still-ask",
        "non-destructive-may-still-ask",
        "non-destructive-may-say-no",
        "destructive-may-say-yes",
    ],
)
def test_requires_confirmation_is_computed_from_annotations(
    annotations: dict[str, bool], explicit: bool | None, expected: bool
) -> None:
    doc = _maximal_doc()
    tool: dict[str, Any] = {"name": "t", "description": "d", "annotations": annotations}
    if explicit is not None:
        tool["requiresConfirmation"] = explicit
    doc["tools"] = [tool]
    assert parse_source(_yaml(doc)).tools[0].requires_confirmation is expected


# --- normalisation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "text", "millicores"),
    [("1.500", "1.5", 1500), (2, "2", 2000), (0.25, "0.25", 250), ("0.01", "0.01", 10)],
)
def test_cpus_are_normalised(written: object, text: str, millicores: int) -> None:
    doc = _maximal_doc()
    doc["permissions"]["resources"]["cpus"] = written
    m = parse_source(_yaml(doc))
    assert m.permissions.resources.millicores == millicores
    assert to_document(m)["permissions"]["resources"]["cpus"] == text


def test_quantities_keep_the_authors_text_and_ints_become_text() -> None:
    doc = _maximal_doc()
    doc["permissions"]["resources"]["memory"] = 268435456
    doc["permissions"]["resources"]["tmp"] = "1.5Gi"
    m = parse_source(_yaml(doc))
    resources = to_document(m)["permissions"]["resources"]
    assert resources["memory"] == "268435456"
    assert resources["tmp"] == "1.5Gi"
    assert m.permissions.resources.tmp.byte_count == 3 * 512 * 1024 * 1024


@pytest.mark.parametrize(
    "runtime",
    [
        f"python3@{DIGEST}",
        f"ghcr.io/acme/python@{DIGEST}",
        f"127.0.0.1:5000/acme/runtimes/python@{DIGEST}",
        f"localhost:5000/python@{DIGEST}",
        f"[::1]:5000/acme/python@{DIGEST}",
    ],
)
def test_pinned_runtimes_are_accepted(runtime: str) -> None:
    doc = _maximal_doc()
    doc["runtime"] = runtime
    m = parse_source(_yaml(doc))
    assert str(m.runtime) == runtime
    assert m.runtime.digest == DIGEST
    assert m.runtime.is_registry_reference is ("/" in runtime)


@pytest.mark.parametrize(
    ("host", "flag"),
    [
        ("api.acme.test", False),
        ("localhost", False),
        ("*.acme.test", False),
        ("*", True),
    ],
)
def test_egress_host_forms_are_accepted(host: str, flag: bool) -> None:
    doc = _maximal_doc()
    doc["permissions"]["network"]["egress"] = [
        {"host": host, "port": 443, "why": "w", "dangerouslyAllowAnyHost": flag}
    ]
    assert parse_source(_yaml(doc)).permissions.egress[0].host == host


@pytest.mark.parametrize(
    ("address", "words"),
    [
        (
            "10.0.12.7",
            "Connect to a machine on your private network: 10.0.12.7:5432 (as db.internal)",
        ),
        (
            "192.168.4.0/24",
            "Connect to machines on your private network in 192.168.4.0/24, port 5432",
        ),
        ("100.64.1.2", "Connect to a machine on your private network: 100.64.1.2:5432"),
        ("fd12:3456::7", "Connect to a machine on your private network: [fd12:3456::7]:5432"),
    ],
)
def test_a_declared_private_address_is_kept_shown_in_plain_words_and_part_of_the_permission(
    address: str, words: str
) -> None:
    from mppoci.approval.words import permission_lines
    from mppoci.manifest import permissions_digest

    doc = _maximal_doc()
    entry = {"host": "db.internal", "port": 5432, "why": "the database"}
    doc["permissions"]["network"]["egress"] = [entry]
    without = parse_source(_yaml(doc))
    doc["permissions"]["network"]["egress"] = [{**entry, "address": address}]
    m = parse_source(_yaml(doc))
    assert m.permissions.egress[0].address == address
    assert any(line.startswith(words) for line in permission_lines(m)), permission_lines(m)
    # It is a permission: approving the entry without it does not approve it.
    assert permissions_digest(m) != permissions_digest(without)


def test_mount_paths_that_only_look_reserved_are_accepted() -> None:
    doc = _maximal_doc()
    doc["permissions"]["filesystem"] = [
        {"name": "a", "path": "/process", "why": "w"},
        {"name": "b", "path": "/pkgdata", "why": "w"},
        {"name": "c", "path": "/tmpfiles", "why": "w"},
        {"name": "d", "path": "/data", "why": "w"},
        {"name": "e", "path": "/database", "why": "w"},
    ]
    assert len(parse_source(_yaml(doc)).permissions.filesystem) == 5


def test_json_style_numbers_and_escapes_mean_the_same_in_yaml() -> None:
    # YAML 1.1 would read 1e6 as text and "\\ud83d\\ude00" as two lone surrogates.
    doc = _maximal_doc()
    doc["tools"][0]["inputSchema"]["properties"]["limit"]["maximum"] = 1e6
    doc["description"] = "Fast \U0001f600"
    m = parse_source(json.dumps(doc).encode())
    assert m.tools[0].input_schema["properties"]["limit"]["maximum"] == 1e6
    assert m.description == "Fast \U0001f600"
    assert m == parse_source(_yaml(doc))


# --- the config round trip ----------------------------------------------------


@pytest.mark.parametrize("source", [MINIMAL, MAXIMAL], ids=["minimal", "maximal"])
def test_config_round_trip_gives_the_same_manifest(source: bytes) -> None:
    m = parse_source(source).with_runtime(DIGEST)
    data = config_bytes(m)
    assert data == canonical_json(to_document(m))
    assert parse_config(data) == m


@pytest.mark.parametrize("source", [MINIMAL, MAXIMAL], ids=["minimal", "maximal"])
def test_normalised_document_is_itself_a_valid_source(source: bytes) -> None:
    m = parse_source(source)
    assert parse_source(_yaml(to_document(m))) == m


def test_unicode_survives_the_round_trip() -> None:
    doc = _maximal_doc()
    doc["description"] = "Requêtes SQL sur des fichiers CSV — 表"
    m = parse_source(_yaml(doc)).with_runtime(DIGEST)
    assert parse_config(config_bytes(m)).description == doc["description"]


def _config_of(source: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(config_bytes(parse_source(source).with_runtime(DIGEST)))
    return doc


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda doc: json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False).encode(),
        lambda doc: json.dumps(
            dict(reversed(doc.items())), separators=(",", ":"), ensure_ascii=False
        ).encode(),
        lambda doc: canonical_json(doc) + b"\n",
        lambda doc: json.dumps(doc, sort_keys=True, separators=(",", ":")).encode(),
    ],
    ids=["pretty-printed", "keys-unsorted", "trailing-newline", "ascii-escaped"],
)
def test_parse_config_refuses_bytes_that_are_not_canonical(rewrite: Any) -> None:
    doc = _config_of(MAXIMAL)
    doc["description"] = "Requêtes"  # non-ASCII, so escaping it changes the bytes
    assert parse_config(canonical_json(doc)).description == "Requêtes"
    data = rewrite(doc)
    assert data != canonical_json(doc)
    with pytest.raises(ManifestError) as caught:
        parse_config(data)
    assert caught.value.problems == [("", NOT_CANONICAL)]


def test_parse_config_refuses_a_byte_order_mark() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_config(b"\xef\xbb\xbf" + canonical_json(_config_of(MINIMAL)))
    assert caught.value.problems[0][1].startswith("line 1, column 1: invalid JSON")


def test_parse_config_refuses_a_config_with_defaults_left_out() -> None:
    doc = yaml.safe_load(MINIMAL)
    doc["runtime"] = f"python3@{DIGEST}"
    with pytest.raises(ManifestError) as caught:
        parse_config(canonical_json(doc))
    assert caught.value.problems == [("", NOT_CANONICAL)]


def test_parse_config_refuses_unsorted_permission_lists() -> None:
    doc = _config_of(MAXIMAL)
    doc["permissions"]["network"]["egress"].reverse()
    with pytest.raises(ManifestError) as caught:
        parse_config(canonical_json(doc))
    assert caught.value.problems == [("", NOT_CANONICAL)]


def test_parse_config_refuses_an_unresolved_runtime() -> None:
    doc = _config_of(MINIMAL)
    doc["runtime"] = "python3"
    with pytest.raises(ManifestError) as caught:
        parse_config(canonical_json(doc))
    assert caught.value.problems == [
        ("runtime", "must carry a digest in a package config (NAME@sha256:<digest>)")
    ]
    assert caught.value.source == "package config"


def test_parse_config_applies_the_same_rules_as_the_source() -> None:
    doc = _config_of(MAXIMAL)
    doc["permissions"]["filesystem"][0]["path"] = "/var/run/docker.sock"
    with pytest.raises(ManifestError) as caught:
        parse_config(canonical_json(doc))
    assert caught.value.problems[0][0] == "permissions.filesystem[0].path"


def test_config_bytes_refuses_an_unresolved_runtime() -> None:
    with pytest.raises(ManifestError) as caught:
        config_bytes(parse_source(MINIMAL))
    assert caught.value.problems[0][0] == "runtime"


def test_config_bytes_refuses_a_hand_made_manifest_that_breaks_the_rules() -> None:
    m = parse_source(MINIMAL).with_runtime(DIGEST)
    tool = dataclasses.replace(m.tools[0], requires_confirmation=False)
    bad: Manifest = dataclasses.replace(m, tools=(tool,))
    with pytest.raises(ManifestError):
        config_bytes(bad)


def test_with_runtime_refuses_a_non_digest() -> None:
    with pytest.raises(ValueError, match="not a digest"):
        parse_source(MINIMAL).with_runtime(Digest("sha256:abc"))


def test_yaml_key_order_whitespace_and_comments_do_not_change_the_config() -> None:
    def reverse_keys(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: reverse_keys(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reverse_keys(v) for v in value]
        return value

    doc = _maximal_doc()
    reordered = reverse_keys(doc)
    # The permission lists are sets too: their order must not matter either.
    for key in ("filesystem", "storage", "env"):
        reordered["permissions"][key].reverse()
    reordered["permissions"]["network"]["egress"].reverse()
    variants = [
        MAXIMAL,
        yaml.safe_dump(reordered, sort_keys=False).encode(),
        yaml.safe_dump(doc, default_flow_style=True, width=10_000).encode(),
        b"# a comment\n\n" + yaml.safe_dump(doc, indent=4, sort_keys=True).encode() + b"\n\n",
        json.dumps(doc, indent=3).encode(),  # JSON is YAML too
    ]
    configs = {config_bytes(parse_source(v).with_runtime(DIGEST)) for v in variants}
    assert len(configs) == 1


# --- the permission digest ----------------------------------------------------


def _digest_after(change: Any) -> Digest:
    doc = _maximal_doc()
    change(doc)
    return permissions_digest(parse_source(_yaml(doc)))


def test_permissions_digest_is_sha256_of_the_canonical_permissions() -> None:
    m = parse_source(MAXIMAL)
    assert permissions_digest(m) == sha256_digest(canonical_json(to_document(m)["permissions"]))


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["permissions"]["network"]["egress"][0].update(port=8443),
        lambda d: d["permissions"]["network"]["egress"][0].update(host="evil.test"),
        lambda d: d["permissions"]["filesystem"][0].update(access="read-write"),
        lambda d: d["permissions"]["env"].append({"name": "MORE", "why": "w"}),
        lambda d: d["permissions"]["resources"].update(memory="1Gi"),
        lambda d: d["permissions"]["resources"].update(timeout="1h"),
        lambda d: d["permissions"]["storage"][0].update(size="1Gi"),
        lambda d: d["permissions"]["filesystem"][0].update(why="Something else"),
    ],
    ids=[
        "port",
        "host",
        "access",
        "env-added",
        "memory",
        "timeout",
        "storage-size",
        "why",
    ],
)
def test_permissions_digest_changes_when_a_permission_changes(change: Any) -> None:
    assert _digest_after(change) != permissions_digest(parse_source(MAXIMAL))


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(description="A different description"),
        lambda d: d.update(version="9.9.9"),
        lambda d: d["tools"][0].update(description="Different"),
        lambda d: d["permissions"]["network"]["egress"].reverse(),
        lambda d: d["permissions"]["resources"].update(memory="512Mi", cpus="0.500"),
    ],
    ids=["description", "version", "tool-description", "egress-order", "same-values-rewritten"],
)
def test_permissions_digest_does_not_change_when_nothing_granted_changes(change: Any) -> None:
    assert _digest_after(change) == permissions_digest(parse_source(MAXIMAL))


def test_permissions_digest_of_minimal_manifest_is_stable() -> None:
    # Omitted permissions and explicitly written defaults are the same grant.
    doc = yaml.safe_load(MINIMAL)
    explicit = copy.deepcopy(doc)
    explicit["permissions"] = {
        "filesystem": [],
        "network": {"egress": []},
        "resources": {"memory": "256Mi", "cpus": 1, "pids": 64, "timeout": "30s", "tmp": "64Mi"},
    }
    assert permissions_digest(parse_source(_yaml(doc))) == permissions_digest(
        parse_source(_yaml(explicit))
    )


# --- units --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        (1024, 1024),
        ("1Ki", 1024),
        ("1k", 1000),
        ("256Mi", 256 * 1024**2),
        ("1.5Gi", 3 * 512 * 1024**2),
        ("2T", 2 * 10**12),
        ("1Ti", 1024**4),
        ("0.5", 1),  # rounded up to a whole byte
        ("0.1Ki", 103),
    ],
)
def test_parse_quantity(text: str | int, expected: int) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    ("text", "ms"), [("500ms", 500), ("30s", 30_000), ("5m", 300_000), ("24h", 86_400_000)]
)
def test_parse_duration(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize(
    ("value", "millicores", "text"),
    [
        ("0.5", 500, "0.5"),
        (0.5, 500, "0.5"),
        (2, 2000, "2"),
        ("0.125", 125, "0.125"),
        ("10.05", 10050, "10.05"),
    ],
)
def test_parse_and_format_cpus(value: str | int | float, millicores: int, text: str) -> None:
    assert parse_cpus(value) == millicores
    assert format_cpus(millicores) == text
