"""The package manifest: ``mpp.yaml`` in, frozen :class:`Manifest` out, and back.

Read an author's file with :func:`parse_source`, pin its runtime with
:meth:`Manifest.with_runtime`, write the signed config with
:func:`config_bytes`, and read a package's config back with
:func:`parse_config`. The format is documented in docs/manifest.md.
"""

from mppoci.manifest.config import config_bytes, parse_config
from mppoci.manifest.document import permissions_digest, to_document
from mppoci.manifest.model import (
    DEFAULT_RESOURCES,
    SCHEMA_VERSION,
    Access,
    Duration,
    EgressRule,
    EnvVar,
    FilesystemGrant,
    Manifest,
    Permissions,
    Protocol,
    Quantity,
    Resources,
    RuntimeRef,
    StorageVolume,
    Tool,
    ToolAnnotations,
)
from mppoci.manifest.parse import parse_source

__all__ = [
    "DEFAULT_RESOURCES",
    "SCHEMA_VERSION",
    "Access",
    "Duration",
    "EgressRule",
    "EnvVar",
    "FilesystemGrant",
    "Manifest",
    "Permissions",
    "Protocol",
    "Quantity",
    "Resources",
    "RuntimeRef",
    "StorageVolume",
    "Tool",
    "ToolAnnotations",
    "config_bytes",
    "parse_config",
    "parse_source",
    "permissions_digest",
    "to_document",
]
