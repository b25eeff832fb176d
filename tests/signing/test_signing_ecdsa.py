"""Signature checks answer False for anything malformed and never raise."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from mppoci.signing.ecdsa import sign_payload, verify_signature

KEY = ec.generate_private_key(ec.SECP256R1())
PAYLOAD = b'{"critical":{}}'
SIGNATURE = sign_payload(KEY, PAYLOAD)


def test_signature_is_padded_base64_der() -> None:
    der = base64.b64decode(SIGNATURE, validate=True)
    assert der[0] == 0x30 and len(der) <= 72
    assert verify_signature(KEY.public_key(), PAYLOAD, SIGNATURE)


def non_canonical(text: str) -> str:
    """The same bytes spelled differently: set the unused bits before '='."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    pads = len(text) - len(text.rstrip("="))
    last = len(text) - pads - 1
    value = alphabet.index(text[last]) | (1 if pads else 0)
    return text[:last] + alphabet[value] + text[last + 1 :]


def test_non_canonical_base64_spelling_is_refused() -> None:
    signature = SIGNATURE
    while not signature.endswith("="):
        signature = sign_payload(KEY, PAYLOAD)  # ECDSA is randomised: try again
    respelled = non_canonical(signature)
    assert respelled != signature
    assert base64.b64decode(respelled) == base64.b64decode(signature)
    assert not verify_signature(KEY.public_key(), PAYLOAD, respelled)


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "====",
        "not base64!",
        SIGNATURE + "\n",
        " " + SIGNATURE,
        SIGNATURE.rstrip("="),
        SIGNATURE + "AAAA",
        "é" * 8,
        "A" * 10_000,
        base64.b64encode(b"\x30\x00").decode(),
        base64.b64encode(b"\x30\x81").decode(),
    ],
    ids=[
        "empty",
        "padding",
        "not-base64",
        "newline",
        "space",
        "unpadded",
        "trailing",
        "non-ascii",
        "huge",
        "empty-der",
        "cut-der",
    ],
)
def test_malformed_signature_is_false_not_an_exception(signature: str) -> None:
    assert verify_signature(KEY.public_key(), PAYLOAD, signature) is False


def test_signature_over_other_bytes_is_refused() -> None:
    assert not verify_signature(KEY.public_key(), PAYLOAD + b" ", SIGNATURE)
    other = ec.generate_private_key(ec.SECP256R1())
    assert not verify_signature(other.public_key(), PAYLOAD, SIGNATURE)
