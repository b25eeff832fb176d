"""Render a compiled :class:`ContainerSpec` as Kubernetes objects. Pure.

One invocation is a set of objects sharing the label ``dev.mppoci/run``:

- ``<name>-trust`` ConfigMap: the keys that may sign this package.
- ``<name>-bundle`` PersistentVolumeClaim: holds the signed package bundle.
- ``<name>-fetch`` Job: mppoci pulls the package by digest, verifies it and
  writes the bundle to the claim. Its pod may reach the registry and nothing else.
- ``<name>`` Job: an init container re-verifies the bundle offline (digest,
  signature, every blob) and unpacks it into a pod-private volume; then the
  tool runs, mounted read-only at /pkg, under the generated seccomp profile.
  Its pod has no network at all unless the package declares destinations,
  and then only the egress gateway.
- NetworkPolicies: deny everything to and from this invocation's pods, then
  allow exactly the paths above.
- With declared egress: ``<name>-gateway`` ConfigMap, Deployment and Service,
  the same gateway as on Docker: DNS answers declared names only, TCP is
  relayed to declared hosts and ports only.
- The seccomp profile, as a Security Profiles Operator object or a node file.

The content never travels through a pod that has the tool's network grants,
and the tool's pod never gets the registry: a NetworkPolicy covers a whole
pod, so fetching there would open the registry to the tool.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mppoci.kube.seccomp import localhost_path, profile_name, seccomp_profile_object
from mppoci.kube.target import ClusterTarget
from mppoci.manifest import Manifest
from mppoci.policy.gateway import GatewayRole, compile_gateway
from mppoci.policy.spec import (
    PACKAGE_MOUNT,
    RUNTIME_DEFAULT_SECCOMP,
    SHM_MOUNT,
    TMP_MOUNT,
    ContainerSpec,
    Mount,
    MountKind,
    Network,
)

RUN_LABEL = "dev.mppoci/run"
ROLE_LABEL = "dev.mppoci/role"
MANAGED_BY = {"app.kubernetes.io/managed-by": "mppoci"}
DNS_PORT = 53
KUBE_DNS_PEERS = [
    {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    }
]
# Paths inside mppoci's own containers (fetch and verify steps).
BUNDLE_DIR = "/bundle"
TRUST_DIR = "/trust"
WORK_DIR = "/work"
OUT_DIR = "/out"
CONTENT_SUBPATH = "content"
MPPOCI_STEP_RESOURCES = {"cpu": "500m", "memory": str(256 * 1024 * 1024)}
GATEWAY_NANO_CPUS = 250_000_000  # a cluster wants a CPU limit; Docker runs the gateway without
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Rendered:
    objects: tuple[dict[str, Any], ...]  # in the order `kubectl apply` should see them
    node_seccomp_file: tuple[str, str] | None  # (path under the kubelet's seccomp folder, JSON)


def render(
    spec: ContainerSpec,
    manifest: Manifest,
    target: ClusterTarget,
    *,
    trust_policy: bytes,
    gateway_scripts: Mapping[str, str],
) -> Rendered:
    """All objects for one invocation. ``trust_policy`` is the policy JSON the
    verify steps check signatures against (only keys that cover this package);
    ``gateway_scripts`` the gateway's files by name (gateway.py, addresses.py)."""
    from mppoci.kube.target import SeccompSource

    name = target.name
    labels = _labels(spec, manifest, target)
    profile = profile_name(spec.seccomp_profile)
    localhost = localhost_path(target.seccomp_source, profile, target.namespace)
    objects: list[dict[str, Any]] = []
    node_file = None
    if target.seccomp_source is SeccompSource.OPERATOR:
        objects.append(
            seccomp_profile_object(
                spec.seccomp_profile, name=profile, namespace=target.namespace, labels=labels
            )
        )
    else:
        node_file = (localhost, _pretty(spec.seccomp_profile))
    objects += [
        _config_map(f"{name}-trust", target, labels, {"trust.json": trust_policy.decode()}),
        _bundle_claim(target, labels),
        *_network_policies(spec, manifest, target),
        _fetch_job(target, labels),
    ]
    if spec.network is Network.EGRESS:
        objects += _gateway(manifest, target, labels, gateway_scripts)
    objects.append(_tool_job(spec, manifest, target, labels, localhost))
    return Rendered(tuple(objects), node_file)


