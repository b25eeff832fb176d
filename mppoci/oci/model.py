"""Frozen models of OCI descriptors and image manifests, parsed once at the door.

Manifests are always kept as the exact bytes received; the parsed model is for
reading fields, never for re-serialising before a digest check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mppoci.canonical import canonical_json
from mppoci.digest import Digest, is_digest
from mppoci.errors import UntrustedContentError
from mppoci.limits import DEFAULT_LIMITS, Limits
from mppoci.oci.mediatypes import OCI_MANIFEST


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict)
    artifact_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True, slots=True)
class ImageManifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None


def _bad(what: str, why: str) -> UntrustedContentError:
    return UntrustedContentError(
        f"{what} is malformed: {why}",
        hint="the content is damaged or was not made by an OCI tool; fetch it again or rebuild it",
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def load_json_object(data: bytes, *, what: str, max_bytes: int) -> dict[str, Any]:
    """Parse a JSON object from outside, refusing oversize input and duplicate keys."""
    if len(data) > max_bytes:
        raise _bad(what, f"{len(data)} bytes is over the limit of {max_bytes}")
    try:
        text = data.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _bad(what, str(e)) from e
    if not isinstance(value, dict):
        raise _bad(what, "not a JSON object")
    # A \ud800-style escape is the only way to a lone surrogate, which no UTF-8
    # writer accepts later (rewriting index.json, building a manifest).
    if "\\ud" in text.lower():
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise _bad(what, "it holds a \\u escape that is not valid Unicode text") from None
    return value


def _is_text(value: Any) -> bool:
    """A str that UTF-8 can carry. JSON's ``\\ud800`` escapes decode to lone
    surrogates, which no UTF-8 writer (index.json, a manifest we build) accepts."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _annotations(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        _is_text(k) and _is_text(v) for k, v in value.items()
    ):
        raise _bad(what, "annotations must map strings to strings (valid Unicode text)")
    return dict(value)


def parse_descriptor(value: Any, what: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _bad(what, "descriptor is not an object")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not _is_text(media_type) or not media_type:
        raise _bad(what, "descriptor has no mediaType (valid Unicode text)")
    if not isinstance(digest, str) or not is_digest(digest):
        raise _bad(what, f"descriptor digest {digest!r} is not a sha256 digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _bad(what, "descriptor size must be a non-negative integer")
    artifact_type = value.get("artifactType")
    if artifact_type is not None and not _is_text(artifact_type):
        raise _bad(what, "artifactType must be a string (valid Unicode text)")
    return Descriptor(
        media_type=media_type,
        digest=Digest(digest),
        size=size,
        annotations=_annotations(value.get("annotations"), what),
        artifact_type=artifact_type,
    )


def parse_image_manifest(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> ImageManifest:
    """Parse an OCI image manifest. Raises UntrustedContentError when malformed."""
    what = "OCI manifest"
    doc = load_json_object(data, what=what, max_bytes=limits.oci_manifest_bytes)
    if doc.get("schemaVersion") != 2:
        raise _bad(what, "schemaVersion is not 2")
    media_type = doc.get("mediaType")
    if media_type is not None and not _is_text(media_type):
        raise _bad(what, "mediaType must be a string (valid Unicode text)")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise _bad(what, "layers must be a list")
    if len(layers) > limits.index_entries:
        raise _bad(what, "too many layers")
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and not _is_text(artifact_type):
        raise _bad(what, "artifactType must be a string (valid Unicode text)")
    subject = doc.get("subject")
    return ImageManifest(
        media_type=media_type or "",
        config=parse_descriptor(doc.get("config"), what),
        layers=tuple(parse_descriptor(layer, what) for layer in layers),
        artifact_type=artifact_type,
        annotations=_annotations(doc.get("annotations"), what),
        subject=parse_descriptor(subject, what) if subject is not None else None,
    )


def image_manifest_bytes(
    *,
    config: Descriptor,
    layers: tuple[Descriptor, ...],
    artifact_type: str | None = None,
    annotations: Mapping[str, str] | None = None,
    subject: Descriptor | None = None,
) -> bytes:
    """Serialise a new image manifest canonically (only for manifests we create)."""
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.to_json(),
        "layers": [layer.to_json() for layer in layers],
    }
    if artifact_type:
        doc["artifactType"] = artifact_type
    if annotations:
        doc["annotations"] = dict(annotations)
    if subject:
        doc["subject"] = subject.to_json()
    return canonical_json(doc)
