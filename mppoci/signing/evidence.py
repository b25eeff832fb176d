"""A signature as found beside its subject: what the store reads and the
trust verdict judges. A value only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Evidence:
    """One signature as found beside the subject."""

    payload: bytes
    signature: str
    # The signer's public key, which `mppoci sign` records beside the signature
    # so that an unknown signer can be named (and trusted on first use).
    # Signatures made by cosign itself carry none.
    public_key_pem: str | None = None
