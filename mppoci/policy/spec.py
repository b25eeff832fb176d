"""The container spec: everything a sandbox gets, as one frozen value.

The compiler makes it from a verified manifest and the user's bindings; each
backend renders it (Docker API arguments, a `docker run` line for people,
Kubernetes objects). Nothing outside the spec reaches the container.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from mppoci.digest import Digest

SANDBOX_USER = "65534:65534"  # nobody:nogroup
PACKAGE_MOUNT = "/pkg"
TMP_MOUNT = "/tmp"  # noqa: S108 (a path inside the container)
SHM_MOUNT = "/dev/shm"  # noqa: S108 (a path inside the container)


class MountKind(StrEnum):
    BIND = "bind"  # a host folder: package content, one the user named, or declared storage
    # Kubernetes volumes; the Docker backend never receives these.
    EMPTY_DIR = "emptyDir"  # scratch space of the pod (the verified package content, storage)
    PVC = "persistentVolumeClaim"  # a claim the user named
    CONFIG_MAP = "configMap"  # a ConfigMap the user named (always read-only)


@dataclass(frozen=True, slots=True)
class VolumeSource:
    """A cluster volume bound to a declared entry, instead of a host folder."""

    kind: MountKind
    name: str  # the claim or ConfigMap name; for EMPTY_DIR, the volume's own name
    size_bytes: int | None = None  # EMPTY_DIR only: its sizeLimit


@dataclass(frozen=True, slots=True)
class Mount:
    kind: MountKind
    source: str  # BIND: resolved host path; otherwise the volume's name (see VolumeSource)
    target: str
    read_only: bool
    purpose: str  # "package content", "filesystem data", "storage cache"
    size_bytes: int | None = None  # EMPTY_DIR only


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A value kept in a Kubernetes Secret: the rendered objects name it, never hold it."""

    secret: str
    key: str


@dataclass(frozen=True, slots=True)
class EnvVar:
    name: str
    value: str = field(repr=False)
    secret: bool
    value_from: SecretRef | None = None  # set on Kubernetes instead of a value

    def shown(self) -> str:
        if self.value_from is not None:
            return f"{self.name}=<from Secret {self.value_from.secret}, key {self.value_from.key}>"
        return f"{self.name}=<secret>" if self.secret else f"{self.name}={self.value}"


class Network(StrEnum):
    NONE = "none"  # loopback only
    EGRESS = "egress"  # the relay's loopback-only namespace; its only way out is the gateway
    OUTSIDE = "outside"  # the engine's network network_name: the egress gateway's way out


# ``seccomp_profile`` for the runtime's own default profile (the egress
# gateway, which runs mppoci's scripts rather than a package).
RUNTIME_DEFAULT_SECCOMP = ""


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    image: str  # the runtime image, pinned by digest (image ID or repo@digest)
    argv: tuple[str, ...]
    seccomp_profile: str  # the profile's JSON text, or RUNTIME_DEFAULT_SECCOMP
    seccomp_allowed: int  # how many syscalls it allows, for people (0: the runtime's default)
    mounts: tuple[Mount, ...]
    env: tuple[EnvVar, ...]
    network: Network
    memory_bytes: int
    nano_cpus: int
    pids_limit: int
    timeout_seconds: float  # 0: none (the gateway, which mppoci stops at the end of a run)
    tmp_bytes: int  # 0: no /tmp tmpfs
    # /dev/shm (a noexec,nosuid,nodev tmpfs) is sized like /tmp: never the
    # engine's default (Docker: 64 MiB) on top of what was declared.
    shm_bytes: int  # 0: the engine's default
    labels: MappingProxyType[str, str]
    package_digest: Digest | None  # None: no package's (the egress gateway)
    # container:<relay> (Docker), with Network.EGRESS; the engine's network, with OUTSIDE
    network_name: str | None = None
    dns: tuple[str, ...] = ()  # the gateway, with Network.EGRESS (Kubernetes)
    architecture: str = ""  # the seccomp profile's libseccomp architecture
    # Fixed for every sandbox; fields so that renderers and tests read them
    # from one place rather than repeating the values.
    user: str = SANDBOX_USER
    workdir: str = PACKAGE_MOUNT
    read_only_root: bool = True
    cap_drop: tuple[str, ...] = ("ALL",)
    no_new_privileges: bool = True
    tmp_options: tuple[str, ...] = ("rw", "noexec", "nosuid", "nodev")
    stdin: bool = True  # the tool reads its stdin; the gateway has none
    # 0: no log on the host (output is streamed by attaching, and a log would
    # let a tool fill the host's disk). Otherwise a log of at most this size,
    # which mppoci reads back (the gateway's events).
    log_bytes: int = 0
    sysctls: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
