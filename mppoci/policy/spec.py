"""The container spec: everything a sandbox gets, as one frozen value.

The compiler makes it from a verified manifest and the user's bindings; each
backend renders it (Docker API arguments, a `docker run` line for people,
later Kubernetes objects). Nothing outside the spec reaches the container.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from mppoci.digest import Digest

SANDBOX_USER = "65534:65534"  # nobody:nogroup
PACKAGE_MOUNT = "/pkg"
TMP_MOUNT = "/tmp"  # noqa: S108 (a path inside the container)


class MountKind(StrEnum):
    BIND = "bind"  # a host folder: package content, one the user named, or declared storage


@dataclass(frozen=True, slots=True)
class Mount:
    kind: MountKind
    source: str  # resolved host path
    target: str
    read_only: bool
    purpose: str  # "package content", "filesystem data", "storage cache"


@dataclass(frozen=True, slots=True)
class EnvVar:
    name: str
    value: str = field(repr=False)
    secret: bool

    def shown(self) -> str:
        return f"{self.name}=<secret>" if self.secret else f"{self.name}={self.value}"


class Network(StrEnum):
    NONE = "none"  # loopback only
    EGRESS = "egress"  # the run's internal network, whose only way out is the gateway


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    image: str  # the runtime image, pinned by digest (image ID or repo@digest)
    argv: tuple[str, ...]
    seccomp_profile: str  # the profile's JSON text
    seccomp_allowed: int  # how many syscalls it allows, for people
    mounts: tuple[Mount, ...]
    env: tuple[EnvVar, ...]
    network: Network
    memory_bytes: int
    nano_cpus: int
    pids_limit: int
    timeout_seconds: float
    tmp_bytes: int
    labels: MappingProxyType[str, str]
    package_digest: Digest
    network_name: str | None = None  # the internal network, with Network.EGRESS
    dns: tuple[str, ...] = ()  # the gateway, with Network.EGRESS
    # Fixed for every sandbox; fields so that renderers and tests read them
    # from one place rather than repeating the values.
    user: str = SANDBOX_USER
    workdir: str = PACKAGE_MOUNT
    read_only_root: bool = True
    cap_drop: tuple[str, ...] = ("ALL",)
    no_new_privileges: bool = True
    tmp_options: tuple[str, ...] = ("rw", "noexec", "nosuid", "nodev")
