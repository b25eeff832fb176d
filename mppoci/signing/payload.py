"""cosign's "simple signing" payload: the exact bytes a signature covers.

The payload claims one manifest digest. ``docker-reference`` is recorded but,
as in cosign, never checked, so a signed package can move between registries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from mppoci.digest import Digest, is_digest
from mppoci.errors import SignatureError, UntrustedContentError, UserInputError
from mppoci.limits import KiB
from mppoci.oci.model import load_json_object

SIGNATURE_TYPE: Final = "cosign container image signature"

# cosign's payloads are a few hundred bytes; annotations make them longer.
MAX_PAYLOAD_BYTES: Final = 64 * KiB

_TOP_FIELDS: Final = frozenset({"critical", "optional"})
_CRITICAL_FIELDS: Final = frozenset({"identity", "image", "type"})

# Go's encoding/json escapes these inside strings; doing the same keeps our
# payloads byte-identical to cosign's for any annotation text.
_GO_ESCAPES: Final = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


@dataclass(frozen=True)
class Payload:
    """What a verified payload claims. ``annotations`` keeps the string-valued
    entries of ``optional``; other values are dropped."""

    digest: Digest
    docker_reference: str
    annotations: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "annotations", MappingProxyType(dict(self.annotations)))


def make_payload(
    digest: Digest, docker_reference: str, annotations: Mapping[str, str] | None = None
) -> bytes:
    """The payload cosign would sign for ``digest``, byte for byte.

    ``optional`` is ``null`` without annotations and an object (keys sorted, as
    Go writes a map) with them.

    Raises:
        UserInputError: ``digest`` is not a sha256 digest or ``docker_reference`` is empty.
    """
    if not is_digest(digest):
        raise UserInputError(
            f"{digest!r} is not a manifest digest",
            hint="sign a manifest by its digest: sha256: followed by 64 lowercase hex digits",
        )
    if not docker_reference:
        raise UserInputError(
            "the signature needs a docker reference (the repository or package name)",
            hint="pass the package name or registry repository being signed",
        )
    # Key order is cosign's struct order; json.dumps keeps insertion order.
    doc = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": SIGNATURE_TYPE,
        },
        "optional": None if annotations is None else dict(sorted(annotations.items())),
    }
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    for char, escape in _GO_ESCAPES.items():
        text = text.replace(char, escape)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise UserInputError(
            "the docker reference or an annotation is not valid Unicode text",
            hint="use printable text in the reference and annotations",
        ) from None


def parse_payload(data: bytes) -> Payload:
    """Parse a payload received from outside. Call it only on bytes whose
    signature has already verified; it checks form, not authenticity.

    Strict where the claim is: ``critical`` must have exactly cosign's fields,
    the type must be :data:`SIGNATURE_TYPE` and the digest a sha256 digest.
    ``optional`` may be ``null``, absent or any object.

    Raises:
        SignatureError: the payload is oversize, not JSON, has duplicate keys or
            is not a cosign simple-signing payload.
    """
    try:
        doc = load_json_object(data, what="signature payload", max_bytes=MAX_PAYLOAD_BYTES)
    except UntrustedContentError as e:
        raise SignatureError(e.message, hint=_HINT) from e
    unknown = set(doc) - _TOP_FIELDS
    if unknown:
        raise _bad(f"unknown top-level fields {sorted(unknown)}")
    critical = doc.get("critical")
    if not isinstance(critical, dict):
        raise _bad("'critical' is missing or not an object")
    unknown = set(critical) - _CRITICAL_FIELDS
    if unknown:
        raise _bad(f"unknown fields in 'critical': {sorted(unknown)}")
    kind = critical.get("type")
    if kind != SIGNATURE_TYPE:
        raise _bad(f"type is {kind!r}, not {SIGNATURE_TYPE!r}")
    digest = _only_string(critical.get("image"), "image", "docker-manifest-digest")
    if not is_digest(digest):
        raise _bad(f"docker-manifest-digest {digest!r} is not a sha256 digest")
    reference = _only_string(critical.get("identity"), "identity", "docker-reference")
    return Payload(
        digest=Digest(digest),
        docker_reference=reference,
        annotations=_string_pairs(doc.get("optional")),
    )


_HINT = (
    "the signature was not made by cosign or mppoci, or was altered; "
    "do not use the package until it is signed again by a trusted key"
)


def _bad(why: str) -> SignatureError:
    return SignatureError(f"signature payload is not a cosign payload: {why}", hint=_HINT)


def _only_string(section: Any, name: str, key: str) -> str:
    """``section[key]`` when ``section`` is an object with exactly that string field."""
    if not isinstance(section, dict) or set(section) != {key}:
        raise _bad(f"'critical.{name}' must be an object with exactly the field {key!r}")
    value = section[key]
    if not isinstance(value, str):
        raise _bad(f"'critical.{name}.{key}' must be a string")
    return value


def _string_pairs(optional: Any) -> dict[str, str]:
    if optional is None:
        return {}
    if not isinstance(optional, dict):
        raise _bad("'optional' must be null or an object")
    # cosign puts arbitrary JSON here (skopeo adds a numeric timestamp);
    # only string values can be matched against annotation requirements.
    return {k: v for k, v in optional.items() if isinstance(v, str)}