# --- common pieces -----------------------------------------------------------


def _labels(spec: ContainerSpec, manifest: Manifest, target: ClusterTarget) -> dict[str, str]:
    return {
        **MANAGED_BY,
        "app.kubernetes.io/name": manifest.name.rsplit("/", 1)[-1][:63].strip("-_.") or "tool",
        RUN_LABEL: target.name,
    }


def _annotations(manifest: Manifest, target: ClusterTarget) -> dict[str, str]:
    return {
        "dev.mppoci/package": manifest.name,
        "dev.mppoci/version": manifest.version,
        "dev.mppoci/digest": target.digest,
        "dev.mppoci/source": str(target.package),
    }


def _meta(
    name: str, target: ClusterTarget, labels: dict[str, str], **extra: dict[str, str]
) -> dict[str, Any]:
    return {"name": name, "namespace": target.namespace, "labels": dict(labels), **extra}


def _role(labels: dict[str, str], role: str) -> dict[str, str]:
    return {**labels, ROLE_LABEL: role}


def _selector(target: ClusterTarget, role: str | None = None) -> dict[str, Any]:
    match = {RUN_LABEL: target.name}
    if role is not None:
        match[ROLE_LABEL] = role
    return {"matchLabels": match}


def _user_group(spec_user: str) -> tuple[int, int]:
    user, _, group = spec_user.partition(":")
    return int(user), int(group or user)


def _container_security(
    seccomp: dict[str, str], user: tuple[int, int], spec: ContainerSpec | None = None
) -> dict[str, Any]:
    """A container's securityContext: mppoci's own steps' (always locked
    down), or what ``spec`` says."""
    return {
        "allowPrivilegeEscalation": False if spec is None else not spec.no_new_privileges,
        "privileged": False,
        "readOnlyRootFilesystem": True if spec is None else spec.read_only_root,
        "runAsNonRoot": True,
        "runAsUser": user[0],
        "runAsGroup": user[1],
        "capabilities": {"drop": ["ALL"] if spec is None else list(spec.cap_drop)},
        "seccompProfile": dict(seccomp),
    }


def _limits(spec: ContainerSpec) -> dict[str, dict[str, str]]:
    limits = {"cpu": f"{spec.nano_cpus // 1_000_000}m", "memory": str(spec.memory_bytes)}
    return {"limits": limits, "requests": dict(limits)}


def _pod_spec(
    *,
    seccomp: dict[str, str],
    user: tuple[int, int],
    containers: list[dict[str, Any]],
    volumes: list[dict[str, Any]],
    init: list[dict[str, Any]] | None = None,
    restart: str = "Never",
    extra: dict[str, Any] | None = None,
    sysctls: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "restartPolicy": restart,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": user[0],
            "runAsGroup": user[1],
            "fsGroup": user[1],
            "seccompProfile": dict(seccomp),
            **({"sysctls": sysctls} if sysctls else {}),
        },
        **(extra or {}),
    }
    if init:
        pod["initContainers"] = init
    pod["containers"] = containers
    pod["volumes"] = volumes
    return pod


RUNTIME_DEFAULT = {"type": "RuntimeDefault"}
NOBODY = (65534, 65534)


def _config_map(
    name: str, target: ClusterTarget, labels: dict[str, str], data: dict[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(name, target, labels),
        "immutable": True,
        "data": data,
    }


def _bundle_claim(target: ClusterTarget, labels: dict[str, str]) -> dict[str, Any]:
    # Room for the bundle and its temporary copy while it is written atomically.
    size_mib = max(16, math.ceil(2 * target.bundle_bytes / _MIB) + 8)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(f"{target.name}-bundle", target, labels),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": f"{size_mib}Mi"}},
        },
    }


