"""Signatures kept in the store beside what they sign, as cosign keeps them on
a registry: an image manifest tagged ``sha256-<hex>.sig`` with one
simple-signing payload layer per signature."""

from __future__ import annotations

from mppoci.digest import Digest
from mppoci.fsutil import locked
from mppoci.oci.mediatypes import OCI_MANIFEST
from mppoci.oci.model import Descriptor
from mppoci.signing.cosign_manifest import (
    SIGNATURE_ANNOTATION,
    SignatureLayer,
    append_signature,
    parse_signature_manifest,
    signature_tag,
)
from mppoci.signing.evidence import Evidence
from mppoci.store.layout import Store

# mppoci records the signer's public key beside each signature so that an
# unknown signer can be named and, on a terminal, trusted on first use.
# cosign ignores layer annotations it does not know.
PUBLIC_KEY_ANNOTATION = "dev.mppoci/signer-public-key"
_MAX_PAYLOAD = 64 * 1024


def read_evidence(store: Store, digest: Digest) -> tuple[Evidence, ...]:
    """Every signature the store holds for ``digest``; payloads re-hashed on read."""
    entry = store.lookup(signature_tag(digest))
    if entry is None:
        return ()
    body = store.read_bytes(
        entry.digest, max_bytes=store.limits.oci_manifest_bytes, what="signature manifest"
    )
    evidence = []
    for layer in parse_signature_manifest(body):
        payload = store.read_bytes(
            layer.payload_digest, max_bytes=_MAX_PAYLOAD, what="signature payload"
        )
        evidence.append(
            Evidence(
                payload=payload,
                signature=layer.signature,
                public_key_pem=layer.annotations.get(PUBLIC_KEY_ANNOTATION),
            )
        )
    return tuple(evidence)


def attach_signature(
    store: Store, digest: Digest, payload: bytes, signature: str, public_key_pem: str
) -> Digest:
    """Add one signature to ``digest``'s signature manifest (created if missing).

    Returns the new signature manifest's digest."""
    payload_digest = store.put_bytes(payload)
    layer = SignatureLayer(
        payload_digest=payload_digest,
        payload_size=len(payload),
        signature=signature,
        annotations={SIGNATURE_ANNOTATION: signature, PUBLIC_KEY_ANNOTATION: public_key_pem},
    )
    tag = signature_tag(digest)
    store.ensure()
    # Read-append-tag must not interleave with another signer, or one
    # signature would be lost. (A lock of its own: the index lock is taken
    # inside store.tag.)
    with locked(store.root / "signatures.lock"):
        entry = store.lookup(tag)
        existing = (
            store.read_bytes(entry.digest, max_bytes=store.limits.oci_manifest_bytes)
            if entry is not None
            else None
        )
        config, body = append_signature(existing, layer)
        store.put_bytes(config)
        sig_digest = store.put_bytes(body)
        store.tag(Descriptor(media_type=OCI_MANIFEST, digest=sig_digest, size=len(body)), tag)
    return sig_digest
