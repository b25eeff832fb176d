"""Checks of rendered objects against the Pod Security Standards "restricted"
level, and against mppoci's own stricter rules. Pure.

The Kubernetes API schemas only say whether an object is well formed (a
privileged pod is well formed), so these rules are checked here, on every
render, before anything is written: a render that fails them is refused.

Restricted (https://kubernetes.io/docs/concepts/security/pod-security-standards/):
no host namespaces, ports or paths, no privileged containers, only the allowed
volume types and sysctls, ``allowPrivilegeEscalation: false``, all
capabilities dropped (only NET_BIND_SERVICE may be added), ``runAsNonRoot``,
no user 0, seccomp RuntimeDefault or Localhost, no unconfined AppArmor, only
the allowed SELinux types, default /proc mount.

mppoci adds: a read-only root filesystem, no service account token, no
capabilities added at all, resource limits on every container, and the tool
container on its Localhost (generated) profile.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

ALLOWED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ping_group_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def pod_specs(obj: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, pod spec) of every pod an object makes."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        yield "spec", spec
    elif kind in ("Job", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        yield "spec.template.spec", (spec.get("template") or {}).get("spec") or {}
    elif kind == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        yield "spec.jobTemplate.spec.template.spec", (job.get("template") or {}).get("spec") or {}


def _containers(pod: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for field in _CONTAINER_LISTS:
        for i, c in enumerate(pod.get(field) or []):
            yield f"{field}[{i}]({c.get('name', '?')})", c


def _effective(pod_ctx: Mapping[str, Any], ctx: Mapping[str, Any], key: str) -> Any:
    return ctx[key] if key in ctx else pod_ctx.get(key)


def _context_problems(at: str, ctx: Mapping[str, Any]) -> Iterator[str]:
    """The rules on a securityContext that hold alike at both levels: the
    pod's and each container's (a container's own setting overrides the
    pod's, so either may weaken it)."""
    if ctx.get("runAsUser") == 0:
        yield f"{at}: runAsUser is 0"
    if ((ctx.get("appArmorProfile") or {}).get("type")) == "Unconfined":
        yield f"{at}: AppArmor is unconfined"
    selinux = ctx.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in SELINUX_TYPES or selinux.get("user") or selinux.get("role"):
        yield f"{at}: SELinux options are not allowed"


def restricted_problems(obj: Mapping[str, Any]) -> list[str]:
    """Violations of the Pod Security Standards "restricted" level."""
    problems: list[str] = []
    for path, pod in pod_specs(obj):
        where = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')} {path}"
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.get(field):
                problems.append(f"{where}: {field} is set")
        pod_ctx = pod.get("securityContext") or {}
        for sysctl in pod_ctx.get("sysctls") or []:
            if sysctl.get("name") not in SAFE_SYSCTLS:
                problems.append(f"{where}: sysctl {sysctl.get('name')} is not a safe sysctl")
        for volume in pod.get("volumes") or []:
            kinds = set(volume) - {"name"}
            if not kinds <= ALLOWED_VOLUMES:
                problems.append(
                    f"{where}: volume {volume.get('name')} is of a type restricted pods "
                    f"may not use ({', '.join(sorted(kinds - ALLOWED_VOLUMES))})"
                )
        problems.extend(_context_problems(where, pod_ctx))
        if not list(_containers(pod)):
            problems.append(f"{where}: no containers")
        for cpath, c in _containers(pod):
            at = f"{where}.{cpath}"
            ctx = c.get("securityContext") or {}
            if ctx.get("privileged"):
                problems.append(f"{at}: privileged")
            if ctx.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{at}: allowPrivilegeEscalation is not false")
            caps = ctx.get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []):
                problems.append(f"{at}: capabilities do not drop ALL")
            added = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
            if added:
                problems.append(f"{at}: adds capabilities {', '.join(sorted(added))}")
            if _effective(pod_ctx, ctx, "runAsNonRoot") is not True:
                problems.append(f"{at}: runAsNonRoot is not true")
            seccomp = _effective(pod_ctx, ctx, "seccompProfile") or {}
            if seccomp.get("type") not in SECCOMP_TYPES:
                problems.append(f"{at}: seccomp profile is not RuntimeDefault or Localhost")
            if seccomp.get("type") == "Localhost" and not seccomp.get("localhostProfile"):
                problems.append(f"{at}: a Localhost seccomp profile names no file")
            if ctx.get("procMount", "Default") != "Default":
                problems.append(f"{at}: procMount is not Default")
            problems.extend(_context_problems(at, ctx))
            for port in c.get("ports") or []:
                if port.get("hostPort"):
                    problems.append(f"{at}: uses hostPort {port['hostPort']}")
    return problems


def mppoci_problems(obj: Mapping[str, Any]) -> list[str]:
    """mppoci's rules on top of "restricted"."""
    problems: list[str] = []
    for path, pod in pod_specs(obj):
        where = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')} {path}"
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: the service account token is mounted")
        if pod.get("enableServiceLinks") is not False:
            problems.append(f"{where}: service links put other services' addresses in env")
        for cpath, c in _containers(pod):
            at = f"{where}.{cpath}"
            ctx = c.get("securityContext") or {}
            if ctx.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{at}: the root filesystem is writable")
            if (ctx.get("capabilities") or {}).get("add"):
                problems.append(f"{at}: adds capabilities")
            limits = (c.get("resources") or {}).get("limits") or {}
            for resource in ("cpu", "memory"):
                if resource not in limits:
                    problems.append(f"{at}: no {resource} limit")
            if c.get("name") == "tool":
                seccomp = ctx.get("seccompProfile") or {}
                if seccomp.get("type") != "Localhost":
                    problems.append(f"{at}: the tool is not on its generated seccomp profile")
            if "@sha256:" not in str(c.get("image", "")):
                problems.append(f"{at}: image {c.get('image')} is not pinned by digest")
    return problems


def all_problems(objects: list[Mapping[str, Any]] | tuple[Mapping[str, Any], ...]) -> list[str]:
    return [p for obj in objects for p in (*restricted_problems(obj), *mppoci_problems(obj))]