def bundle_file(target: ClusterTarget) -> str:
    return f"{BUNDLE_DIR}/{target.digest.removeprefix('sha256:')}.tar"


def _mppoci_env() -> list[dict[str, str]]:
    # Everything mppoci writes goes to the scratch volume; the root stays read-only.
    return [
        {"name": "HOME", "value": WORK_DIR},
        {"name": "MPPOCI_HOME", "value": f"{WORK_DIR}/mppoci"},
    ]


def _mppoci_container(
    name: str, target: ClusterTarget, command: list[str], mounts: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "name": name,
        "image": target.mppoci_image,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "env": _mppoci_env(),
        "resources": {"limits": dict(MPPOCI_STEP_RESOURCES), "requests": MPPOCI_STEP_RESOURCES},
        "securityContext": _container_security(RUNTIME_DEFAULT, NOBODY),
        "volumeMounts": mounts,
    }


def _scratch_volume(target: ClusterTarget) -> dict[str, Any]:
    size_mib = max(64, math.ceil(3 * target.bundle_bytes / _MIB) + 32)
    return {"name": "work", "emptyDir": {"sizeLimit": f"{size_mib}Mi"}}


# --- fetch step --------------------------------------------------------------


def _fetch_job(target: ClusterTarget, labels: dict[str, str]) -> dict[str, Any]:
    command = [
        "mppoci", "k8s", "fetch", str(target.package),
        "--trust", f"{TRUST_DIR}/trust.json",
        "--output", bundle_file(target),
    ]  # fmt: skip
    if target.registry_plain_http:
        command.append("--insecure")
    mounts: list[dict[str, Any]] = [
        {"name": "bundle", "mountPath": BUNDLE_DIR},
        {"name": "trust", "mountPath": TRUST_DIR, "readOnly": True},
        {"name": "work", "mountPath": WORK_DIR},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "bundle", "persistentVolumeClaim": {"claimName": f"{target.name}-bundle"}},
        {"name": "trust", "configMap": {"name": f"{target.name}-trust"}},
        _scratch_volume(target),
    ]
    container = _mppoci_container("fetch", target, command, mounts)
    if target.registry_secret:
        container["env"].append({"name": "DOCKER_CONFIG", "value": "/registry-auth"})
        mounts.append({"name": "registry-auth", "mountPath": "/registry-auth", "readOnly": True})
        volumes.append(
            {
                "name": "registry-auth",
                "secret": {
                    "secretName": target.registry_secret,
                    "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
                },
            }
        )
    pod_labels = _role(labels, "fetch")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(f"{target.name}-fetch", target, pod_labels),
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": target.fetch_wait_seconds,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": _pod_spec(
                    seccomp=RUNTIME_DEFAULT, user=NOBODY, containers=[container], volumes=volumes
                ),
            },
        },
    }


# --- the tool ----------------------------------------------------------------


def _verify_container(target: ClusterTarget) -> dict[str, Any]:
    command = [
        "mppoci", "k8s", "unpack", bundle_file(target),
        "--digest", target.digest,
        "--origin", target.package.registry,
        "--trust", f"{TRUST_DIR}/trust.json",
        "--into", f"{OUT_DIR}/{CONTENT_SUBPATH}",
        "--wait", str(target.fetch_wait_seconds),
    ]  # fmt: skip
    mounts: list[dict[str, Any]] = [
        {"name": "bundle", "mountPath": BUNDLE_DIR, "readOnly": True},
        {"name": "trust", "mountPath": TRUST_DIR, "readOnly": True},
        {"name": "work", "mountPath": WORK_DIR},
        {"name": "package", "mountPath": OUT_DIR},
    ]
    return _mppoci_container("verify", target, command, mounts)


