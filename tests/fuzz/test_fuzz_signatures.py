"""Round trips for signature payloads and signature manifests, which
tests/signing/test_signing_fuzz.py (hostile input only) does not cover, and
appending a signature to a hostile existing ``.sig`` manifest."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mppoci.digest import Digest, sha256_digest
from mppoci.signing.cosign_manifest import (
    SIGNATURE_ANNOTATION,
    SIMPLESIGNING_MEDIA_TYPE,
    SignatureLayer,
    append_signature,
    build_signature_manifest,
    parse_signature_manifest,
)
from mppoci.signing.payload import Payload, make_payload, parse_payload
from tests.fuzz.support import documents, hostile_text, parsed_or_our_error

pytestmark = pytest.mark.fuzz

DIGESTS = st.sampled_from([Digest("sha256:" + c * 64) for c in "0a5f"])


@given(DIGESTS, hostile_text, st.none() | st.dictionaries(hostile_text, hostile_text, max_size=4))
def test_payloads_round_trip(
    digest: Digest, reference: str, annotations: dict[str, str] | None
) -> None:
    payload = parsed_or_our_error(lambda: make_payload(digest, reference, annotations))
    if payload is None:
        return
    assert parse_payload(payload) == Payload(digest, reference, annotations or {})
    # Go's escapes: cosign would write these bytes for the same claim.
    assert not any(c in payload for c in (b"<", b">", b"&"))


# Text mppoci itself may put into a layer (never a lone surrogate).
text = hostile_text.filter(lambda t: not any("\ud800" <= c <= "\udfff" for c in t))

layers = st.builds(
    SignatureLayer,
    payload_digest=DIGESTS,
    payload_size=st.integers(0, 2**40),
    signature=text,
    annotations=st.dictionaries(text.filter(lambda k: k != SIGNATURE_ANNOTATION), text, max_size=2),
)


@given(st.lists(layers, min_size=1, max_size=5))
def test_signature_manifests_round_trip(signatures: list[SignatureLayer]) -> None:
    built = parsed_or_our_error(lambda: build_signature_manifest(signatures))
    if built is None:
        return
    config, manifest = built
    assert parse_signature_manifest(manifest) == tuple(signatures)
    assert json.loads(manifest)["config"]["digest"] == sha256_digest(config)


EXISTING = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": "sha256:" + "c" * 64,
        "size": 233,
    },
    "layers": [
        {
            "mediaType": SIMPLESIGNING_MEDIA_TYPE,
            "digest": "sha256:" + "d" * 64,
            "size": 250,
            "annotations": {SIGNATURE_ANNOTATION: "MEUCIQ=="},
        },
        {"mediaType": "application/x-other", "digest": "sha256:" + "e" * 64, "size": 1},
    ],
}


# A signature manifest from a registry whose annotation is a lone surrogate:
# appending the local signature to it (pull, sign) crashed with UnicodeEncodeError.
SURROGATE_ANNOTATION = json.dumps(
    {
        **EXISTING,
        "layers": [
            {**EXISTING["layers"][0], "annotations": {SIGNATURE_ANNOTATION: "x", "k": "\ud800"}}
        ],
    }
).encode()


@given(documents(EXISTING), layers)
@example(SURROGATE_ANNOTATION, SignatureLayer(Digest("sha256:" + "0" * 64), 1, "sig"))
def test_appending_to_a_hostile_signature_manifest_keeps_or_refuses(
    existing: bytes, layer: SignatureLayer
) -> None:
    result = parsed_or_our_error(lambda: append_signature(existing, layer))
    if result is None:
        return
    _, manifest = result
    after = parse_signature_manifest(manifest)
    assert layer in after
    # Every signature the old manifest held is still there, in order, before the new one.
    before = parse_signature_manifest(existing)
    assert after[: len(before)] == before
