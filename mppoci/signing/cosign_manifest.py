"""cosign's signature manifest, stored under the tag ``sha256-<hex>.sig``.

One OCI image manifest per signed manifest; each signature is a layer whose
blob is the simple-signing payload and whose annotation
:data:`SIGNATURE_ANNOTATION` is the signature. A second signature rewrites the
tag with one more layer.

Reading: only layers of :data:`SIMPLESIGNING_MEDIA_TYPE` that carry the
signature annotation are returned. Any other layer cannot hold a signature
cosign would accept, so skipping it loses nothing a verifier could use;
:func:`append_signature` still keeps such layers untouched, as cosign does.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from mppoci.digest import Digest, hex_part, is_digest, sha256_digest
from mppoci.errors import SignatureError, UntrustedContentError, UserInputError
from mppoci.limits import DEFAULT_LIMITS
from mppoci.oci.model import Descriptor, image_manifest_bytes, parse_image_manifest

SIMPLESIGNING_MEDIA_TYPE: Final = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION: Final = "dev.cosignproject.cosign/signature"
OCI_CONFIG_MEDIA_TYPE: Final = "application/vnd.oci.image.config.v1+json"

# Far more signatures than any real package gathers; each layer costs a
# signature check, so a hostile manifest must not bring thousands.
MAX_SIGNATURE_LAYERS: Final = 256

_ZERO_TIME: Final = "0001-01-01T00:00:00Z"  # Go's zero time.Time, as cosign writes it
_HINT: Final = (
    "the signature tag was not written by cosign or mppoci, or was altered; "
    "sign the package again with a trusted key"
)


@dataclass(frozen=True)
class SignatureLayer:
    """One signature: the payload blob it covers and its layer annotations.

    ``annotations`` always holds every layer annotation, the signature
    annotation included (it is added when missing).

    Raises:
        ValueError: on construction with a bad digest or size, or an
            annotations map whose signature entry disagrees with ``signature``
            (a programming error, never caused by outside input).
    """

    payload_digest: Digest
    payload_size: int
    signature: str
    annotations: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not is_digest(self.payload_digest) or self.payload_size < 0:
            raise ValueError("a signature layer needs a sha256 payload digest and a size")
        if self.annotations.get(SIGNATURE_ANNOTATION, self.signature) != self.signature:
            raise ValueError("the signature annotation disagrees with the signature")
        merged = {**self.annotations, SIGNATURE_ANNOTATION: self.signature}
        object.__setattr__(self, "annotations", MappingProxyType(merged))

    def descriptor(self) -> Descriptor:
        return Descriptor(
            media_type=SIMPLESIGNING_MEDIA_TYPE,
            digest=self.payload_digest,
            size=self.payload_size,
            annotations=dict(self.annotations),
        )


def signature_tag(digest: Digest) -> str:
    """The tag cosign stores the signatures of ``digest`` under.

    Raises:
        UserInputError: ``digest`` is not a sha256 digest.
    """
    if not is_digest(digest):
        raise UserInputError(
            f"{digest!r} is not a manifest digest",
            hint="name the signed manifest by sha256: followed by 64 lowercase hex digits",
        )
    return f"sha256-{hex_part(digest)}.sig"


def build_signature_manifest(layers: Sequence[SignatureLayer]) -> tuple[bytes, bytes]:
    """(config blob, manifest) for a ``.sig`` tag holding ``layers`` in order.

    Raises:
        UserInputError: no layers, or more than :data:`MAX_SIGNATURE_LAYERS`.
    """
    return _build(tuple(layer.descriptor() for layer in layers))


def parse_signature_manifest(data: bytes) -> tuple[SignatureLayer, ...]:
    """The signature layers of a ``.sig`` manifest received from outside.

    Both OCI and Docker manifest media types are read (cosign writes Docker
    ones when asked to); the config is not looked at.

    Raises:
        SignatureError: the manifest is malformed or has more than
            :data:`MAX_SIGNATURE_LAYERS` layers.
    """
    return tuple(
        SignatureLayer(
            payload_digest=layer.digest,
            payload_size=layer.size,
            signature=layer.annotations[SIGNATURE_ANNOTATION],
            annotations=layer.annotations,
        )
        for layer in _read_layers(data)
        if layer.media_type == SIMPLESIGNING_MEDIA_TYPE
        and SIGNATURE_ANNOTATION in layer.annotations
    )


def append_signature(existing: bytes | None, layer: SignatureLayer) -> tuple[bytes, bytes]:
    """(config blob, manifest) for the ``.sig`` tag after adding ``layer``.

    Every existing layer is kept as it was, as cosign does. When a layer with
    the same payload digest and signature is already there nothing is added,
    but the result is still freshly built, so it may differ byte-wise from
    ``existing``.

    Raises:
        SignatureError: ``existing`` is malformed.
        UserInputError: the result would exceed :data:`MAX_SIGNATURE_LAYERS`.
    """
    layers = _read_layers(existing) if existing is not None else ()
    duplicate = any(
        old.media_type == SIMPLESIGNING_MEDIA_TYPE
        and old.digest == layer.payload_digest
        and old.annotations.get(SIGNATURE_ANNOTATION) == layer.signature
        for old in layers
    )
    return _build(layers if duplicate else (*layers, layer.descriptor()))


def _read_layers(data: bytes) -> tuple[Descriptor, ...]:
    limits = dataclasses.replace(DEFAULT_LIMITS, index_entries=MAX_SIGNATURE_LAYERS)
    try:
        manifest = parse_image_manifest(data, limits=limits)
    except UntrustedContentError as e:
        raise SignatureError(
            f"signature manifest: {e.message} (at most {MAX_SIGNATURE_LAYERS} layers allowed)"
            if "too many layers" in e.message
            else f"signature manifest: {e.message}",
            hint=_HINT,
        ) from e
    return manifest.layers


def _build(layers: tuple[Descriptor, ...]) -> tuple[bytes, bytes]:
    if not layers:
        raise UserInputError(
            "a signature manifest needs at least one signature",
            hint="sign the package before writing its signature tag",
        )
    if len(layers) > MAX_SIGNATURE_LAYERS:
        raise UserInputError(
            f"a signature manifest can hold at most {MAX_SIGNATURE_LAYERS} signatures",
            hint="remove old signatures from the signature tag before adding another",
        )
    config = config_blob([layer.digest for layer in layers])
    manifest = image_manifest_bytes(
        config=Descriptor(
            media_type=OCI_CONFIG_MEDIA_TYPE, digest=sha256_digest(config), size=len(config)
        ),
        layers=layers,
    )
    return config, manifest


def config_blob(diff_ids: Sequence[Digest]) -> bytes:
    """The config blob cosign writes for a ``.sig`` manifest with these layer digests."""
    # Exactly cosign's bytes (its Go struct order, compact), so the config
    # blob we push is the one cosign would push for the same signatures.
    doc = {
        "architecture": "",
        "created": _ZERO_TIME,
        "history": [{"created": _ZERO_TIME}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "config": {},
    }
    return json.dumps(doc, separators=(",", ":")).encode("ascii")
