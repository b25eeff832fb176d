"""The permission compiler as a table: manifest permissions and the user's
bindings in, the exact Docker arguments out (docker-py keyword arguments and
the `docker run` line), and every refusal with the words the user reads.
Pure: no Docker engine, no files."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytest

from mppoci.digest import Digest
from mppoci.errors import ManifestError, PolicyError
from mppoci.manifest import Manifest, parse_source
from mppoci.policy.compiler import Bindings, compile_spec, refusal_for_host_path
from mppoci.policy.render_docker import docker_create_kwargs, docker_run_argv, docker_run_text
from mppoci.policy.spec import ContainerSpec

RUNTIME_ID = Digest("sha256:" + "ab" * 32)
PACKAGE_DIGEST = Digest("sha256:" + "cd" * 32)
CONTENT = "/var/tmp/mppoci-run-x/pkg"
PROTECTED = ("/home/u/.mppoci/config", "/home/u/.mppoci/data", "/home/u/.mppoci/state")
MiB = 1 << 20

HEAD = """\
schemaVersion: 1
name: acme/tool
version: 1.2.3
description: A tool.
authors: [Ada]
license: MIT
runtime: python3
entrypoint: ["python3", "/pkg/main.py"]
protocol: cli
tools:
  - name: run
    description: Runs.
    annotations: {readOnlyHint: true}
"""


def manifest(permissions: str = "", *, pinned: bool = True) -> Manifest:
    parsed = parse_source((HEAD + permissions).encode())
    return parsed.with_runtime(RUNTIME_ID) if pinned else parsed


def compile_(permissions: str = "", bindings: Bindings | None = None, **kw: Any) -> ContainerSpec:
    return compile_spec(
        manifest(permissions),
        PACKAGE_DIGEST,
        bindings=bindings or Bindings(),
        content_dir=CONTENT,
        protected=PROTECTED,
        **kw,
    )


PACKAGE_MOUNT = {
    "Type": "bind",
    "Source": CONTENT,
    "Target": "/pkg",
    "ReadOnly": True,
    "BindOptions": {"Propagation": "rprivate"},
}
PACKAGE_MOUNT_FLAG = f"--mount=type=bind,src={CONTENT},dst=/pkg,readonly"


def bind(source: str, target: str, read_only: bool) -> dict[str, Any]:
    return {
        "Type": "bind",
        "Source": source,
        "Target": target,
        "ReadOnly": read_only,
        "BindOptions": {"Propagation": "rprivate"},
    }


@dataclass(frozen=True)
class Row:
    """One line of the table: what is declared and bound, what Docker gets."""

    id: str
    permissions: str
    bindings: Bindings = field(default_factory=Bindings)
    kwargs: dict[str, Any] = field(default_factory=dict)  # exact values of these keys
    flags: tuple[str, ...] = ()  # present in the `docker run` line
    absent: tuple[str, ...] = ()  # text that must not appear in the `docker run` line


DEFAULTS = {
    "pids_limit": 64,
    "mem_limit": 256 * MiB,
    "memswap_limit": 256 * MiB,
    "nano_cpus": 1_000_000_000,
    "tmpfs": {"/tmp": f"rw,noexec,nosuid,nodev,size={64 * MiB}"},
    "shm_size": 64 * MiB,
    "mounts": [PACKAGE_MOUNT],
    "environment": {},
}

TABLE = (
    Row(
        "nothing declared: defaults, only the package mounted, no variables",
        "",
        kwargs=DEFAULTS,
        flags=(
            "--pids-limit=64",
            f"--memory={256 * MiB}",
            f"--memory-swap={256 * MiB}",
            "--cpus=1",
            f"--tmpfs=/tmp:rw,noexec,nosuid,nodev,size={64 * MiB}",
            f"--shm-size={64 * MiB}",
            PACKAGE_MOUNT_FLAG,
        ),
        absent=("--env",),
    ),
    Row(
        "resources: every limit as declared, no swap",
        """\
permissions:
  resources: {memory: 1Gi, cpus: 0.5, pids: 128, timeout: 5m, tmp: 128Mi}
""",
        kwargs={
            "pids_limit": 128,
            "mem_limit": 1 << 30,
            "memswap_limit": 1 << 30,
            "nano_cpus": 500_000_000,
            "tmpfs": {"/tmp": f"rw,noexec,nosuid,nodev,size={128 * MiB}"},
            "shm_size": 128 * MiB,  # /dev/shm: the declared tmp, not Docker's 64 MiB
        },
        flags=(
            "--pids-limit=128",
            f"--memory={1 << 30}",
            f"--memory-swap={1 << 30}",
            "--cpus=0.5",
            f"--tmpfs=/tmp:rw,noexec,nosuid,nodev,size={128 * MiB}",
            f"--shm-size={128 * MiB}",
        ),
    ),
    Row(
        "resources: decimal units and the smallest values",
        """\
