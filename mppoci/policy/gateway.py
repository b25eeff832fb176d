"""The egress gateway's container spec: the same lock-down on every backend.

The gateway (and, on Docker, the relay the tool shares a namespace with) runs
mppoci's own scripts on the python3 runtime. Like a sandbox, everything it
gets is in its :class:`ContainerSpec`, which each backend renders. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType

from mppoci.policy.spec import (
    RUNTIME_DEFAULT_SECCOMP,
    SANDBOX_USER,
    ContainerSpec,
    Mount,
    Network,
)

GATEWAY_MEMORY_BYTES = 64 * 1024 * 1024
GATEWAY_PIDS = 64
# The scripts cap what they print; this bounds the host's copy anyway.
GATEWAY_LOG_BYTES = 10 * 1024 * 1024
# Ports below 1024 (53, 443...) without any capability: a namespaced sysctl.
UNPRIVILEGED_PORTS = MappingProxyType({"net.ipv4.ip_unprivileged_port_start": "0"})


class GatewayRole(StrEnum):
    GATEWAY = "gateway"  # answers DNS for declared names, connects to declared hosts
    RELAY = "relay"  # Docker only: the tool's loopback, forwarded to the gateway's socket


def compile_gateway(
    *,
    image: str,
    role: GatewayRole,
    scripts: str,
    mounts: Sequence[Mount],
    network: Network,
    network_name: str | None = None,
    dns: Sequence[str] = (),
    labels: Mapping[str, str],
    listens_below_1024: bool = False,
    nano_cpus: int = 0,
) -> ContainerSpec:
    """The spec of the gateway (or relay) ``role``, which runs
    ``<scripts>/<role>.py <scripts>/config.json`` from ``image``.

    ``mounts`` bring the scripts in (and, on Docker, the socket folder);
    ``listens_below_1024`` lets it listen on low ports without any
    capability; ``nano_cpus`` 0 leaves the CPU unlimited."""
    return ContainerSpec(
        image=image,
        argv=("python3", "-u", f"{scripts}/{role.value}.py", f"{scripts}/config.json"),
        seccomp_profile=RUNTIME_DEFAULT_SECCOMP,
        seccomp_allowed=0,
        mounts=tuple(mounts),
        env=(),
        network=network,
        network_name=network_name,
        dns=tuple(dns),
        memory_bytes=GATEWAY_MEMORY_BYTES,
        nano_cpus=nano_cpus,
        pids_limit=GATEWAY_PIDS,
        timeout_seconds=0.0,
        tmp_bytes=0,
        shm_bytes=0,
        labels=MappingProxyType(dict(labels)),
        package_digest=None,
        user=SANDBOX_USER,
        workdir="/",
        read_only_root=True,
        cap_drop=("ALL",),
        no_new_privileges=True,
        stdin=False,
        log_bytes=GATEWAY_LOG_BYTES,
        sysctls=UNPRIVILEGED_PORTS if listens_below_1024 else MappingProxyType({}),
    )
