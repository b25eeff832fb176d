"""Whatever the input, the parsers either return a Manifest or raise ManifestError.

And whatever they accept survives the config round trip and passes the schema.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from mppoci.digest import Digest
from mppoci.errors import ManifestError
from mppoci.manifest import Manifest, config_bytes, parse_config, parse_source, to_document

ROOT = Path(__file__).parent.parent.parent
MAXIMAL = (ROOT / "tests" / "assets" / "manifests" / "valid-maximal.yaml").read_bytes()
GOOD: dict[str, Any] = yaml.safe_load(MAXIMAL)
SCHEMA = Draft202012Validator(json.loads((ROOT / "schema" / "mpp-v1.schema.json").read_bytes()))
DIGEST = Digest("sha256:" + "5a" * 32)

# The number of examples comes from the hypothesis profile (tests/conftest.py).
pytestmark = pytest.mark.fuzz

# Characters that steer YAML's scanner, so random text reaches deep into it.
YAML_TEXT = st.text(
    alphabet=st.sampled_from([*"abc019 :-[]{},&*!|>'\"#%@`?\n\t.<=~\\_/", chr(0xD800), "é"]),
    max_size=200,
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _only_manifest_error(call: Any, data: bytes) -> Manifest | None:
    try:
        result: Manifest = call(data)
    except ManifestError:
        return None
    return result


@given(st.binary(max_size=400))
def test_random_bytes_never_raise_anything_but_manifest_error(data: bytes) -> None:
    _only_manifest_error(parse_source, data)
    _only_manifest_error(parse_config, data)


@given(YAML_TEXT)
def test_random_yaml_text_never_raises_anything_but_manifest_error(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    _only_manifest_error(parse_source, data)
    _only_manifest_error(parse_source, MAXIMAL + b"\n" + data)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


PATHS = _paths(GOOD)[1:]


def _round_trip_holds(m: Manifest) -> None:
    pinned = m.with_runtime(DIGEST)
    assert parse_config(config_bytes(pinned)) == pinned
    assert list(SCHEMA.iter_errors(to_document(pinned))) == []
    assert parse_source(json.dumps(to_document(m)).encode()) == m


def _replaced_is_consistent(good: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    """``good`` with ``value`` at ``path`` is refused, or accepted consistently."""
    doc = copy.deepcopy(good)
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    data = yaml.safe_dump(doc, allow_unicode=True).encode("utf-8", "surrogatepass")
    m = _only_manifest_error(parse_source, data)
    if m is not None:
        _round_trip_holds(m)


@given(st.sampled_from(PATHS), JSON_VALUES)
def test_a_value_replaced_anywhere_is_accepted_consistently_or_refused(
    path: tuple[Any, ...], value: Any
) -> None:
    _replaced_is_consistent(GOOD, path, value)


def _with_issue_19_fields() -> dict[str, Any]:
    """GOOD with a draft-07 input schema, a fixed variable and a required folder."""
    doc = copy.deepcopy(GOOD)
    doc["tools"][0]["inputSchema"] = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"pair": {"type": "array", "items": [{"type": "string"}, {}]}},
        "definitions": {"n": {"type": "integer"}},
    }
    doc["permissions"]["filesystem"][0]["required"] = True
    doc["permissions"]["env"].append({"name": "PYTHONPATH", "why": "Vendored.", "value": "/pkg/v"})
    return doc


GOOD_19 = _with_issue_19_fields()
PATHS_19 = _paths(GOOD_19)[1:]


@given(st.sampled_from(PATHS_19), JSON_VALUES)
def test_a_value_replaced_in_a_draft_07_fixed_value_required_folder_manifest(
    path: tuple[Any, ...], value: Any
) -> None:
    _replaced_is_consistent(GOOD_19, path, value)


def test_the_issue_19_seed_is_valid() -> None:
    _round_trip_holds(parse_source(yaml.safe_dump(GOOD_19).encode()))


@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_a_changed_config_byte_is_refused_or_means_the_same(position: int, byte: int) -> None:
    config = config_bytes(parse_source(MAXIMAL).with_runtime(DIGEST))
    position %= len(config)
    changed = config[:position] + bytes([byte]) + config[position + 1 :]
    m = _only_manifest_error(parse_config, changed)
    if m is not None:
        # Accepted only if it is again a canonical config: then it is exactly its own bytes.
        assert config_bytes(m) == changed


@given(
    st.sampled_from(["memory", "tmp"]),
    st.one_of(
        st.integers(min_value=0, max_value=2**40),
        st.from_regex(r"[0-9]{1,6}(\.[0-9]{1,3})?(Ki|Mi|Gi|k|M|G)?", fullmatch=True),
    ),
    st.integers(min_value=10, max_value=64_000),
)
def test_resource_values_round_trip(field: str, size: int | str, millicores: int) -> None:
    doc = copy.deepcopy(GOOD)
    doc["permissions"]["resources"][field] = size
    doc["permissions"]["resources"]["cpus"] = f"{millicores // 1000}.{millicores % 1000:03d}"
    m = _only_manifest_error(parse_source, yaml.safe_dump(doc).encode())
    if m is not None:
        assert m.permissions.resources.millicores == millicores
        _round_trip_holds(m)
