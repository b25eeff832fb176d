"""Signature checks answer False for anything malformed and never raise."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from mppoci.signing.ecdsa import sign_payload, verify_signature

KEY = ec.generate_private_key(ec.SECP256R1())
PAYLOAD = b'{"critical":{}}'
SIGNATURE = sign_payload(KEY, PAYLOAD)

# The malformed inputs below are made from one fixed signature, not a random
# one: a random ECDSA signature's DER is 72 bytes about a quarter of the time,
# and its base64 then has no "=" to strip or respell, so an "unpadded" input
# would be the valid signature itself. A fixed key with RFC 6979 deterministic
# signing gives the same 71-byte DER (base64 ending in one "=") on every run.
FIXED_KEY = ec.derive_private_key(1234567, ec.SECP256R1())
FIXED_SIGNATURE = base64.b64encode(
    FIXED_KEY.sign(PAYLOAD, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
).decode("ascii")


def test_the_fixed_signature_is_valid_and_padded() -> None:
    """What the malformed cases rely on: stripping or respelling its padding
    is the only defect they introduce."""
    assert FIXED_SIGNATURE.endswith("=")
    assert verify_signature(FIXED_KEY.public_key(), PAYLOAD, FIXED_SIGNATURE)


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
    respelled = non_canonical(FIXED_SIGNATURE)
    assert respelled != FIXED_SIGNATURE
    assert base64.b64decode(respelled) == base64.b64decode(FIXED_SIGNATURE)
    assert not verify_signature(FIXED_KEY.public_key(), PAYLOAD, respelled)


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "====",
        "not base64!",
        FIXED_SIGNATURE + "\n",
        " " + FIXED_SIGNATURE,
        FIXED_SIGNATURE.rstrip("="),
        FIXED_SIGNATURE + "AAAA",
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
    assert signature != FIXED_SIGNATURE
    assert verify_signature(FIXED_KEY.public_key(), PAYLOAD, signature) is False


def test_signature_over_other_bytes_is_refused() -> None:
    assert not verify_signature(KEY.public_key(), PAYLOAD + b" ", SIGNATURE)
    other = ec.generate_private_key(ec.SECP256R1())
    assert not verify_signature(other.public_key(), PAYLOAD, SIGNATURE)
