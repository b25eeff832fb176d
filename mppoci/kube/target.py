"""What a cluster render needs beyond the compiled spec, parsed once at the door.

Every image is pinned by digest, every name is checked against Kubernetes'
grammar, and options that open a path out of the cluster (registry CIDRs, the
gateway's address) must be given explicitly: nothing defaults to "anywhere".
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum

from mppoci.digest import Digest
from mppoci.errors import UserInputError
from mppoci.policy.spec import MountKind, SecretRef, VolumeSource
from mppoci.reference import RemoteRef

# DNS-1123 label: object names, label values we generate, Secret and claim names.
_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")
_PINNED_IMAGE_RE = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")

ARCHITECTURES = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64"}


class SeccompSource(StrEnum):
    OPERATOR = "operator"  # the Security Profiles Operator writes the profile to every node
    NODE = "node"  # the cluster admin copies the JSON file into the kubelet's seccomp folder


@dataclass(frozen=True, slots=True)
class ClusterTarget:
    """Where and how the package runs on a cluster (all values validated)."""

    name: str  # prefix of every object of this invocation
    namespace: str
    architecture: str  # amd64 or arm64
    seccomp_source: SeccompSource
    package: RemoteRef  # registry/repository@digest: what the fetch step pulls
    runtime_image: str  # repository@sha256:... the tool runs on
    mppoci_image: str  # repository@sha256:... for the fetch and verify steps
    registry_cidrs: tuple[str, ...]  # where the fetch step may connect
    registry_port: int
    registry_secret: str | None = None  # a kubernetes.io/dockerconfigjson Secret
    registry_plain_http: bool = False
    gateway_image: str | None = None  # repository@sha256:... of the python3 runtime
    gateway_ip: str | None = None  # a free address in the Service CIDR
    # Ranges the gateway pod's NetworkPolicy never opens (the cluster's pods and
    # Services; metadata and loopback are always added): --cluster-cidr.
    gateway_denied_cidrs: tuple[str, ...] = ()
    bundle_bytes: int = 0  # size of the signed bundle, for the claim's request
    fetch_wait_seconds: int = 600  # how long the verify step waits for the bundle
    stdin: bool = False  # keep the tool's stdin open for `kubectl attach -i`

    @property
    def digest(self) -> Digest:
        assert self.package.digest is not None
        return self.package.digest


def object_name(text: str, what: str) -> str:
    if len(text) > 63 or not _LABEL_RE.fullmatch(text):
        raise UserInputError(
            f"{what} {text!r} is not a valid Kubernetes name",
            hint="use at most 63 lower-case letters, digits and '-', "
            "starting and ending with a letter or digit",
        )
    return text


def namespace_name(text: str) -> str:
    return object_name(text, "namespace")


def pinned_image(text: str, what: str) -> str:
    if not _PINNED_IMAGE_RE.fullmatch(text):
        raise UserInputError(
            f"{what} {text!r} is not pinned by digest",
            hint="give REPOSITORY@sha256:<64 hex digits>, as `mppoci runtime push` prints it; "
            "a tag could be moved to other bytes",
        )
    return text


def architecture(text: str) -> str:
    if text not in ARCHITECTURES:
        raise UserInputError(
            f"--arch {text!r} is not supported",
            hint=f"use one of {', '.join(sorted(ARCHITECTURES))}",
        )
    return text


def volume_binding(item: str) -> tuple[str, VolumeSource]:
    """``NAME=pvc:CLAIM`` or ``NAME=configmap:CONFIGMAP``."""
    name, sep, rest = item.partition("=")
    kind, colon, source = rest.partition(":")
    kinds = {"pvc": MountKind.PVC, "configmap": MountKind.CONFIG_MAP}
    if not sep or not name or not colon or kind not in kinds:
        raise UserInputError(
            f"--volume {item!r}: expected NAME=pvc:CLAIM or NAME=configmap:CONFIGMAP",
            hint="NAME is a filesystem or storage entry the package declares",
        )
    if len(source) > 253 or not _SUBDOMAIN_RE.fullmatch(source):
        raise UserInputError(f"--volume {item!r}: {source!r} is not a valid Kubernetes name")
    return name, VolumeSource(kinds[kind], source)


def secret_binding(item: str) -> tuple[str, SecretRef]:
    """``VAR=SECRET`` or ``VAR=SECRET:KEY`` (the key defaults to VAR)."""
    var, sep, rest = item.partition("=")
    secret, _, key = rest.partition(":")
    key = key or var
    if not sep or not var or not secret:
        raise UserInputError(f"--secret {item!r}: expected VAR=SECRET or VAR=SECRET:KEY")
    if len(secret) > 253 or not _SUBDOMAIN_RE.fullmatch(secret):
        raise UserInputError(f"--secret {item!r}: {secret!r} is not a valid Secret name")
    if len(key) > 253 or not _KEY_RE.fullmatch(key):
        raise UserInputError(f"--secret {item!r}: {key!r} is not a valid key of a Secret")
    return var, SecretRef(secret, key)


def cidr(text: str, flag: str = "--registry-cidr") -> str:
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        raise UserInputError(
            f"{flag} {text!r} is not a network in CIDR notation",
            hint="for example 10.0.12.7/32 for one registry address",
        ) from None
    if network.prefixlen == 0:
        raise UserInputError(
            f"{flag} {text}: that is every address",
            hint="name the registry's own addresses; the fetch step may reach nothing else",
        )
    return str(network)


def service_ip(text: str) -> str:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise UserInputError(f"--gateway-ip {text!r} is not an IP address") from None
    if address.is_unspecified or address.is_loopback or address.is_multicast:
        raise UserInputError(f"--gateway-ip {text}: not a usable Service address")
    return str(address)


def registry_address(registry: str) -> tuple[str | None, int]:
    """(the registry's IP if it is given as one, its port)."""
    host, _, port_text = (
        registry.rpartition(":") if registry.count(":") == 1 else (registry, "", "")
    )
    if not host:
        host, port_text = registry, ""
    port = int(port_text) if port_text.isdigit() else 443
    try:
        return str(ipaddress.ip_address(host)), port
    except ValueError:
        return None, port