permissions:
  resources: {memory: 100M, cpus: 0.01, pids: 1, timeout: 1s, tmp: 1Mi}
""",
        kwargs={
            "pids_limit": 1,
            "mem_limit": 100_000_000,
            "memswap_limit": 100_000_000,
            "nano_cpus": 10_000_000,
            "tmpfs": {"/tmp": f"rw,noexec,nosuid,nodev,size={MiB}"},
            "shm_size": MiB,
        },
        flags=("--pids-limit=1", "--memory=100000000", "--cpus=0.01"),
    ),
    Row(
        "filesystem: read is a read-only bind, read-write is writable",
        """\
permissions:
  filesystem:
    - {name: data, path: /data, access: read, why: Input.}
    - {name: out, path: /srv/out, access: read-write, why: Output.}
""",
        Bindings(mounts={"data": "/home/u/data", "out": "/home/u/out"}),
        kwargs={
            "mounts": [
                PACKAGE_MOUNT,
                bind("/home/u/data", "/data", True),
                bind("/home/u/out", "/srv/out", False),
            ]
        },
        flags=(
            PACKAGE_MOUNT_FLAG,
            "--mount=type=bind,src=/home/u/data,dst=/data,readonly",
            "--mount=type=bind,src=/home/u/out,dst=/srv/out",
        ),
    ),
    Row(
        "filesystem: access defaults to read",
        """\
permissions:
  filesystem:
    - {name: data, path: /data, why: Input.}
""",
        Bindings(mounts={"data": "/home/u/data"}),
        kwargs={"mounts": [PACKAGE_MOUNT, bind("/home/u/data", "/data", True)]},
    ),
    Row(
        "filesystem: a declared entry the user does not bind gets nothing",
        """\
permissions:
  filesystem:
    - {name: data, path: /data, access: read-write, why: Input.}
""",
        kwargs={"mounts": [PACKAGE_MOUNT]},
        absent=("dst=/data",),
    ),
    Row(
        "filesystem: a required entry bound like any other",
        """\
permissions:
  filesystem:
    - {name: repo, path: /repo, why: The repository., required: true}
""",
        Bindings(mounts={"repo": "/home/u/src"}),
        kwargs={"mounts": [PACKAGE_MOUNT, bind("/home/u/src", "/repo", True)]},
        flags=("--mount=type=bind,src=/home/u/src,dst=/repo,readonly",),
    ),
    Row(
        "env: a fixed value is set by mppoci, passed or not, next to passed ones",
        """\
permissions:
  env:
    - {name: PYTHONPATH, why: Vendored code., value: /pkg/vendor}
    - {name: NODE_OPTIONS, why: Heap., value: --max-old-space-size=512}
    - {name: TZ, why: Zone.}
""",
        Bindings(env={"TZ": "UTC"}),
        kwargs={
            "environment": {
                "NODE_OPTIONS": "--max-old-space-size=512",
                "PYTHONPATH": "/pkg/vendor",
                "TZ": "UTC",
            }
        },
        flags=(
            "--env=NODE_OPTIONS=--max-old-space-size=512",
            "--env=PYTHONPATH=/pkg/vendor",
            "--env=TZ=UTC",
        ),
    ),
    Row(
        "storage: the folder mppoci keeps, writable",
        """\
permissions:
  storage:
    - {name: cache, path: /var/cache/tool, size: 16Mi, why: Cache.}
""",
        Bindings(storage={"cache": "/home/u/.local/share/store-cache"}),
        kwargs={
            "mounts": [
                PACKAGE_MOUNT,
                bind("/home/u/.local/share/store-cache", "/var/cache/tool", False),
            ]
        },
        flags=("--mount=type=bind,src=/home/u/.local/share/store-cache,dst=/var/cache/tool",),
    ),
    Row(
        "env: only declared variables the user gave; secrets by name in the docker line",
        """\
permissions:
  env:
    - {name: TZ, why: Time zone.}
    - {name: API_KEY, why: Auth., secret: true, required: true}
    - {name: OPTIONAL_FLAG, why: Not given.}
