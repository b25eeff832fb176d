"""Reader for containers/image's on-disk cosign signatures (``signature-N``
files beside a ``dir:`` image, as skopeo writes them).

The form is the bytes ``\\x00sigstore-json\\n`` and then JSON
``{"mimeType", "payload" (base64), "annotations"}``: the same payload and
layer annotations a ``.sig`` manifest carries on a registry.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Final, NamedTuple

from mppoci.errors import SignatureError, UntrustedContentError
from mppoci.limits import KiB
from mppoci.oci.model import load_json_object
from mppoci.signing.cosign_manifest import SIGNATURE_ANNOTATION, SIMPLESIGNING_MEDIA_TYPE

PREFIX: Final = b"\x00sigstore-json\n"

# Room for a Rekor bundle or a certificate chain in the annotations.
MAX_SIGNATURE_FILE_BYTES: Final = 256 * KiB

_FIELDS: Final = frozenset({"mimeType", "payload", "annotations"})
_HINT: Final = "the file is not a containers/image sigstore signature, or it was altered"


class SigstoreJsonSignature(NamedTuple):
    payload: bytes
    signature: str
    annotations: Mapping[str, str]


def parse_sigstore_json_signature(data: bytes) -> SigstoreJsonSignature:
    """Payload, signature and all annotations of one ``signature-N`` file.

    Raises:
        SignatureError: wrong prefix, oversize, malformed JSON, unknown fields,
            another media type, or no signature annotation.
    """
    if not data.startswith(PREFIX):
        raise SignatureError(
            "signature file does not start with containers/image's sigstore-json marker",
            hint=_HINT,
        )
    try:
        doc = load_json_object(
            data[len(PREFIX) :], what="signature file", max_bytes=MAX_SIGNATURE_FILE_BYTES
        )
    except UntrustedContentError as e:
        raise SignatureError(e.message, hint=_HINT) from e
    if set(doc) != _FIELDS:
        raise _bad(f"fields are {sorted(doc)}, expected {sorted(_FIELDS)}")
    if doc["mimeType"] != SIMPLESIGNING_MEDIA_TYPE:
        raise _bad(f"mimeType {doc['mimeType']!r} is not {SIMPLESIGNING_MEDIA_TYPE!r}")
    annotations = doc["annotations"]
    if not isinstance(annotations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
    ):
        raise _bad("annotations must map strings to strings")
    if SIGNATURE_ANNOTATION not in annotations:
        raise _bad(f"the {SIGNATURE_ANNOTATION!r} annotation is missing")
    payload = doc["payload"]
    if not isinstance(payload, str):
        raise _bad("payload must be a base64 string")
    try:
        payload_bytes = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _bad("payload is not base64") from None
    return SigstoreJsonSignature(payload_bytes, annotations[SIGNATURE_ANNOTATION], annotations)


def _bad(why: str) -> SignatureError:
    return SignatureError(f"signature file is malformed: {why}", hint=_HINT)
