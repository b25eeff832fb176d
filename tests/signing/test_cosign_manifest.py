"""cosign's ``.sig`` manifest: built as cosign builds it, read strictly, and
appended to without losing earlier signatures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mppoci.digest import Digest, sha256_digest
from mppoci.errors import SignatureError, UserInputError
from mppoci.oci.mediatypes import OCI_MANIFEST
from mppoci.oci.model import parse_image_manifest
from mppoci.signing.cosign_manifest import (
    MAX_SIGNATURE_LAYERS,
    OCI_CONFIG_MEDIA_TYPE,
    SIGNATURE_ANNOTATION,
    SIMPLESIGNING_MEDIA_TYPE,
    SignatureLayer,
    append_signature,
    build_signature_manifest,
    parse_signature_manifest,
    signature_tag,
)
from mppoci.signing.ecdsa import sign_payload, verify_signature
from mppoci.signing.keys import generate_key_pair, load_private_key, load_public_key
from mppoci.signing.payload import make_payload

SIGNED = Digest("sha256:" + "ab" * 32)


def layer(n: int, signature: str = "", **annotations: str) -> SignatureLayer:
    payload = make_payload(SIGNED, f"acme/tool-{n}")
    return SignatureLayer(
        payload_digest=sha256_digest(payload),
        payload_size=len(payload),
        signature=signature or f"sig-{n}",
        annotations=annotations,
    )


def test_signature_tag_is_cosigns() -> None:
    assert signature_tag(SIGNED) == "sha256-" + "ab" * 32 + ".sig"
    with pytest.raises(UserInputError):
        signature_tag(Digest("latest"))


def test_config_blob_is_exactly_cosigns() -> None:
    one = layer(1)
    config, manifest = build_signature_manifest([one])
    assert config == (
        b'{"architecture":"","created":"0001-01-01T00:00:00Z",'
        b'"history":[{"created":"0001-01-01T00:00:00Z"}],"os":"",'
        b'"rootfs":{"type":"layers","diff_ids":["' + one.payload_digest.encode() + b'"]},'
        b'"config":{}}'
    )
    parsed = parse_image_manifest(manifest)
    assert parsed.media_type == OCI_MANIFEST
    assert parsed.config.media_type == OCI_CONFIG_MEDIA_TYPE
    assert parsed.config.digest == sha256_digest(config)
    assert parsed.config.size == len(config)
    (only,) = parsed.layers
    assert only.media_type == SIMPLESIGNING_MEDIA_TYPE
    assert only.digest == one.payload_digest and only.size == one.payload_size
    assert dict(only.annotations) == {SIGNATURE_ANNOTATION: "sig-1"}


def test_build_then_parse_round_trips() -> None:
    layers = (layer(1), layer(2, "sig-2", **{"dev.sigstore.cosign/bundle": "{}"}))
    _, manifest = build_signature_manifest(layers)
    assert parse_signature_manifest(manifest) == layers


def test_a_second_signature_is_appended_not_replacing_the_first() -> None:
    first, second = layer(1), layer(2)
    _, manifest = append_signature(None, first)
    config, manifest = append_signature(manifest, second)
    assert parse_signature_manifest(manifest) == (first, second)
    diff_ids = json.loads(config)["rootfs"]["diff_ids"]
    assert diff_ids == [first.payload_digest, second.payload_digest]


def test_the_same_signature_is_not_added_twice() -> None:
    _, manifest = append_signature(None, layer(1))
    _, again = append_signature(manifest, layer(1))
    assert parse_signature_manifest(again) == (layer(1),)
    # Same payload, another signature (another key): both are kept.
    _, other = append_signature(manifest, layer(1, "sig-from-another-key"))
    assert len(parse_signature_manifest(other)) == 2


def manifest_with(layers: list[dict[str, Any]]) -> bytes:
    config = b"{}"
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG_MEDIA_TYPE,
            "digest": sha256_digest(config),
            "size": len(config),
        },
        "layers": layers,
    }
    return json.dumps(doc).encode()


def layer_json(media_type: str, annotations: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"mediaType": media_type, "digest": "sha256:" + "cd" * 32, "size": 10}
    if annotations is not None:
        out["annotations"] = annotations
    return out


def test_layers_that_cannot_hold_a_signature_are_not_returned_but_are_kept() -> None:
    foreign = layer_json("application/octet-stream", {SIGNATURE_ANNOTATION: "x"})
    unsigned = layer_json(SIMPLESIGNING_MEDIA_TYPE, None)
    existing = manifest_with([foreign, unsigned])
    assert parse_signature_manifest(existing) == ()
    _, manifest = append_signature(existing, layer(1))
    assert parse_signature_manifest(manifest) == (layer(1),)
    assert len(parse_image_manifest(manifest).layers) == 3


def test_too_many_signature_layers_are_refused() -> None:
    many = [layer_json(SIMPLESIGNING_MEDIA_TYPE, {SIGNATURE_ANNOTATION: "x"})] * (
        MAX_SIGNATURE_LAYERS + 1
    )
    with pytest.raises(SignatureError, match=f"at most {MAX_SIGNATURE_LAYERS}"):
        parse_signature_manifest(manifest_with(many))
    full = manifest_with(many[:MAX_SIGNATURE_LAYERS])
    assert len(parse_signature_manifest(full)) == MAX_SIGNATURE_LAYERS
    with pytest.raises(UserInputError, match="at most"):
        append_signature(full, layer(1))


def test_empty_signature_manifest_is_not_built() -> None:
    with pytest.raises(UserInputError):
        build_signature_manifest([])


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{}",
        b'{"schemaVersion":2,"layers":[]}',
        manifest_with([layer_json(SIMPLESIGNING_MEDIA_TYPE, {SIGNATURE_ANNOTATION: 5})]),
        manifest_with([{"mediaType": SIMPLESIGNING_MEDIA_TYPE, "digest": "sha256:x", "size": 1}]),
    ],
    ids=["empty", "no-fields", "no-config", "non-string-annotation", "bad-digest"],
)
def test_malformed_signature_manifest_is_refused(data: bytes) -> None:
    with pytest.raises(SignatureError):
        parse_signature_manifest(data)
    with pytest.raises(SignatureError):
        append_signature(data, layer(1))


def test_inconsistent_signature_layer_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="disagrees"):
        layer(1, "a", **{SIGNATURE_ANNOTATION: "b"})
    with pytest.raises(ValueError):
        SignatureLayer(Digest("sha256:nope"), 1, "sig")


def test_signature_made_here_verifies_through_the_manifest() -> None:
    private_pem, public_pem = generate_key_pair(b"pw")
    private, public = load_private_key(private_pem, b"pw"), load_public_key(public_pem)
    payload = make_payload(SIGNED, "ghcr.io/acme/tool")
    signed = SignatureLayer(sha256_digest(payload), len(payload), sign_payload(private, payload))
    _, manifest = build_signature_manifest([signed])
    (read,) = parse_signature_manifest(manifest)
    assert read.payload_digest == sha256_digest(payload)
    assert verify_signature(public, payload, read.signature)