""",
        Bindings(env={"TZ": "Europe/Paris", "API_KEY": "s3cr3t-value"}),
        kwargs={"environment": {"API_KEY": "s3cr3t-value", "TZ": "Europe/Paris"}},
        flags=("--env=TZ=Europe/Paris", "--env=API_KEY"),
        absent=("s3cr3t-value", "OPTIONAL_FLAG"),
    ),
)

# What every sandbox gets, whatever the manifest says.
FIXED_KWARGS = {
    "image": RUNTIME_ID,
    "command": ["python3", "/pkg/main.py", "--flag", "value"],
    "entrypoint": [],
    "user": "65534:65534",
    "working_dir": "/pkg",
    "read_only": True,
    "network_mode": "none",
    "cap_drop": ["ALL"],
    "ipc_mode": "private",
    "ulimits": [{"Name": "core", "Soft": 0, "Hard": 0}],
    "labels": {
        "dev.mppoci.package": "acme/tool",
        "dev.mppoci.version": "1.2.3",
        "dev.mppoci.digest": PACKAGE_DIGEST,
        "dev.mppoci.run": "0123abcd",
    },
}
FIXED_FLAGS = (
    "--read-only",
    "--network=none",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges:true",
    "--security-opt=seccomp=PROFILE.json",
    "--user=65534:65534",
    "--workdir=/pkg",
    "--ipc=private",
    "--ulimit=core=0:0",
    "--label=dev.mppoci.package=acme/tool",
    "--label=dev.mppoci.version=1.2.3",
    f"--label=dev.mppoci.digest={PACKAGE_DIGEST}",
    "--label=dev.mppoci.run=0123abcd",
    "--entrypoint=",
)


def _rendered(row: Row) -> tuple[ContainerSpec, dict[str, Any], list[str]]:
    spec = compile_(row.permissions, row.bindings, args=("--flag", "value"), run_id="0123abcd")
    return spec, docker_create_kwargs(spec), docker_run_argv(spec)


@pytest.mark.parametrize("row", TABLE, ids=[r.id for r in TABLE])
def test_permissions_compile_to_exactly_these_docker_arguments(row: Row) -> None:
    _, kwargs, argv = _rendered(row)
    assert {k: kwargs[k] for k in row.kwargs} == row.kwargs
    missing = [f for f in row.flags if f not in argv]
    assert missing == [], argv
    line = " ".join(argv)
    assert [a for a in row.absent if a in line] == [], line


@pytest.mark.parametrize("row", TABLE, ids=[r.id for r in TABLE])
def test_every_sandbox_gets_the_fixed_hardening_whatever_is_declared(row: Row) -> None:
    spec, kwargs, argv = _rendered(row)
    assert {k: kwargs[k] for k in FIXED_KWARGS} == FIXED_KWARGS
    no_new_privileges, seccomp = kwargs["security_opt"]
    assert no_new_privileges == "no-new-privileges:true"
    assert seccomp == "seccomp=" + spec.seccomp_profile and '"defaultAction"' in seccomp
    # No swap: the memory limit is the whole limit.
    assert kwargs["memswap_limit"] == kwargs["mem_limit"] == spec.memory_bytes
    assert "rw,noexec,nosuid,nodev,size=" in kwargs["tmpfs"]["/tmp"]
    assert [f for f in FIXED_FLAGS if f not in argv] == []
    assert argv[:4] == ["docker", "run", "--rm", "-i"]
    assert argv[argv.index("--entrypoint=") + 1 :] == [RUNTIME_ID, *kwargs["command"]]
    # Nothing that widens a sandbox ever appears.
    line = " ".join(argv)
    for widening in ("--privileged", "--cap-add", "--network=host", "--pid=host", "--userns=host"):
        assert widening not in line
    for key in ("privileged", "cap_add", "pid_mode", "devices", "volumes_from", "userns_mode"):
        assert key not in kwargs


def test_resources_reach_the_spec_timeout_and_cpu_text() -> None:
    spec = compile_("permissions:\n  resources: {timeout: 5m, cpus: 2.5}\n")
    assert spec.timeout_seconds == 300
    assert spec.nano_cpus == 2_500_000_000
    assert "--cpus=2.5" in docker_run_argv(spec)


# --- refusals ---------------------------------------------------------------

DATA = """\
permissions:
  filesystem:
    - {name: data, path: /data, access: read-write, why: Input.}
