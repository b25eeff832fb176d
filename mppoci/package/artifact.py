"""Assemble a package folder into an OCI artifact (conventions: Artifact).

The config blob is the canonical JSON of the validated manifest; the single
layer is the reproducible content archive. The image manifest is serialised
canonically too, so the same sources always give the same digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from mppoci.digest import Digest, sha256_digest
from mppoci.errors import NotFoundError, UserInputError
from mppoci.limits import DEFAULT_LIMITS, Limits
from mppoci.manifest import Manifest, RuntimeRef, config_bytes, parse_source
from mppoci.oci import mediatypes as mt
from mppoci.oci.model import Descriptor, image_manifest_bytes
from mppoci.package.content import MANIFEST_FILE, collect_sources, write_content
from mppoci.store import Store

RuntimeResolver = Callable[[RuntimeRef], RuntimeRef]


@dataclass(frozen=True, slots=True)
class Artifact:
    """A built package: its manifest, the exact bytes that were stored, and its digest."""

    manifest: Manifest
    config: bytes
    manifest_bytes: bytes
    digest: Digest
    content: Descriptor

    @property
    def ref_name(self) -> str:
        return f"{self.manifest.name}:{self.manifest.version}"

    def descriptor(self) -> Descriptor:
        return Descriptor(
            media_type=mt.OCI_MANIFEST,
            digest=self.digest,
            size=len(self.manifest_bytes),
            artifact_type=mt.MPP_ARTIFACT,
        )


def read_source_manifest(folder: Path, *, limits: Limits = DEFAULT_LIMITS) -> Manifest:
    """Read and validate ``folder/mpp.yaml``.

    Raises:
        NotFoundError: the folder or its mpp.yaml is missing.
        ManifestError: the manifest is invalid.
    """
    path = folder / MANIFEST_FILE
    if not folder.is_dir():
        raise NotFoundError(f"{folder} is not a folder", hint="name a package folder")
    if not path.is_file():
        raise NotFoundError(
            f"{folder} has no {MANIFEST_FILE}",
            hint=f"create one with `mppoci init {folder}` or see docs/manifest.md",
        )
    with path.open("rb") as f:
        data = f.read(limits.manifest_bytes + 1)
    return parse_source(data, limits=limits, source=str(path))


def _created(source_date_epoch: int | None) -> dict[str, str]:
    if source_date_epoch is None:
        return {}
    when = datetime.fromtimestamp(source_date_epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {mt.ANNOTATION_CREATED: when}


def assemble(
    manifest: Manifest, content: Descriptor, *, source_date_epoch: int | None
) -> tuple[bytes, bytes]:
    """Return (config bytes, image manifest bytes) for a resolved manifest. Pure."""
    config = config_bytes(manifest)
    config_desc = Descriptor(
        media_type=mt.MPP_CONFIG, digest=sha256_digest(config), size=len(config)
    )
    annotations = {
        mt.ANNOTATION_TITLE: manifest.name,
        mt.ANNOTATION_VERSION: manifest.version,
        **_created(source_date_epoch),
    }
    body = image_manifest_bytes(
        config=config_desc,
        layers=(content,),
        artifact_type=mt.MPP_ARTIFACT,
        annotations=annotations,
    )
    return config, body


def _content_descriptor(digest: Digest, size: int) -> Descriptor:
    return Descriptor(
        media_type=mt.MPP_CONTENT,
        digest=digest,
        size=size,
        annotations={mt.ANNOTATION_TITLE: "content.tar.gz"},
    )


def _resolved(manifest: Manifest, resolve: RuntimeResolver) -> Manifest:
    if manifest.runtime.digest is not None:
        return manifest
    runtime = resolve(manifest.runtime)
    if runtime.digest is None:
        raise UserInputError(f"runtime {manifest.runtime.name!r} could not be pinned to a digest")
    return replace(manifest, runtime=runtime)


def build_into_store(
    folder: Path,
    store: Store,
    *,
    resolve_runtime: RuntimeResolver,
    source_date_epoch: int | None = None,
) -> tuple[Artifact, Descriptor | None]:
    """Build ``folder`` into ``store`` and tag it ``name:version``.

    Returns the artifact and the store entry it replaced under that tag, if any.
    Raises ManifestError, UserInputError, LimitExceededError, StoreError."""
    manifest = _resolved(read_source_manifest(folder, limits=store.limits), resolve_runtime)
    entries = collect_sources(folder, limits=store.limits)
    with store.writer() as w:
        write_content(entries, w, mtime=source_date_epoch or 0)
        content = _content_descriptor(w.commit(), w.size)
    config, body = assemble(manifest, content, source_date_epoch=source_date_epoch)
    store.put_bytes(config)
    digest = store.put_bytes(body)
    artifact = Artifact(manifest, config, body, digest, content)
    replaced = store.tag(artifact.descriptor(), artifact.ref_name)
    return artifact, replaced


class _HashingSink:
    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    @property
    def digest(self) -> Digest:
        return Digest("sha256:" + self._hash.hexdigest())


def preview(
    folder: Path,
    *,
    resolve_runtime: RuntimeResolver,
    source_date_epoch: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Artifact:
    """Compute what ``build`` would produce, digest included, without storing anything."""
    manifest = _resolved(read_source_manifest(folder, limits=limits), resolve_runtime)
    sink = _HashingSink()
    write_content(collect_sources(folder, limits=limits), sink, mtime=source_date_epoch or 0)
    content = _content_descriptor(sink.digest, sink.size)
    config, body = assemble(manifest, content, source_date_epoch=source_date_epoch)
    return Artifact(manifest, config, body, sha256_digest(body), content)
