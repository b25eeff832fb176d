"""Offline bundles: packages with their signatures as an OCI-layout tar.

For air-gapped sites: ``save`` writes a standard OCI image layout (readable
by skopeo and oras) into one tar file; ``load`` unpacks it through the one
safe-extraction function into a private folder, where it is verified like a
pull before anything reaches the store.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from mppoci.canonical import canonical_json
from mppoci.digest import Digest, hex_part
from mppoci.errors import UserInputError
from mppoci.fsutil import fsync_dir
from mppoci.oci import mediatypes as mt
from mppoci.oci.model import Descriptor, parse_image_manifest
from mppoci.package.extract import extract_content
from mppoci.signing.cosign_manifest import signature_tag
from mppoci.store.layout import Store


def _closure(store: Store, digest: Digest) -> list[Digest]:
    """The manifest and every blob it names."""
    body = store.read_bytes(digest, max_bytes=store.limits.oci_manifest_bytes)
    oci = parse_image_manifest(body, limits=store.limits)
    return [digest, oci.config.digest, *(layer.digest for layer in oci.layers)]


def write_bundle(store: Store, entries: Sequence[tuple[Descriptor, str]], out: Path) -> int:
    """Write ``entries`` (descriptor, ref name) and their signatures to ``out``.

    The file appears complete or not at all. Returns its size in bytes."""
    index: list[Descriptor] = []
    blobs: set[Digest] = set()
    for desc, ref_name in entries:
        index.append(
            Descriptor(
                desc.media_type,
                desc.digest,
                desc.size,
                {mt.ANNOTATION_REF_NAME: ref_name},
                desc.artifact_type,
            )
        )
        blobs.update(_closure(store, desc.digest))
        sig = store.lookup(signature_tag(desc.digest))
        if sig is not None:
            index.append(
                Descriptor(
                    sig.media_type,
                    sig.digest,
                    sig.size,
                    {mt.ANNOTATION_REF_NAME: signature_tag(desc.digest)},
                )
            )
            blobs.update(_closure(store, sig.digest))
    files = {
        "oci-layout": canonical_json({"imageLayoutVersion": mt.OCI_LAYOUT_VERSION}),
        "index.json": canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": mt.OCI_INDEX,
                "manifests": [d.to_json() for d in index],
            }
        ),
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for name in ("blobs", "blobs/sha256"):
                info = tarfile.TarInfo(name)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
            for digest in sorted(blobs):
                info = tarfile.TarInfo(f"blobs/sha256/{hex_part(digest)}")
                info.size, info.mode = store.blob_path(digest).stat().st_size, 0o644
                with store.open_verified(digest) as f:
                    tar.addfile(info, f)
                    f.read()  # reach EOF: the digest check runs there; a mismatch drops the file
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(out.parent)
    return out.stat().st_size


@contextmanager
def open_bundle(path: Path, main: Store) -> Iterator[Store]:
    """Unpack a bundle safely into a private layout inside ``main``'s ingest area."""
    try:
        f = path.open("rb")
    except OSError as e:
        raise UserInputError(f"cannot read {path}: {e.strerror}") from None
    with f, main.staging() as scratch:
        target = scratch.root / "bundle"
        extract_content(f, target, limits=main.limits, compressed=False)
        yield Store(target, limits=main.limits)
