"""Render a :class:`ContainerSpec` for Docker: API arguments for docker-py, and
the equivalent `docker run` line for people to read. Pure."""

from __future__ import annotations

import shlex
from typing import Any

from mppoci.policy.spec import (
    RUNTIME_DEFAULT_SECCOMP,
    TMP_MOUNT,
    ContainerSpec,
    MountKind,
    Network,
)
from mppoci.text import terminal_safe

_MIB = 1024 * 1024


def _network(spec: ContainerSpec) -> str:
    if spec.network in (Network.EGRESS, Network.OUTSIDE):
        assert spec.network_name is not None
        return spec.network_name
    return "none"


def _network_kwargs(spec: ContainerSpec) -> dict[str, Any]:
    # A network of the engine is joined at create ("network"), a namespace is
    # shared or none ("network_mode"); docker-py refuses both at once.
    key = "network" if spec.network is Network.OUTSIDE else "network_mode"
    return {key: _network(spec)}


def _security_opt(spec: ContainerSpec, seccomp: str) -> list[str]:
    opts = ["no-new-privileges:true"]
    if spec.seccomp_profile != RUNTIME_DEFAULT_SECCOMP:
        opts.append("seccomp=" + seccomp)
    return opts


def _log_config(spec: ContainerSpec) -> dict[str, Any]:
    if not spec.log_bytes:
        return {"Type": "none", "Config": {}}
    size = f"{spec.log_bytes // _MIB}m" if spec.log_bytes % _MIB == 0 else str(spec.log_bytes)
    return {"Type": "json-file", "Config": {"max-size": size, "max-file": "1"}}


def _tmpfs_options(spec: ContainerSpec) -> str:
    return ",".join((*spec.tmp_options, f"size={spec.tmp_bytes}"))


def _docker_only(spec: ContainerSpec) -> None:
    """A spec compiled for a cluster names volumes and Secrets Docker does not have."""
    for m in spec.mounts:
        if m.kind is not MountKind.BIND:
            raise ValueError(f"{m.purpose} is a Kubernetes {m.kind.value}, not a host folder")
    for e in spec.env:
        if e.value_from is not None:
            raise ValueError(f"{e.name} comes from a Kubernetes Secret")


def docker_create_kwargs(spec: ContainerSpec) -> dict[str, Any]:
    """Keyword arguments for ``docker.DockerClient.containers.create``."""
    _docker_only(spec)
    return {
        "image": spec.image,
        "command": list(spec.argv),
        "entrypoint": [],
        "user": spec.user,
        "working_dir": spec.workdir,
        "read_only": spec.read_only_root,
        **_network_kwargs(spec),
        **({"dns": list(spec.dns)} if spec.dns else {}),
        **({"sysctls": dict(spec.sysctls)} if spec.sysctls else {}),
        "cap_drop": list(spec.cap_drop),
        "security_opt": _security_opt(spec, spec.seccomp_profile),
        "pids_limit": spec.pids_limit,
        "mem_limit": spec.memory_bytes,
        "memswap_limit": spec.memory_bytes,  # no swap: the memory limit is the limit
        **({"nano_cpus": spec.nano_cpus} if spec.nano_cpus else {}),
        **({"tmpfs": {TMP_MOUNT: _tmpfs_options(spec)}} if spec.tmp_bytes else {}),
        # The private IPC namespace's /dev/shm, which Docker mounts
        # nosuid,nodev,noexec.
        **({"shm_size": spec.shm_bytes} if spec.shm_bytes else {}),
        "mounts": [
            {
                "Type": m.kind.value,
                "Source": m.source,
                "Target": m.target,
                "ReadOnly": m.read_only,
                **(
                    {"BindOptions": {"Propagation": "rprivate"}} if m.kind is MountKind.BIND else {}
                ),
            }
            for m in spec.mounts
        ],
        "environment": {e.name: e.value for e in spec.env},
        "labels": dict(spec.labels),
        "ipc_mode": "private",
        # Output is streamed by attaching; a log on the host would let a tool
        # fill the host's disk through stdout (see ContainerSpec.log_bytes).
        "log_config": _log_config(spec),
        "ulimits": [{"Name": "core", "Soft": 0, "Hard": 0}],
        # With detach False, docker-py sets StdinOnce: the tool's stdin closes
        # when ours does, so a tool reading to EOF finishes.
        "stdin_open": spec.stdin,
        "tty": False,
        "detach": False,
    }


def docker_run_argv(spec: ContainerSpec, *, seccomp_file: str = "PROFILE.json") -> list[str]:
    """The same sandbox as a `docker run` command. Secret values are not
    written out: they are passed by name from the environment (``--env NAME``)."""
    _docker_only(spec)
    log = _log_config(spec)
    argv = [
        "docker", "run", "--rm", *(["-i"] if spec.stdin else []),
        "--read-only",
        f"--network={_network(spec)}",
        *(f"--dns={d}" for d in spec.dns),
        *(f"--sysctl={k}={v}" for k, v in sorted(spec.sysctls.items())),
        *(f"--cap-drop={c}" for c in spec.cap_drop),
        *(f"--security-opt={o}" for o in _security_opt(spec, seccomp_file)),
        f"--user={spec.user}",
        f"--workdir={spec.workdir}",
        f"--pids-limit={spec.pids_limit}",
        f"--memory={spec.memory_bytes}",
        f"--memory-swap={spec.memory_bytes}",
        *([f"--cpus={spec.nano_cpus / 1e9:g}"] if spec.nano_cpus else []),
        "--ipc=private",
        *([f"--shm-size={spec.shm_bytes}"] if spec.shm_bytes else []),
        f"--log-driver={log['Type']}",
        *(f"--log-opt={k}={v}" for k, v in log["Config"].items()),
        "--ulimit=core=0:0",
        *([f"--tmpfs={TMP_MOUNT}:{_tmpfs_options(spec)}"] if spec.tmp_bytes else []),
    ]  # fmt: skip
    for m in spec.mounts:
        mount = f"type={m.kind.value},src={m.source},dst={m.target}"
        argv.append(f"--mount={mount},readonly" if m.read_only else f"--mount={mount}")
    for e in spec.env:
        argv.append(f"--env={e.name}" if e.secret else f"--env={e.name}={e.value}")
    for key, value in sorted(spec.labels.items()):
        argv.append(f"--label={key}={value}")
    argv += ["--entrypoint=", spec.image, *spec.argv]
    return argv


def docker_run_text(spec: ContainerSpec, *, seccomp_file: str = "PROFILE.json") -> str:
    """The ``docker run`` command line for people to read, one argument per
    continued line. Each argument is escaped as one line (a newline in an
    entrypoint argument shows as ``\\x0a``, never as a line of its own)."""
    return " \\\n    ".join(
        terminal_safe(shlex.quote(a)) for a in docker_run_argv(spec, seccomp_file=seccomp_file)
    )
