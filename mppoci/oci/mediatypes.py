"""Media types (conventions: Artifact)."""

from __future__ import annotations

from typing import Final

OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_LAYOUT_VERSION: Final = "1.0.0"

MPP_ARTIFACT: Final = "application/vnd.mpp.package.v1"
MPP_CONFIG: Final = "application/vnd.mpp.package.config.v1+json"
MPP_CONTENT: Final = "application/vnd.mpp.package.content.v1.tar+gzip"

ANNOTATION_REF_NAME: Final = "org.opencontainers.image.ref.name"
ANNOTATION_CREATED: Final = "org.opencontainers.image.created"
ANNOTATION_TITLE: Final = "org.opencontainers.image.title"
ANNOTATION_VERSION: Final = "org.opencontainers.image.version"

# mppoci's own annotation on store index entries: the registry a package was
# pulled from, so that trust scopes limited by --registry apply on every load.
ANNOTATION_ORIGIN: Final = "dev.mppoci.origin"