def _tool_container(
    spec: ContainerSpec, image: str, localhost: str
) -> tuple[dict[str, Any], list[Any]]:
    user = _user_group(spec.user)
    mounts: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    for i, m in enumerate(spec.mounts):
        if m.target == PACKAGE_MOUNT:
            # Filled by the verify step; the tool sees only the unpacked content.
            mounts.append(
                {
                    "name": "package",
                    "mountPath": PACKAGE_MOUNT,
                    "subPath": CONTENT_SUBPATH,
                    "readOnly": True,
                }
            )
            continue
        volume = f"declared-{i}"
        read_only = m.read_only or m.kind is MountKind.CONFIG_MAP
        mounts.append({"name": volume, "mountPath": m.target, "readOnly": read_only})
        if m.kind is MountKind.PVC:
            source: dict[str, Any] = {
                "persistentVolumeClaim": {"claimName": m.source, "readOnly": read_only}
            }
        elif m.kind is MountKind.CONFIG_MAP:
            source = {"configMap": {"name": m.source}}
        elif m.kind is MountKind.EMPTY_DIR:
            size = {"sizeLimit": str(m.size_bytes)} if m.size_bytes else {}
            source = {"emptyDir": size}
        else:
            raise ValueError(f"{m.purpose}: a host folder cannot be mounted on a cluster")
        volumes.append({"name": volume, **source})
    mounts.append({"name": "tmp", "mountPath": TMP_MOUNT})
    volumes.append(
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": str(spec.tmp_bytes)}}
    )
    # Without a volume, /dev/shm is the runtime's default (64 MiB with
    # containerd and CRI-O) whatever the package declared.
    mounts.append({"name": "shm", "mountPath": SHM_MOUNT})
    volumes.append(
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": str(spec.shm_bytes)}}
    )
    env: list[dict[str, Any]] = []
    for e in spec.env:
        if e.value_from is not None:
            ref = {"name": e.value_from.secret, "key": e.value_from.key}
            env.append({"name": e.name, "valueFrom": {"secretKeyRef": ref}})
        elif e.secret:
            raise ValueError(f"{e.name} is secret: it must come from a Secret, not a value")
        else:
            env.append({"name": e.name, "value": e.value})
    container = {
        "name": "tool",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": list(spec.argv),
        "workingDir": spec.workdir,
        "env": env,
        "resources": _limits(spec),
        "securityContext": _container_security(
            {"type": "Localhost", "localhostProfile": localhost}, user, spec
        ),
        "volumeMounts": mounts,
    }
    return container, volumes


def _tool_job(
    spec: ContainerSpec,
    manifest: Manifest,
    target: ClusterTarget,
    labels: dict[str, str],
    localhost: str,
) -> dict[str, Any]:
    tool, tool_volumes = _tool_container(spec, target.runtime_image, localhost)
    if target.stdin:
        # Requests arrive through `kubectl attach -i`; EOF when that stream closes.
        tool |= {"stdin": True, "stdinOnce": True}
    volumes: list[dict[str, Any]] = [
        {
            "name": "bundle",
            "persistentVolumeClaim": {"claimName": f"{target.name}-bundle", "readOnly": True},
        },
        {"name": "trust", "configMap": {"name": f"{target.name}-trust"}},
        _scratch_volume(target),
        {"name": "package", "emptyDir": {}},
        *tool_volumes,
    ]
    extra: dict[str, Any] = {}
    if spec.network is Network.EGRESS:
        # The gateway is the only resolver, as on Docker: undeclared names
        # get no answer, and no query is forwarded.
        extra = {
            "dnsPolicy": "None",
            "dnsConfig": {
                "nameservers": list(spec.dns),
                "options": [{"name": "ndots", "value": "0"}, {"name": "attempts", "value": "1"}],
            },
        }
    pod_labels = _role(labels, "tool")
    annotations = _annotations(manifest, target)
    # The deadline covers waiting for the bundle, verifying, and the tool's own timeout.
    deadline = target.fetch_wait_seconds + math.ceil(spec.timeout_seconds) + 60
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(target.name, target, pod_labels, annotations=annotations),
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": pod_labels, "annotations": annotations},
                "spec": _pod_spec(
                    seccomp={"type": "Localhost", "localhostProfile": localhost},
                    user=_user_group(spec.user),
                    init=[_verify_container(target)],
                    containers=[tool],
                    volumes=volumes,
                    extra=extra,
                ),
            },
        },
    }


