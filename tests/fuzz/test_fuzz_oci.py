"""Fuzzing of OCI documents: image manifests and descriptors from registries
and bundles, the store's index.json (a file on disk anyone may edit), and the
signature evidence read from it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mppoci.digest import Digest, sha256_digest
from mppoci.errors import UntrustedContentError
from mppoci.oci import mediatypes as mt
from mppoci.oci.model import (
    Descriptor,
    image_manifest_bytes,
    parse_descriptor,
    parse_image_manifest,
)
from mppoci.package.stored import package_tags, resolve
from mppoci.reference import LocalRef
from mppoci.signing.cosign_manifest import SIGNATURE_ANNOTATION, signature_tag
from mppoci.store.layout import Store
from mppoci.store.signatures import PUBLIC_KEY_ANNOTATION, read_evidence
from tests.fuzz.support import DEEP_JSON, documents, hostile_text, parsed_or_our_error

pytestmark = pytest.mark.fuzz

D = [Digest("sha256:" + c * 64) for c in "0123456789"]

MANIFEST: dict[str, Any] = {
    "schemaVersion": 2,
    "mediaType": mt.OCI_MANIFEST,
    "artifactType": mt.MPP_ARTIFACT,
    "config": {"mediaType": mt.MPP_CONFIG, "digest": D[1], "size": 10},
    "layers": [
        {
            "mediaType": mt.MPP_CONTENT,
            "digest": D[2],
            "size": 20,
            "annotations": {"org.opencontainers.image.title": "content"},
        }
    ],
    "annotations": {"org.opencontainers.image.created": "1970-01-01T00:00:00Z"},
    "subject": {"mediaType": mt.OCI_MANIFEST, "digest": D[3], "size": 30},
}


def test_the_seed_manifest_is_valid() -> None:
    oci = parse_image_manifest(__import__("json").dumps(MANIFEST).encode())
    assert oci.layers[0].digest == D[2] and oci.subject is not None


@given(documents(MANIFEST))
@example(DEEP_JSON)
def test_image_manifests_parse_or_are_refused(data: bytes) -> None:
    oci = parsed_or_our_error(lambda: parse_image_manifest(data))
    if oci is not None:
        # What parsed can be written again and means the same.
        again = parse_image_manifest(
            image_manifest_bytes(
                config=oci.config,
                layers=oci.layers,
                artifact_type=oci.artifact_type,
                annotations=oci.annotations,
                subject=oci.subject,
            )
        )
        assert (again.config, again.layers, again.subject) == (oci.config, oci.layers, oci.subject)
        assert again.artifact_type == (oci.artifact_type or None)
        assert dict(again.annotations) == dict(oci.annotations)


descriptors = st.builds(
    Descriptor,
    media_type=hostile_text.filter(bool),
    digest=st.sampled_from(D),
    size=st.integers(min_value=0, max_value=2**70),
    annotations=st.dictionaries(hostile_text, hostile_text, max_size=3),
    artifact_type=st.none() | hostile_text.filter(bool),
)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@given(descriptors)
@example(Descriptor("m", D[0], 1, {"k": "\ud800"}))
@example(Descriptor("m", D[0], 1, artifact_type="\udcff"))
def test_descriptors_round_trip_unless_their_text_is_not_unicode(desc: Descriptor) -> None:
    texts = [
        desc.media_type,
        desc.artifact_type or "",
        *desc.annotations,
        *desc.annotations.values(),
    ]
    if all(_utf8(t) for t in texts):
        assert parse_descriptor(desc.to_json(), "test") == desc
    else:
        # A lone surrogate (from a \\ud800 escape) could never be written back as UTF-8.
        with pytest.raises(UntrustedContentError, match="valid Unicode text"):
            parse_descriptor(desc.to_json(), "test")


# --- the store's index.json, and what is read through it ---------------------------------------

INDEX: dict[str, Any] = {
    "schemaVersion": 2,
    "mediaType": mt.OCI_INDEX,
    "manifests": [
        {
            "mediaType": mt.OCI_MANIFEST,
            "digest": D[4],
            "size": 100,
            "artifactType": mt.MPP_ARTIFACT,
            "annotations": {mt.ANNOTATION_REF_NAME: "acme/tool:1.0.0"},
        },
        {
            "mediaType": mt.OCI_MANIFEST,
            "digest": D[5],
            "size": 100,
            "artifactType": mt.MPP_ARTIFACT,
            "annotations": {mt.ANNOTATION_REF_NAME: "acme/tool:1.2.0-rc.1"},
        },
        {
            "mediaType": mt.OCI_MANIFEST,
            "digest": D[6],
            "size": 100,
            "annotations": {mt.ANNOTATION_REF_NAME: signature_tag(D[4])},
        },
    ],
}


@given(documents(INDEX), st.sampled_from(["acme/tool", "acme/other"]))
@example(DEEP_JSON, "acme/tool")
@example(
    __import__("json")
    .dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "m",
                    "digest": "sha256:" + "4" * 64,
                    "size": 1,
                    "artifactType": mt.MPP_ARTIFACT,
                    "annotations": {mt.ANNOTATION_REF_NAME: "acme/tool"},
                }
            ],
        }
    )
    .encode(),
    "acme/tool",
)
@example(
    __import__("json")
    .dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "m",
                    "digest": "sha256:" + "4" * 64,
                    "size": 1,
                    "artifactType": mt.MPP_ARTIFACT,
                    "annotations": {mt.ANNOTATION_REF_NAME: "acme/tool:not-a-version"},
                }
            ],
        }
    )
    .encode(),
    "acme/tool",
)
def test_a_hostile_store_index_is_read_or_refused(data: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store")
        store.ensure()
        (store.root / "index.json").write_bytes(data)
        entries = parsed_or_our_error(store.entries)
        parsed_or_our_error(lambda: store.lookup("acme/tool:1.0.0"))
        parsed_or_our_error(lambda: store.find_digest(D[4]))
        parsed_or_our_error(lambda: package_tags(store))
        found = parsed_or_our_error(lambda: resolve(store, LocalRef(name=name)))
        if found is not None:
            assert entries is not None and found in {e.digest for e in entries}
        parsed_or_our_error(lambda: store.untag("acme/tool:1.0.0"))
        # Tagging rewrites the index: afterwards the new entry is there.
        blob = store.put_bytes(b"{}")
        tagged = parsed_or_our_error(
            lambda: store.tag(Descriptor(mt.OCI_MANIFEST, blob, 2), "acme/new:1.0.0")
        )
        if tagged is not None or entries is not None:
            looked_up = parsed_or_our_error(lambda: store.lookup("acme/new:1.0.0"))
            assert looked_up is None or looked_up.digest == blob


# --- signature evidence ---------------------------------------------------------------------------

PAYLOAD = b'{"critical":{}}'
SIG_MANIFEST: dict[str, Any] = {
    "schemaVersion": 2,
    "mediaType": mt.OCI_MANIFEST,
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": D[7], "size": 2},
    "layers": [
        {
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": sha256_digest(PAYLOAD),
            "size": len(PAYLOAD),
            "annotations": {SIGNATURE_ANNOTATION: "MEUCIQ==", PUBLIC_KEY_ANNOTATION: "PEM"},
        }
    ],
}


@given(documents(SIG_MANIFEST))
@example(DEEP_JSON)
def test_hostile_signature_manifests_in_the_store_give_evidence_or_our_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store")
        store.put_bytes(PAYLOAD)
        body = store.put_bytes(data)
        store.tag(Descriptor(mt.OCI_MANIFEST, body, len(data)), signature_tag(D[4]))
        evidence = parsed_or_our_error(lambda: read_evidence(store, D[4]))
        for item in evidence or ():
            assert item.payload == PAYLOAD  # only bytes that hash to their digest
