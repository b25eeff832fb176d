"""Every cap on input that comes from outside, in one place.

Parsers and readers take a :class:`Limits` and enforce it while streaming, so
that hostile input is refused before it costs memory or disk.
"""

from __future__ import annotations

from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True, slots=True)
class Limits:
    # mpp.yaml source and the canonical config blob made from it.
    manifest_bytes: int = 256 * KiB
    # Nesting depth of YAML/JSON values (tool input schemas are nested).
    manifest_depth: int = 32
    tools: int = 256
    permission_entries: int = 256
    # OCI manifests, indexes and the store's index.json.
    oci_manifest_bytes: int = 4 * MiB
    index_entries: int = 100_000
    # One content layer as stored (compressed).
    layer_bytes: int = 1 * GiB
    # Package content once unpacked.
    unpacked_bytes: int = 2 * GiB
    files: int = 50_000
    path_bytes: int = 4096
    path_depth: int = 64
    # mppoci.lock (it comes with a cloned repository).
    lock_bytes: int = 4 * MiB


DEFAULT_LIMITS = Limits()