# --- egress gateway ----------------------------------------------------------


def _gateway_ports(manifest: Manifest) -> list[int]:
    return sorted({rule.port for rule in manifest.permissions.egress})


def _gateway(
    manifest: Manifest, target: ClusterTarget, labels: dict[str, str], scripts: Mapping[str, str]
) -> list[dict[str, Any]]:
    assert target.gateway_ip is not None and target.gateway_image is not None
    name = f"{target.name}-gateway"
    config = {
        "ip": target.gateway_ip,
        "listen": "0.0.0.0",  # noqa: S104 (inside its own pod, behind the Service)
        "rules": [
            {"host": r.host, "port": r.port, **({"address": r.address} if r.address else {})}
            for r in manifest.permissions.egress
        ],
    }
    pod_labels = _role(labels, "gateway")
    ports = _gateway_ports(manifest)
    spec = compile_gateway(
        image=target.gateway_image,
        role=GatewayRole.GATEWAY,
        scripts="/gateway",
        mounts=(Mount(MountKind.CONFIG_MAP, name, "/gateway", True, "egress scripts"),),
        network=Network.OUTSIDE,  # the pod network, closed by NetworkPolicies
        labels=pod_labels,
        # Port 53 and declared ports below 1024 without any capability: a
        # namespaced sysctl the Pod Security Standards allow.
        listens_below_1024=True,
        nano_cpus=GATEWAY_NANO_CPUS,
    )
    seccomp = _gateway_seccomp(spec)
    user = _user_group(spec.user)
    container = {
        "name": "gateway",
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "command": list(spec.argv),
        "resources": _limits(spec),
        "securityContext": _container_security(seccomp, user, spec),
        "volumeMounts": [
            {"name": "gateway", "mountPath": m.target, "readOnly": m.read_only} for m in spec.mounts
        ],
        "ports": [
            {"name": "dns", "containerPort": DNS_PORT, "protocol": "UDP"},
            *({"containerPort": p, "protocol": "TCP"} for p in ports),
        ],
    }
    pod = _pod_spec(
        seccomp=seccomp,
        user=user,
        containers=[container],
        volumes=[{"name": "gateway", "configMap": {"name": m.source}} for m in spec.mounts],
        restart="Always",
        sysctls=[{"name": k, "value": v} for k, v in sorted(spec.sysctls.items())],
    )
    return [
        _config_map(
            name,
            target,
            labels,
            {**scripts, "config.json": json.dumps(config, sort_keys=True)},
        ),
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta(name, target, pod_labels),
            "spec": {
                "replicas": 1,
                "selector": _selector(target, "gateway"),
                "template": {"metadata": {"labels": pod_labels}, "spec": pod},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(name, target, pod_labels),
            "spec": {
                "type": "ClusterIP",
                "clusterIP": target.gateway_ip,
                "selector": {RUN_LABEL: target.name, ROLE_LABEL: "gateway"},
                "ports": [
                    {"name": "dns", "port": DNS_PORT, "targetPort": DNS_PORT, "protocol": "UDP"},
                    *(
                        {"name": f"tcp-{p}", "port": p, "targetPort": p, "protocol": "TCP"}
                        for p in ports
                    ),
                ],
            },
        },
    ]


def _gateway_seccomp(spec: ContainerSpec) -> dict[str, str]:
    if spec.seccomp_profile != RUNTIME_DEFAULT_SECCOMP:
        raise ValueError("the gateway runs under the runtime's default seccomp profile")
    return dict(RUNTIME_DEFAULT)


# --- network policies --------------------------------------------------------


def _policy(
    name: str,
    target: ClusterTarget,
    role: str | None,
    *,
    ingress: list[dict[str, Any]] | None = None,
    egress: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    types = []
    spec: dict[str, Any] = {"podSelector": _selector(target, role)}
    if ingress is not None:
        types.append("Ingress")
        spec["ingress"] = ingress
    if egress is not None:
        types.append("Egress")
        spec["egress"] = egress
    spec["policyTypes"] = types
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(name, target, dict(MANAGED_BY) | {RUN_LABEL: target.name}),
        "spec": spec,
    }


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


