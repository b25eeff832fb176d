"""Signatures made by the real cosign tool verify, and nothing near them does."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from mppoci.digest import Digest, sha256_digest
from mppoci.errors import SignatureError
from mppoci.signing.containers_image import parse_sigstore_json_signature
from mppoci.signing.cosign_manifest import (
    SignatureLayer,
    append_signature,
    parse_signature_manifest,
)
from mppoci.signing.ecdsa import verify_signature
from mppoci.signing.keys import load_public_key, public_key_pem
from mppoci.signing.payload import make_payload, parse_payload

V3_DIGEST = Digest("sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268")


@dataclass(frozen=True)
class Case:
    payload: bytes
    signature: str
    key: ec.EllipticCurvePublicKey
    other_key: ec.EllipticCurvePublicKey
    # The signed manifest's bytes when the vector has them; else its digest.
    manifest: bytes | None
    digest: Digest


# (folder, signature file, key, the other key), as in the vectors' README.
CONTAINERS_IMAGE = {
    "valid": ("dir-img-cosign-valid", "signature-1", "cosign.pub", "cosign2.pub"),
    "valid-with-tag": ("dir-img-cosign-valid-with-tag", "signature-1", "cosign.pub", "cosign2.pub"),
    "valid-2-sig-1": ("dir-img-cosign-valid-2", "signature-1", "cosign.pub", "cosign2.pub"),
    "valid-2-sig-2": ("dir-img-cosign-valid-2", "signature-2", "cosign.pub", "cosign2.pub"),
    "key-rekor-valid": (
        "dir-img-cosign-key-rekor-valid",
        "signature-1",
        "cosign2.pub",
        "cosign.pub",
    ),
}
ALL_CASES = [*CONTAINERS_IMAGE, "cosign-v3-classic"]
# Payloads with "optional": null, which make_payload must reproduce exactly.
REPRODUCIBLE = ["valid", "valid-2-sig-2", "key-rekor-valid", "cosign-v3-classic"]


def load_case(name: str, read: Callable[[str], bytes]) -> Case:
    if name == "cosign-v3-classic":
        return Case(
            payload=read("cosign-v3-classic/payload.json"),
            signature=read("cosign-v3-classic/signature.b64").decode("ascii").strip(),
            key=load_public_key(read("cosign-v3-classic/cosign.pub")),
            other_key=load_public_key(read("containers-image/cosign.pub")),
            manifest=None,
            digest=V3_DIGEST,
        )
    folder, sig_file, key, other = CONTAINERS_IMAGE[name]
    signature = parse_sigstore_json_signature(read(f"containers-image/{folder}/{sig_file}"))
    manifest = read(f"containers-image/{folder}/manifest.json")
    return Case(
        payload=signature.payload,
        signature=signature.signature,
        key=load_public_key(read(f"containers-image/{key}")),
        other_key=load_public_key(read(f"containers-image/{other}")),
        manifest=manifest,
        digest=sha256_digest(manifest),
    )


@pytest.fixture(params=ALL_CASES)
def case(request: pytest.FixtureRequest, read_vector: Callable[[str], bytes]) -> Case:
    return load_case(request.param, read_vector)


def accepted(
    key: ec.EllipticCurvePublicKey, payload: bytes, signature: str, manifest_digest: Digest
) -> bool:
    """What a verifier must do: check the signature over the exact bytes
    first, only then parse the payload and compare its digest claim."""
    if not verify_signature(key, payload, signature):
        return False
    return parse_payload(payload).digest == manifest_digest


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def test_real_cosign_signature_is_accepted(case: Case) -> None:
    assert accepted(case.key, case.payload, case.signature, case.digest)


def test_signature_under_another_key_is_refused(case: Case) -> None:
    assert not verify_signature(case.other_key, case.payload, case.signature)
    assert not accepted(case.other_key, case.payload, case.signature, case.digest)


def test_any_one_byte_change_to_the_payload_is_refused(case: Case) -> None:
    still_accepted = [
        i
        for i in range(len(case.payload))
        if verify_signature(case.key, flip(case.payload, i), case.signature)
    ]
    assert still_accepted == []


def test_any_one_byte_change_to_the_der_signature_is_refused(case: Case) -> None:
    der = base64.b64decode(case.signature)
    still_accepted = [
        i
        for i in range(len(der))
        if verify_signature(case.key, case.payload, base64.b64encode(flip(der, i)).decode())
    ]
    assert still_accepted == []


def test_any_one_character_change_to_the_base64_signature_is_refused(case: Case) -> None:
    text = case.signature
    still_accepted = []
    for i, char in enumerate(text):
        for replacement in ("A", "B", "=", "/"):
            if replacement != char:
                changed = text[:i] + replacement + text[i + 1 :]
                if verify_signature(case.key, case.payload, changed):
                    still_accepted.append((i, replacement))
    assert still_accepted == []


@pytest.mark.parametrize("name", list(CONTAINERS_IMAGE))
def test_any_one_byte_change_to_the_signed_manifest_breaks_the_digest_claim(
    name: str, read_vector: Callable[[str], bytes]
) -> None:
    case = load_case(name, read_vector)
    assert case.manifest is not None
    still_accepted = [
        i
        for i in range(len(case.manifest))
        if accepted(case.key, case.payload, case.signature, sha256_digest(flip(case.manifest, i)))
    ]
    assert still_accepted == []


def test_v3_classic_payload_claims_the_documented_digest(
    read_vector: Callable[[str], bytes],
) -> None:
    # This vector ships no manifest; the README names the digest it signs.
    case = load_case("cosign-v3-classic", read_vector)
    assert parse_payload(case.payload).digest == V3_DIGEST
    assert not accepted(case.key, case.payload, case.signature, sha256_digest(b"other"))


@pytest.mark.parametrize("name", REPRODUCIBLE)
def test_make_payload_reproduces_cosign_bytes(
    name: str, read_vector: Callable[[str], bytes]
) -> None:
    case = load_case(name, read_vector)
    claim = parse_payload(case.payload)
    assert make_payload(claim.digest, claim.docker_reference) == case.payload


def test_v3_classic_payload_is_reproduced_byte_for_byte(
    read_vector: Callable[[str], bytes],
) -> None:
    expected = read_vector("cosign-v3-classic/payload.json")
    assert make_payload(V3_DIGEST, "localhost:15381/tobby/fixture") == expected


def test_containers_image_vectors_sign_the_manifest_beside_them(
    read_vector: Callable[[str], bytes],
) -> None:
    for name in CONTAINERS_IMAGE:
        case = load_case(name, read_vector)
        assert parse_payload(case.payload).digest == case.digest, name


def test_skopeo_payload_keeps_only_string_optional_values(
    read_vector: Callable[[str], bytes],
) -> None:
    # skopeo puts a numeric timestamp in "optional"; it must not stop verification.
    claim = parse_payload(load_case("valid-with-tag", read_vector).payload)
    assert dict(claim.annotations) == {"creator": "containers/image 5.21.2-dev"}
    assert claim.docker_reference == "192.168.64.2:5000/skopeo-signed:tag"


def test_rekor_bundle_annotation_is_kept_and_not_needed_offline(
    read_vector: Callable[[str], bytes],
) -> None:
    read = read_vector("containers-image/dir-img-cosign-key-rekor-valid/signature-1")
    signature = parse_sigstore_json_signature(read)
    assert "dev.sigstore.cosign/bundle" in signature.annotations


@pytest.mark.parametrize(
    "pub",
    [
        "containers-image/cosign.pub",
        "containers-image/cosign2.pub",
        "cosign-v3-classic/cosign.pub",
        "cosign-v3-classic/bundle-cosign.pub",
        "keys/cosign-label.pub",
    ],
)
def test_public_key_is_written_back_as_cosign_writes_it(
    pub: str, read_vector: Callable[[str], bytes]
) -> None:
    pem = read_vector(pub)
    assert public_key_pem(load_public_key(pem)) == pem


def test_real_signatures_survive_a_sig_manifest_round_trip(
    read_vector: Callable[[str], bytes],
) -> None:
    # Both signatures of valid-2 stacked on one .sig tag, as cosign would.
    cases = [load_case(n, read_vector) for n in ("valid-2-sig-1", "valid-2-sig-2")]
    manifest: bytes | None = None
    for c in cases:
        layer = SignatureLayer(sha256_digest(c.payload), len(c.payload), c.signature)
        _, manifest = append_signature(manifest, layer)
    assert manifest is not None
    layers = parse_signature_manifest(manifest)
    assert len(layers) == 2
    for layer, c in zip(layers, cases, strict=True):
        assert layer.payload_digest == sha256_digest(c.payload)
        assert accepted(c.key, c.payload, layer.signature, c.digest)


def test_payload_swapped_between_signatures_is_refused(
    read_vector: Callable[[str], bytes],
) -> None:
    # valid and valid-with-tag sign the same manifest under different payloads.
    a = load_case("valid", read_vector)
    b = load_case("valid-with-tag", read_vector)
    assert a.digest == b.digest
    assert not verify_signature(a.key, b.payload, a.signature)
    assert not verify_signature(a.key, a.payload, b.signature)


def test_truncated_signature_file_is_refused(read_vector: Callable[[str], bytes]) -> None:
    data = read_vector("containers-image/dir-img-cosign-valid/signature-1")
    with pytest.raises(SignatureError):
        parse_sigstore_json_signature(data[:-1])
    with pytest.raises(SignatureError):
        parse_sigstore_json_signature(data[1:])
