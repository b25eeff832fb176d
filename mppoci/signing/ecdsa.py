"""ECDSA P-256 / SHA-256 signatures over exact payload bytes, as cosign makes them.

A signature travels as standard padded base64 of its ASN.1 DER form.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

# A P-256 DER signature is at most 72 bytes (96 base64 characters); anything
# much longer is not worth decoding.
MAX_SIGNATURE_TEXT: Final = 256


def sign_payload(private_key: ec.EllipticCurvePrivateKey, payload: bytes) -> str:
    """Sign ``payload`` and return the signature as cosign's annotation holds it."""
    der = private_key.sign(payload, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(der).decode("ascii")


def verify_signature(
    public_key: ec.EllipticCurvePublicKey, payload: bytes, signature_b64: str
) -> bool:
    """True only when ``signature_b64`` is a valid signature of ``payload``.

    Never raises for a malformed signature: any defect is simply False. The
    base64 must be canonical (what cosign writes), so each signature has one
    spelling.
    """
    if not isinstance(signature_b64, str) or len(signature_b64) > MAX_SIGNATURE_TEXT:
        return False
    try:
        der = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    # b64decode ignores stray bits in the last character before '='.
    if base64.b64encode(der).decode("ascii") != signature_b64:
        return False
    try:
        public_key.verify(der, payload, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
