"""The simple-signing payload: made exactly as cosign makes it, parsed strictly
where it makes a claim."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mppoci.digest import Digest
from mppoci.errors import SignatureError, UserInputError
from mppoci.signing.payload import MAX_PAYLOAD_BYTES, SIGNATURE_TYPE, make_payload, parse_payload

DIGEST = Digest("sha256:" + "ab" * 32)


def payload_doc() -> dict[str, Any]:
    return {
        "critical": {
            "identity": {"docker-reference": "ghcr.io/acme/csv-query"},
            "image": {"docker-manifest-digest": DIGEST},
            "type": SIGNATURE_TYPE,
        },
        "optional": None,
    }


def encode(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def test_payload_round_trips() -> None:
    data = make_payload(DIGEST, "acme/csv-query", {"b": "2", "a": "1"})
    claim = parse_payload(data)
    assert claim.digest == DIGEST
    assert claim.docker_reference == "acme/csv-query"
    assert dict(claim.annotations) == {"a": "1", "b": "2"}


def test_annotations_are_written_as_go_writes_a_map() -> None:
    data = make_payload(DIGEST, "acme/x", {"z": "<&>", "a": "é"})
    assert data.endswith(b'"optional":{"a":"\xc3\xa9","z":"\\u003c\\u0026\\u003e"}}')
    assert parse_payload(data).annotations["z"] == "<&>"


def test_no_annotations_is_null_as_in_cosign() -> None:
    assert make_payload(DIGEST, "acme/x").endswith(b',"optional":null}')


def test_annotations_are_read_only() -> None:
    claim = parse_payload(make_payload(DIGEST, "acme/x", {"a": "1"}))
    with pytest.raises(TypeError):
        claim.annotations["a"] = "2"  # type: ignore[index]


@pytest.mark.parametrize("digest", ["sha256:abc", "sha512:" + "ab" * 64, ""])
def test_make_payload_refuses_a_bad_digest(digest: str) -> None:
    with pytest.raises(UserInputError):
        make_payload(Digest(digest), "acme/x")


def test_make_payload_refuses_an_empty_reference() -> None:
    with pytest.raises(UserInputError):
        make_payload(DIGEST, "")


def mutate(path: str, value: Any) -> dict[str, Any]:
    doc = payload_doc()
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node[part]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("critical.type", "atomic container signature", "type is"),
        ("critical.type", KeyError, "type is None"),
        ("critical.image.docker-manifest-digest", KeyError, "docker-manifest-digest"),
        ("critical.image", KeyError, "critical.image"),
        ("critical.image.docker-manifest-digest", "sha256:" + "AB" * 32, "not a sha256"),
        ("critical.image.docker-manifest-digest", "sha512:" + "ab" * 64, "not a sha256"),
        ("critical.image.docker-manifest-digest", 5, "must be a string"),
        ("critical.image.extra", "x", "exactly the field"),
        ("critical.identity", "acme/x", "critical.identity"),
        ("critical.identity.docker-reference", None, "must be a string"),
        ("critical.unsigned-extra", {}, "unknown fields in 'critical'"),
        ("critical", [], "'critical' is missing"),
        ("critical", KeyError, "'critical' is missing"),
        ("extra", 1, "unknown top-level fields"),
        ("optional", "text", "'optional' must be null or an object"),
    ],
)
def test_payload_that_is_not_cosigns_is_refused(path: str, value: Any, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        parse_payload(encode(mutate(path, value)))


def test_duplicate_keys_are_refused() -> None:
    # Two digests in one payload: a parser that keeps the "other" one would
    # let a signature over one claim be read as another.
    data = make_payload(DIGEST, "acme/x").replace(
        b'"docker-manifest-digest"',
        b'"docker-manifest-digest":"sha256:' + b"cd" * 32 + b'","docker-manifest-digest"',
    )
    with pytest.raises(SignatureError, match="duplicate"):
        parse_payload(data)


def test_oversize_payload_is_refused() -> None:
    doc = payload_doc()
    doc["optional"] = {"pad": "x" * MAX_PAYLOAD_BYTES}
    with pytest.raises(SignatureError, match="over the limit"):
        parse_payload(encode(doc))


@pytest.mark.parametrize(
    "data", [b"", b"[]", b"null", b"\xff\xfe", b'{"critical":', b"{" * 100_000]
)
def test_payload_that_is_not_a_json_object_is_refused(data: bytes) -> None:
    with pytest.raises(SignatureError):
        parse_payload(data)


def test_missing_optional_and_non_string_optional_values_are_accepted() -> None:
    doc = payload_doc()
    del doc["optional"]
    assert parse_payload(encode(doc)).annotations == {}
    doc["optional"] = {"timestamp": 1657296609, "nested": {"a": 1}, "creator": "skopeo"}
    assert dict(parse_payload(encode(doc)).annotations) == {"creator": "skopeo"}
