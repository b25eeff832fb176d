"""Packages in the local store: resolving references and loading them, verified.

Loading re-hashes the OCI manifest and the config blob and parses them with
the same strict parsers as anything from a registry: the store is not trusted
more than the network.
"""

from __future__ import annotations

from dataclasses import dataclass

from mppoci.digest import Digest
from mppoci.errors import NotFoundError, UntrustedContentError
from mppoci.manifest import Manifest, parse_config
from mppoci.oci import mediatypes as mt
from mppoci.oci.model import ImageManifest, parse_image_manifest
from mppoci.reference import LocalRef
from mppoci.semver import is_semver, precedence_key
from mppoci.store import Store


@dataclass(frozen=True, slots=True)
class StoredPackage:
    digest: Digest
    manifest: Manifest
    oci: ImageManifest


def package_tags(store: Store) -> dict[str, Digest]:
    """``publisher/tool:version`` -> manifest digest, for every package in the store."""
    tags: dict[str, Digest] = {}
    for entry in store.entries():
        name = entry.annotations.get(mt.ANNOTATION_REF_NAME)
        if name and entry.artifact_type == mt.MPP_ARTIFACT:
            tags[name] = entry.digest
    return tags


def resolve(store: Store, ref: LocalRef) -> Digest:
    """Find the manifest digest ``ref`` names. Raises NotFoundError."""
    if ref.digest is not None:
        if not store.has_blob(ref.digest):
            raise NotFoundError(
                f"no package with digest {ref.digest} is in the store",
                hint="list the store with `mppoci list`",
            )
        return ref.digest
    tags = package_tags(store)
    if ref.version is not None:
        digest = tags.get(f"{ref.name}:{ref.version}")
        if digest is None:
            raise NotFoundError(
                f"{ref.name}:{ref.version} is not in the store",
                hint="build or pull it first; `mppoci list` shows what is there",
            )
        return digest
    # Only name:version tags count; index.json is a file anyone can edit, so a
    # tag without a version or with a non-SemVer one is not a version of it.
    prefix = f"{ref.name}:"
    versions = [
        tag[len(prefix) :]
        for tag in tags
        if tag.startswith(prefix) and is_semver(tag[len(prefix) :])
    ]
    if not versions:
        raise NotFoundError(
            f"no version of {ref.name} is in the store",
            hint="build or pull it first; `mppoci list` shows what is there",
        )
    return tags[f"{ref.name}:{max(versions, key=precedence_key)}"]


def load(store: Store, digest: Digest) -> StoredPackage:
    """Read and check a package: both blobs re-hashed, both documents parsed strictly.

    Raises NotFoundError, DigestMismatchError, UntrustedContentError, ManifestError."""
    limits = store.limits
    body = store.read_bytes(digest, max_bytes=limits.oci_manifest_bytes, what="package manifest")
    oci = parse_image_manifest(body, limits=limits)
    if oci.artifact_type != mt.MPP_ARTIFACT or oci.config.media_type != mt.MPP_CONFIG:
        raise UntrustedContentError(
            f"{digest} is not an mppoci package (artifactType {oci.artifact_type!r})",
            hint="name a package built by `mppoci build`",
        )
    if len(oci.layers) != 1 or oci.layers[0].media_type != mt.MPP_CONTENT:
        raise UntrustedContentError(
            f"package {digest} must have exactly one content layer of type {mt.MPP_CONTENT}"
        )
    config = store.read_bytes(
        oci.config.digest, max_bytes=limits.manifest_bytes, what="package config"
    )
    if len(config) != oci.config.size:
        raise UntrustedContentError(f"package {digest}: config size differs from its descriptor")
    return StoredPackage(digest=digest, manifest=parse_config(config, limits=limits), oci=oci)
