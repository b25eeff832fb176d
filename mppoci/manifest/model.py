"""The validated manifest as frozen values.

Only :mod:`mppoci.manifest.parse` makes these from outside input; everything
after it can rely on every rule in docs/manifest.md holding. All containers
are tuples and the tool input schema is kept as canonical JSON text, so a
Manifest cannot be changed after the door and is hashable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from mppoci.digest import Digest, is_digest
from mppoci.manifest.units import format_cpus

SCHEMA_VERSION = 1


class Protocol(StrEnum):
    CLI = "cli"
    MCP = "mcp"


class Access(StrEnum):
    READ = "read"
    READ_WRITE = "read-write"


@dataclass(frozen=True, slots=True)
class Quantity:
    """A byte count together with the text the author wrote for it."""

    text: str
    byte_count: int


@dataclass(frozen=True, slots=True)
class Duration:
    """A duration in whole milliseconds together with the text the author wrote."""

    text: str
    milliseconds: int

    @property
    def seconds(self) -> float:
        return self.milliseconds / 1000


@dataclass(frozen=True, slots=True)
class RuntimeRef:
    """The image a package runs in: a runtime recipe name (``python3``) or a
    registry repository (``ghcr.io/acme/python``), pinned by ``digest``.

    ``digest`` is None only in a source manifest whose runtime is a recipe name
    that ``mppoci build`` has not resolved yet.
    """

    name: str
    digest: Digest | None = None

    def __str__(self) -> str:
        return f"{self.name}@{self.digest}" if self.digest is not None else self.name

    @property
    def is_registry_reference(self) -> bool:
        """Whether ``name`` is a registry repository rather than a recipe name."""
        return "/" in self.name


@dataclass(frozen=True, slots=True)
class ToolAnnotations:
    """MCP's tool annotations, with MCP's defaults."""

    title: str | None = None
    read_only_hint: bool = False
    destructive_hint: bool = True
    idempotent_hint: bool = False
    open_world_hint: bool = True

    @property
    def destructive(self) -> bool:
        """MCP's reading: destructiveHint only means something when not read-only."""
        return not self.read_only_hint and self.destructive_hint


DEFAULT_INPUT_SCHEMA_JSON = '{"type":"object"}'


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    # Canonical JSON text: a dict here would make the Manifest mutable.
    input_schema_json: str = DEFAULT_INPUT_SCHEMA_JSON
    annotations: ToolAnnotations = ToolAnnotations()
    requires_confirmation: bool = True

    @property
    def input_schema(self) -> dict[str, Any]:
        """A fresh copy of the tool's input JSON Schema; changing it changes nothing here."""
        schema: dict[str, Any] = json.loads(self.input_schema_json)
        return schema


@dataclass(frozen=True, slots=True)
class FilesystemGrant:
    """A host folder the user binds at run time at ``path`` in the container;
    with ``required``, a run without it is refused."""

    name: str
    path: str
    why: str
    access: Access = Access.READ
    required: bool = False


@dataclass(frozen=True, slots=True)
class EgressRule:
    host: str
    port: int
    why: str
    dangerously_allow_any_host: bool = False
    # A private IP or CIDR the destination lives in (see mppoci.egress.addresses):
    # one IP is connected to as is; a CIDR bounds what ``host`` may resolve to.
    address: str | None = None


@dataclass(frozen=True, slots=True)
class EnvVar:
    """A variable of the tool's environment: passed from the host at run time
    (``--env``), or, with ``value``, fixed by the signed manifest and set by
    mppoci (never a secret, never required, never overridden)."""

    name: str
    why: str
    secret: bool = False
    required: bool = False
    value: str | None = None


@dataclass(frozen=True, slots=True)
class StorageVolume:
    """A persistent volume mppoci keeps for the package, mounted at ``path``."""

    name: str
    path: str
    size: Quantity
    why: str


@dataclass(frozen=True, slots=True)
class Resources:
    memory: Quantity = Quantity("256Mi", 256 * 1024 * 1024)
    millicores: int = 1000
    pids: int = 64
    timeout: Duration = Duration("30s", 30_000)
    tmp: Quantity = Quantity("64Mi", 64 * 1024 * 1024)

    @property
    def cpus(self) -> str:
        """The CPU count as normalised decimal text (``"0.5"``, ``"1"``)."""
        return format_cpus(self.millicores)


DEFAULT_RESOURCES = Resources()


@dataclass(frozen=True, slots=True)
class Permissions:
    """What a package may touch. The four lists are sets: the parser keeps them
    sorted (by name, egress by host then port) so their order in mpp.yaml does
    not change the config or the permission digest."""

    filesystem: tuple[FilesystemGrant, ...] = ()
    egress: tuple[EgressRule, ...] = ()
    env: tuple[EnvVar, ...] = ()
    storage: tuple[StorageVolume, ...] = ()
    resources: Resources = DEFAULT_RESOURCES


@dataclass(frozen=True, slots=True)
class Manifest:
    schema_version: int
    name: str
    version: str
    description: str
    authors: tuple[str, ...]
    license: str
    runtime: RuntimeRef
    entrypoint: tuple[str, ...]
    protocol: Protocol
    tools: tuple[Tool, ...]
    permissions: Permissions = Permissions()

    @property
    def publisher(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def tool_name(self) -> str:
        return self.name.split("/", 1)[1]

    def with_runtime(self, digest: Digest) -> Manifest:
        """This manifest with its runtime pinned to ``digest`` (what ``mppoci
        build`` does after resolving a recipe name).

        Raises:
            ValueError: ``digest`` is not ``sha256:<64 hex>`` (a caller's bug:
                digests reaching here come from our own code).
        """
        if not is_digest(digest):
            raise ValueError(f"not a digest: {digest!r}")
        return replace(self, runtime=RuntimeRef(self.runtime.name, digest))
