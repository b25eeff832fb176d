"""Manifests for the pure host tests, without a store or an engine."""

from __future__ import annotations

from mppoci.digest import Digest
from mppoci.manifest import (
    EnvVar,
    FilesystemGrant,
    Manifest,
    Permissions,
    Protocol,
    RuntimeRef,
    Tool,
    ToolAnnotations,
)

READ_ONLY = ToolAnnotations(read_only_hint=True)


def manifest(
    name: str,
    *tools: str,
    version: str = "1.0.0",
    permissions: Permissions | None = None,
) -> Manifest:
    return Manifest(
        schema_version=1,
        name=name,
        version=version,
        description="test",
        authors=("Ada",),
        license="MIT",
        runtime=RuntimeRef("busybox", Digest("sha256:" + "ab" * 32)),
        entrypoint=("/bin/true",),
        protocol=Protocol.CLI,
        tools=tuple(Tool(name=t, description=f"tool {t}", annotations=READ_ONLY) for t in tools),
        permissions=permissions or Permissions(),
    )


def with_grants(name: str, *, mounts: tuple[str, ...] = (), env: tuple[str, ...] = ()) -> Manifest:
    return manifest(
        name,
        "t",
        permissions=Permissions(
            filesystem=tuple(FilesystemGrant(m, f"/data/{m}", "test") for m in mounts),
            env=tuple(EnvVar(e, "test") for e in env),
        ),
    )
