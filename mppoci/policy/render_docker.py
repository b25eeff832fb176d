"""Render a :class:`ContainerSpec` for Docker: API arguments for docker-py, and
the equivalent `docker run` line for people to read. Pure."""

from __future__ import annotations

import shlex
from typing import Any

from mppoci.policy.spec import TMP_MOUNT, ContainerSpec, MountKind, Network
from mppoci.text import terminal_safe


def _network(spec: ContainerSpec) -> str:
    if spec.network is Network.EGRESS:
        assert spec.network_name is not None
        return spec.network_name
    return "none"


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
        "network_mode": _network(spec),
        **({"dns": list(spec.dns)} if spec.dns else {}),
        "cap_drop": list(spec.cap_drop),
        "security_opt": [
            "no-new-privileges:true",
            "seccomp=" + spec.seccomp_profile,
        ],
        "pids_limit": spec.pids_limit,
        "mem_limit": spec.memory_bytes,
        "memswap_limit": spec.memory_bytes,  # no swap: the memory limit is the limit
        "nano_cpus": spec.nano_cpus,
        "tmpfs": {TMP_MOUNT: _tmpfs_options(spec)},
        # The private IPC namespace's /dev/shm, which Docker mounts
        # nosuid,nodev,noexec.
        "shm_size": spec.shm_bytes,
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
        # fill the host's disk through stdout.
        "log_config": {"Type": "none", "Config": {}},
        "ulimits": [{"Name": "core", "Soft": 0, "Hard": 0}],
        # With detach False, docker-py sets StdinOnce: the tool's stdin closes
        # when ours does, so a tool reading to EOF finishes.
        "stdin_open": True,
        "tty": False,
        "detach": False,
    }


def docker_run_argv(spec: ContainerSpec, *, seccomp_file: str = "PROFILE.json") -> list[str]:
    """The same sandbox as a `docker run` command. Secret values are not
    written out: they are passed by name from the environment (``--env NAME``)."""
    _docker_only(spec)
    argv = [
        "docker", "run", "--rm", "-i",
        "--read-only",
        f"--network={_network(spec)}",
        *(f"--dns={d}" for d in spec.dns),
        *(f"--cap-drop={c}" for c in spec.cap_drop),
        "--security-opt=no-new-privileges:true",
        f"--security-opt=seccomp={seccomp_file}",
        f"--user={spec.user}",
        f"--workdir={spec.workdir}",
        f"--pids-limit={spec.pids_limit}",
        f"--memory={spec.memory_bytes}",
        f"--memory-swap={spec.memory_bytes}",
        f"--cpus={spec.nano_cpus / 1e9:g}",
        "--ipc=private",
        f"--shm-size={spec.shm_bytes}",
        "--log-driver=none",
        "--ulimit=core=0:0",
        f"--tmpfs={TMP_MOUNT}:{_tmpfs_options(spec)}",
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