"""


@dataclass(frozen=True)
class Refusal:
    id: str
    permissions: str
    bindings: Bindings
    says: tuple[str, ...]


REFUSALS = (
    Refusal(
        "undeclared variable",
        "",
        Bindings(env={"AWS_SECRET_ACCESS_KEY": "x"}),
        (
            "does not declare the environment variable(s) AWS_SECRET_ACCESS_KEY",
            "undeclared variables are never passed",
        ),
    ),
    Refusal(
        "one undeclared variable among declared ones",
        "permissions:\n  env:\n    - {name: TZ, why: Zone.}\n",
        Bindings(env={"TZ": "UTC", "HOST_TOKEN": "x"}),
        ("does not declare the environment variable(s) HOST_TOKEN",),
    ),
    Refusal(
        "missing required variable",
        "permissions:\n  env:\n    - {name: API_KEY, why: Auth., required: true}\n",
        Bindings(),
        ("requires the environment variable API_KEY (Auth.)",),
    ),
    Refusal(
        "a fixed value given with --env",
        "permissions:\n  env:\n    - {name: PYTHONPATH, why: Code., value: /pkg/vendor}\n",
        Bindings(env={"PYTHONPATH": "/home/u/evil"}),
        (
            "--env PYTHONPATH: acme/tool sets PYTHONPATH=/pkg/vendor in its signed manifest; "
            "a fixed value cannot be overridden",
            "leave --env PYTHONPATH out",
        ),
    ),
    Refusal(
        "a required folder not bound",
        "permissions:\n  filesystem:\n"
        "    - {name: repo, path: /repo, why: The repository., required: true}\n"
        "    - {name: extra, path: /extra, why: More.}\n",
        Bindings(mounts={"extra": "/srv/extra"}),
        (
            "acme/tool requires the folder 'repo' (The repository.); none was bound",
            "pass --mount repo=PATH (the tool sees it at /repo)",
        ),
    ),
    Refusal(
        "undeclared mount name",
        DATA,
        Bindings(mounts={"home": "/home/u"}),
        ("declares no filesystem entry named 'home'",),
    ),
    Refusal(
        "a mount when nothing is declared",
        "",
        Bindings(mounts={"data": "/srv/data"}),
        ("declares no filesystem entry named 'data'",),
    ),
    Refusal(
        "declared egress",
        "permissions:\n  network:\n    egress:\n"
        "      - {host: api.acme.test, port: 443, why: API.}\n",
        Bindings(),
        ("declares egress but no gateway was prepared",),
    ),
    Refusal(
        "storage without a prepared folder",
        "permissions:\n  storage:\n    - {name: cache, path: /cache, size: 1Mi, why: C.}\n",
        Bindings(),
        ("no folder was prepared for storage 'cache'",),
    ),
)

# Host paths a declared, user-bound mount may never be given, and why.
NEVER_BIND = (
    ("/", "the host's root folder"),
    ("/etc", "in /etc, a system folder"),
    ("/etc/ssl", "in /etc, a system folder"),
    ("/proc", "in /proc, a system folder"),
    ("/proc/1/root", "in /proc, a system folder"),
    ("/sys/fs/cgroup", "in /sys, a system folder"),
    ("/dev", "in /dev, a system folder"),
    ("/boot", "in /boot, a system folder"),
    ("/run", "in /run, a system folder"),
    ("/var/run", "in /var/run, a system folder"),
    ("/var/lib/docker/volumes/x", "in /var/lib/docker, a system folder"),
    ("/var/lib/containerd", "in /var/lib/containerd, a system folder"),
    ("/var/run/docker.sock", "container engine socket"),
    ("/run/containerd/containerd.sock", "container engine socket"),
    ("/srv/engine/docker.sock", "container engine socket"),
    ("/home/u/rootless-docker.sock", "container engine socket"),
    ("/home/u/.mppoci/config", "mppoci's own folder /home/u/.mppoci/config"),
    ("/home/u/.mppoci/data/store/blobs", "mppoci's own folder /home/u/.mppoci/data"),
    ("/home/u/.mppoci", "mppoci's own folder"),  # a parent of protected folders
    ("/home/u", "mppoci's own folder"),
    ("/home", "mppoci's own folder"),
    ("srv/data", "not an absolute, resolved path"),
    # POSIX keeps a leading "//" as written (PurePosixPath too), but the kernel
    # and Docker read it as "/": these are the host's root and /etc. Any
    # refusal will do.
    ("//", ""),
    ("//etc", ""),
    ("//var/lib/docker", ""),
    ("/srv/../etc", "not an absolute, resolved path"),
)
# Near misses that are fine: folders merely named like protected ones.
BINDABLE = (
    "/srv/data",
    "/etcetera",
    "/home/u/.mppoci-backup",
    "/home/u/projects/etc",
    "/var/lib/dockerfiles",
    "/srv/run",
    "/home/u/docker.socket-notes",
)


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r.id for r in REFUSALS])
def test_what_cannot_be_granted_is_refused_with_a_clear_message(refusal: Refusal) -> None:
    with pytest.raises(PolicyError) as caught:
        compile_(refusal.permissions, refusal.bindings)
    text = caught.value.diagnostics()
    assert [s for s in refusal.says if s not in text] == [], text


@pytest.mark.parametrize(("host_path", "why"), NEVER_BIND, ids=[p for p, _ in NEVER_BIND])
def test_binding_a_never_bind_host_path_is_refused(host_path: str, why: str) -> None:
    reason = refusal_for_host_path(host_path, PROTECTED)
    assert reason is not None and why in reason, reason
    with pytest.raises(PolicyError) as caught:
        compile_(DATA, Bindings(mounts={"data": host_path}))
    assert f"--mount data={host_path} is refused: {reason}" in caught.value.diagnostics()


@pytest.mark.parametrize("host_path", BINDABLE)
def test_folders_only_named_like_protected_ones_can_be_bound(host_path: str) -> None:
    assert refusal_for_host_path(host_path, PROTECTED) is None
    spec = compile_(DATA, Bindings(mounts={"data": host_path}))
    assert [(m.source, m.target, m.read_only) for m in spec.mounts][1:] == [
        (host_path, "/data", False)
    ]


def test_an_unpinned_runtime_is_refused() -> None:
    with pytest.raises(PolicyError, match="does not pin its runtime by digest"):
        compile_spec(
            manifest(pinned=False),
            PACKAGE_DIGEST,
            bindings=Bindings(),
            content_dir=CONTENT,
            protected=PROTECTED,
        )


DOCKER_MIN_MEMORY = 6 * MiB  # moby's linuxMinMemory: create fails below it


def test_the_smallest_memory_a_manifest_may_declare_is_one_docker_accepts() -> None:
    # Otherwise an approved package cannot run at all ("Minimum memory limit
    # allowed is 6MB" from the engine, exit 125).
    text = "permissions:\n  resources: {memory: 4Mi}\n"
    try:
        spec = compile_(text)
    except (ManifestError, PolicyError):
        return  # refused at the door: fine
    assert spec.memory_bytes >= DOCKER_MIN_MEMORY, spec.memory_bytes


def test_docker_text_escapes_a_fake_enforced_line_in_an_entrypoint_argument() -> None:
    """Built past the parser (which refuses it), as an older mppoci may have stored."""
    hostile = dataclasses.replace(
        manifest(), entrypoint=("/bin/sh", "/pkg/run.sh\n\nEnforced: nothing to worry about")
    )
    spec = compile_spec(
        hostile, PACKAGE_DIGEST, bindings=Bindings(), content_dir=CONTENT, protected=PROTECTED
    )
    text = docker_run_text(spec)
    assert "\nEnforced" not in text and "\\x0a\\x0aEnforced" in text
    # Every line is one argument of ours, continued with a backslash.
    assert all(line.endswith(" \\") for line in text.splitlines()[:-1])
    assert "/pkg/run.sh" in docker_run_argv(spec)[-1]  # what Docker runs is unchanged


def test_a_plan_shows_a_placeholder_where_a_required_folder_will_be_bound() -> None:
    from mppoci.policy.compiler import unbound_folder

    declared = (
        "permissions:\n  filesystem:\n"
        "    - {name: repo, path: /repo, access: read-write, why: Repo., required: true}\n"
        "    - {name: extra, path: /extra, why: More.}\n"
    )
    spec = compile_(declared, placeholders=True)
    mounts = {m.target: (m.source, m.read_only) for m in spec.mounts}
    assert mounts == {
        "/pkg": (CONTENT, True),
        "/repo": ("<the folder you bind with --mount repo=PATH>", False),
    }
    assert unbound_folder("repo") == "<the folder you bind with --mount repo=PATH>"
    # Bound, the placeholder gives way to the folder.
    bound = compile_(declared, Bindings(mounts={"repo": "/srv/repo"}), placeholders=True)
    assert {m.target: m.source for m in bound.mounts}["/repo"] == "/srv/repo"


def test_a_package_on_the_node_runtime_gets_the_node_group() -> None:
    from mppoci.policy.seccomp import allowed_names, compose, groups_for

    node = parse_source((HEAD + "").replace("runtime: python3", "runtime: node").encode())
    spec = compile_spec(
        node.with_runtime(RUNTIME_ID),
        PACKAGE_DIGEST,
        bindings=Bindings(),
        content_dir=CONTENT,
        protected=PROTECTED,
    )
    profile = compose(groups_for(network=False, runtime="node"))
    assert spec.seccomp_allowed == len(allowed_names(profile))
    assert "eventfd2" in spec.seccomp_profile and "eventfd2" not in compile_().seccomp_profile