_GATEWAY_DNS = {"protocol": "UDP", "port": DNS_PORT}  # the gateway answers over UDP only


def _dns() -> list[dict[str, Any]]:
    return [{"protocol": "UDP", "port": DNS_PORT}, {"protocol": "TCP", "port": DNS_PORT}]


def _network_policies(
    spec: ContainerSpec, manifest: Manifest, target: ClusterTarget
) -> list[dict[str, Any]]:
    n = target.name
    # Default deny, both ways, for every pod of this invocation. Policies add up,
    # so the ones below open exactly their own paths.
    out = [_policy(f"{n}-deny-all", target, None, ingress=[], egress=[])]
    registry_egress: list[dict[str, Any]] = [
        {
            "to": [{"ipBlock": {"cidr": c}} for c in target.registry_cidrs],
            "ports": _tcp(target.registry_port),
        }
    ]
    if not _is_ip(target.package.registry):
        registry_egress.append({"to": KUBE_DNS_PEERS, "ports": _dns()})
    out.append(_policy(f"{n}-fetch-registry", target, "fetch", egress=registry_egress))
    if spec.network is Network.EGRESS:
        ports = _gateway_ports(manifest)
        gateway_peer = [{"podSelector": _selector(target, "gateway")}]
        tool_peer = [{"podSelector": _selector(target, "tool")}]
        out.append(
            _policy(
                f"{n}-tool-to-gateway",
                target,
                "tool",
                egress=[{"to": gateway_peer, "ports": [_GATEWAY_DNS, *_tcp(*ports)]}],
            )
        )
        out.append(
            _policy(
                f"{n}-gateway",
                target,
                "gateway",
                ingress=[{"from": tool_peer, "ports": [_GATEWAY_DNS, *_tcp(*ports)]}],
                egress=[
                    # NetworkPolicy knows addresses, not names: the gateway itself
                    # holds the list of declared hosts and refuses private
                    # addresses; the cluster's own ranges, metadata and loopback
                    # are closed here too, in case a name resolves into them.
                    {
                        "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": _denied(target)}}],
                        "ports": _tcp(*ports),
                    },
                    *_declared_private(manifest),
                    {"to": KUBE_DNS_PEERS, "ports": _dns()},
                ],
            )
        )
    return out


# Always closed to the gateway pod, whatever --cluster-cidr says: loopback,
# link-local (metadata), unspecified, multicast, reserved, CGNAT (where
# clusters often put pods and Services) and Azure's wireserver.
ALWAYS_DENIED = (
    "0.0.0.0/8",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "168.63.129.16/32",
    "224.0.0.0/4",
    "240.0.0.0/4",
)
# --cluster-cidr's default: every private range, so the pod and Service ranges
# are closed without knowing them (narrow it to reach other private machines
# by declaring their ``address`` instead).
DEFAULT_CLUSTER_CIDRS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")


def _denied(target: ClusterTarget) -> list[str]:
    ranges = target.gateway_denied_cidrs or DEFAULT_CLUSTER_CIDRS
    # The gateway's own Service address: a name resolving to it would loop.
    own = (str(ipaddress.ip_network(target.gateway_ip)),) if target.gateway_ip else ()
    return sorted({*ranges, *ALWAYS_DENIED, *own})


def _declared_private(manifest: Manifest) -> list[dict[str, Any]]:
    """A destination declared with a private ``address``: its own opening."""
    out = []
    for r in manifest.permissions.egress:
        if r.address is not None and ":" not in r.address:
            cidr = r.address if "/" in r.address else f"{r.address}/32"
            out.append({"to": [{"ipBlock": {"cidr": cidr}}], "ports": _tcp(r.port)})
    return out


def _is_ip(registry: str) -> bool:
    from mppoci.kube.target import registry_address

    return registry_address(registry)[0] is not None


def _pretty(profile_text: str) -> str:
    return json.dumps(json.loads(profile_text), indent=2, sort_keys=True) + "\n"
