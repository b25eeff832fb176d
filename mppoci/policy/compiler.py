"""The permission compiler: (verified manifest, approval bindings, runtime)
-> one frozen :class:`ContainerSpec`. Pure: host paths arrive already
resolved (symlinks followed) by the caller, so every decision here is on values.

Nothing is granted that the manifest does not declare and the user did not
bind. Every refusal names what was asked and why it cannot be given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import MappingProxyType

from mppoci.digest import Digest
from mppoci.errors import PolicyError
from mppoci.manifest import Access, Manifest
from mppoci.policy.host_identity import HostFacts, refusal_by_identity
from mppoci.policy.seccomp import (
    allowed_names,
    compose,
    groups_for,
    native_architecture,
    profile_text,
)
from mppoci.policy.spec import (
    PACKAGE_MOUNT,
    ContainerSpec,
    EnvVar,
    Mount,
    MountKind,
    Network,
    SecretRef,
    VolumeSource,
)

# Host paths never bound into a sandbox (conventions), nor anything below them.
NEVER_BIND = (
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/run",
    "/var/run",
    "/var/lib/docker",
    "/var/lib/containerd",
)
_SOCKET_NAMES = ("docker.sock", "containerd.sock")
RESOLV_CONF = "/etc/resolv.conf"


@dataclass(frozen=True, slots=True)
class EgressBinding:
    """Where the tool's way out is (see mppoci.egress). Docker: ``network`` is
    ``container:<relay id>`` (the relay's loopback-only namespace) and
    ``gateway_ip`` 127.0.0.1, the relay. Kubernetes: the gateway's Service."""

    network: str
    gateway_ip: str
    # Docker: a host file mounted at /etc/resolv.conf, so the relay is the only
    # resolver. None where the backend sets the resolver itself (Kubernetes dnsConfig).
    resolv_conf: str | None


@dataclass(frozen=True, slots=True)
class Bindings:
    """What the user supplies at run time: host folders (already resolved) or
    cluster volumes for declared filesystem entries, values (or, on a cluster,
    Secret references) for declared variables, and what holds declared storage."""

    mounts: Mapping[str, str | VolumeSource] = field(default_factory=dict)
    env: Mapping[str, str | SecretRef] = field(default_factory=dict)
    storage: Mapping[str, str | VolumeSource] = field(default_factory=dict)
    egress: EgressBinding | None = None


def _under(path: PurePosixPath, folder: PurePosixPath) -> bool:
    return path == folder or folder in path.parents


def refusal_for_host_path(path: str, protected: Sequence[str]) -> str | None:
    """Why ``path`` (resolved, absolute) may never be bound, or None. Pure."""
    # POSIX keeps a leading "//" (PurePosixPath("//etc") is not under "/etc"),
    # while Docker binds "//etc" as /etc: fold it first.
    p = PurePosixPath("/" + path.lstrip("/")) if path.startswith("/") else PurePosixPath(path)
    if not p.is_absolute() or ".." in p.parts:
        return "it is not an absolute, resolved path"
    if p == PurePosixPath("/"):
        return "it is the host's root folder"
    if p.name in _SOCKET_NAMES or ("docker" in p.name and p.name.endswith(".sock")):
        return "it is a container engine socket (full control of the host)"
    for folder in NEVER_BIND:
        if _under(p, PurePosixPath(folder)):
            return f"it is in {folder}, a system folder"
    for folder in protected:
        guarded = PurePosixPath(folder)
        if _under(p, guarded) or _under(guarded, p):
            return (
                f"it holds or is inside mppoci's own folder {folder} (a tool that could "
                "write there could approve itself or rewrite the audit log)"
            )
    return None


def unbound_folder(name: str) -> str:
    """What ``policy show`` puts where a required folder will be bound."""
    return f"<the folder you bind with --mount {name}=PATH>"


def refuse_unbound(manifest: Manifest, bound: Iterable[str]) -> None:
    """Refuse a run that binds no folder to a required filesystem entry
    (``bound``: the names given with ``--mount``).

    Raises PolicyError."""
    given = set(bound)
    for entry in manifest.permissions.filesystem:
        if entry.required and entry.name not in given:
            raise PolicyError(
                f"{manifest.name} requires the folder {entry.name!r} ({entry.why}); none was bound",
                hint=f"pass --mount {entry.name}=PATH (the tool sees it at {entry.path})",
            )


def _mounts(
    manifest: Manifest,
    bindings: Bindings,
    protected: Sequence[str],
    host: HostFacts | None,
    placeholders: bool,
) -> list[Mount]:
    declared = {entry.name: entry for entry in manifest.permissions.filesystem}
    for name in bindings.mounts:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise PolicyError(
                f"--mount {name}=...: {manifest.name} declares no filesystem entry named {name!r}",
                hint=f"declared entries: {known}",
            )
    if not placeholders:
        refuse_unbound(manifest, bindings.mounts)
    mounts = []
    for entry in manifest.permissions.filesystem:
        source = bindings.mounts.get(entry.name)
        read_only = entry.access is not Access.READ_WRITE
        purpose = f"filesystem {entry.name}"
        if source is None and entry.required and placeholders:
            placeholder = unbound_folder(entry.name)
            mounts.append(Mount(MountKind.BIND, placeholder, entry.path, read_only, purpose))
            continue
        if source is None:
            # An unbound entry gets nothing: the path simply does not exist.
            continue
        if isinstance(source, VolumeSource):
            if source.kind is MountKind.CONFIG_MAP and not read_only:
                raise PolicyError(
                    f"{entry.name} is declared read-write, but a ConfigMap is always read-only",
                    hint="bind it to a persistent volume claim (pvc:NAME) instead",
                )
            mounts.append(_volume_mount(source, entry.path, read_only, purpose))
            continue
        why_not = refusal_for_host_path(source, protected)
        if why_not is None and host is not None:
            why_not = refusal_by_identity(source, host)
        if why_not:
            raise PolicyError(
                f"--mount {entry.name}={source} is refused: {why_not}",
                hint="bind a folder that holds only what the tool needs",
            )
        mounts.append(Mount(MountKind.BIND, source, entry.path, read_only, purpose))
    for volume in manifest.permissions.storage:
        held = bindings.storage.get(volume.name)
        if held is None:
            raise PolicyError(f"no folder was prepared for storage {volume.name!r}")
        purpose = f"storage {volume.name}"
        if isinstance(held, VolumeSource):
            if held.kind is MountKind.CONFIG_MAP:
                raise PolicyError(f"storage {volume.name!r} must be writable, not a ConfigMap")
            mounts.append(_volume_mount(held, volume.path, False, purpose))
        else:
            mounts.append(Mount(MountKind.BIND, held, volume.path, False, purpose))
    return mounts


def _volume_mount(source: VolumeSource, target: str, read_only: bool, purpose: str) -> Mount:
    if source.kind is MountKind.BIND:
        raise PolicyError(f"{purpose}: a host folder is not a cluster volume")
    return Mount(source.kind, source.name, target, read_only, purpose, source.size_bytes)


def refuse_fixed(manifest: Manifest, names: Iterable[str]) -> None:
    """Refuse a run that tries to give a variable the manifest fixes.

    Raises PolicyError."""
    fixed = {v.name: v.value for v in manifest.permissions.env if v.value is not None}
    for name in names:
        if name in fixed:
            raise PolicyError(
                f"--env {name}: {manifest.name} sets {name}={fixed[name]} in its signed "
                "manifest; a fixed value cannot be overridden",
                hint=f"leave --env {name} out",
            )


def _env(manifest: Manifest, bindings: Bindings) -> list[EnvVar]:
    declared = {v.name: v for v in manifest.permissions.env}
    undeclared = sorted(set(bindings.env) - set(declared))
    if undeclared:
        raise PolicyError(
            f"{manifest.name} does not declare the environment variable(s) "
            f"{', '.join(undeclared)}; undeclared variables are never passed",
            hint="variables this package declares: " + (", ".join(sorted(declared)) or "none"),
        )
    refuse_fixed(manifest, bindings.env)
    out = []
    for var in manifest.permissions.env:
        value = bindings.env.get(var.name)
        if var.value is not None:
            out.append(EnvVar(var.name, var.value, secret=False))
        elif isinstance(value, SecretRef):
            out.append(EnvVar(var.name, "", var.secret, value_from=value))
        elif value is not None:
            out.append(EnvVar(var.name, value, var.secret))
        elif var.required:
            raise PolicyError(
                f"{manifest.name} requires the environment variable {var.name} ({var.why})",
                hint=f"pass --env {var.name}=VALUE, or --env {var.name} to take it from "
                "your environment",
            )
    return out


def compile_spec(
    manifest: Manifest,
    digest: Digest,
    *,
    bindings: Bindings,
    content_dir: str | VolumeSource,
    protected: Sequence[str],
    host: HostFacts | None = None,
    args: Sequence[str] = (),
    run_id: str = "",
    labels: Mapping[str, str] | None = None,
    arch: str | None = None,
    placeholders: bool = False,
) -> ContainerSpec:
    """Compile the sandbox for one run. Raises PolicyError.

    ``content_dir`` holds the verified package content: a host folder, or on a
    cluster the volume an init container fills. ``host``: the identities of
    the host folders bound and of mppoci's own (from the shell); with them, a
    folder under another name (bind mount, hard link) is refused too. ``arch`` names the seccomp
    profile's architecture (default: this machine's). ``placeholders``: a
    required folder not bound is shown as :func:`unbound_folder` rather than
    refused (to show a plan)."""
    if manifest.runtime.digest is None:
        raise PolicyError(f"{manifest.name} does not pin its runtime by digest")
    egress = bindings.egress
    if manifest.permissions.egress and egress is None:
        raise PolicyError(f"{manifest.name} declares egress but no gateway was prepared")
    if egress is not None and not manifest.permissions.egress:
        raise PolicyError(f"{manifest.name} declares no egress; it gets no network")
    resources = manifest.permissions.resources
    architecture = native_architecture(arch)
    profile = compose(
        groups_for(network=egress is not None, runtime=manifest.runtime.name), arch=arch
    )
    content = (
        _volume_mount(content_dir, PACKAGE_MOUNT, True, "package content")
        if isinstance(content_dir, VolumeSource)
        else Mount(MountKind.BIND, content_dir, PACKAGE_MOUNT, True, "package content")
    )
    mounts = [content, *_mounts(manifest, bindings, protected, host, placeholders)]
    if egress is not None and egress.resolv_conf is not None:
        mounts.append(
            Mount(MountKind.BIND, egress.resolv_conf, RESOLV_CONF, True, "DNS: the relay only")
        )
    all_labels = {
        **(labels or {}),
        "dev.mppoci.package": manifest.name,
        "dev.mppoci.version": manifest.version,
        "dev.mppoci.digest": digest,
    }
    if run_id:
        all_labels["dev.mppoci.run"] = run_id
    return ContainerSpec(
        image=_image(manifest),
        argv=(*manifest.entrypoint, *args),
        seccomp_profile=profile_text(profile),
        seccomp_allowed=len(allowed_names(profile)),
        mounts=tuple(mounts),
        env=tuple(_env(manifest, bindings)),
        network=Network.EGRESS if egress else Network.NONE,
        network_name=egress.network if egress else None,
        # Docker takes the resolver from the mounted resolv.conf (it refuses --dns
        # with a container's network); Kubernetes from dnsConfig.
        dns=(egress.gateway_ip,) if egress and egress.resolv_conf is None else (),
        architecture=architecture,
        memory_bytes=resources.memory.byte_count,
        nano_cpus=resources.millicores * 1_000_000,
        pids_limit=resources.pids,
        timeout_seconds=resources.timeout.seconds,
        tmp_bytes=resources.tmp.byte_count,
        shm_bytes=resources.tmp.byte_count,
        labels=MappingProxyType(all_labels),
        package_digest=digest,
    )


def _image(manifest: Manifest) -> str:
    runtime = manifest.runtime
    assert runtime.digest is not None
    if runtime.is_registry_reference:
        return f"{runtime.name}@{runtime.digest}"
    return runtime.digest  # a local image ID
