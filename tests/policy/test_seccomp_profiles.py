"""The seccomp composer, on the shipped group files and on hostile ones (pure: no Docker)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mppoci.errors import UserInputError
from mppoci.policy.seccomp import (
    RuntimeGroup,
    SyscallGroup,
    allowed_names,
    compose,
    default_folder,
    denied_names,
    groups_for,
    native_architecture,
    profile_text,
)

REPO_SECCOMP = Path(__file__).resolve().parents[2] / "seccomp"
CLONE_NAMESPACE_FLAGS = 0x7E020000  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW = 1, 2, 3
SOCK_NONBLOCK, SOCK_CLOEXEC = 0x800, 0x80000
DOCKER_DEFAULT_ALLOWS = 351  # Docker 20.10's default profile with --cap-drop ALL
ALL_GROUPS = tuple(SyscallGroup)


def _no_network(arch: str = "x86_64") -> dict[str, Any]:
    return compose(groups_for(network=False), arch=arch)


def _network(arch: str = "x86_64") -> dict[str, Any]:
    return compose(groups_for(network=True), arch=arch)


def _rules_for(profile: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [r for r in profile["syscalls"] if name in r["names"]]


def _group_doc(group: SyscallGroup) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((REPO_SECCOMP / f"{group.value}.json").read_text())
    return doc


def _group_names(group: SyscallGroup) -> set[str]:
    """Every name a group file mentions as allowed or ruled, on any architecture."""
    doc = _group_doc(group)
    names = set(doc["syscalls"]) | {n for r in doc.get("rules", []) for n in r["names"]}
    return names.union(*doc.get("archSyscalls", {}).values())


def _matches(arg: dict[str, Any], value: int) -> bool:
    op = arg["op"]
    if op == "SCMP_CMP_EQ":
        return bool(value == arg["value"])
    if op == "SCMP_CMP_MASKED_EQ":
        return bool(value & arg["value"] == arg.get("valueTwo", 0))
    raise AssertionError(f"the test does not model {op}")


def _allows(profile: dict[str, Any], name: str, *args: int) -> bool:
    """What the kernel filter would decide for ``name(*args)``: rules are OR'd,
    conditions on different arguments in one rule are AND'd."""
    for rule in _rules_for(profile, name):
        if rule["action"] != "SCMP_ACT_ALLOW":
            continue
        if all(_matches(a, args[a["index"]]) for a in rule.get("args", [])):
            return True
    return False


# The shape Docker 20.10 accepts.


@pytest.mark.parametrize("network", [False, True])
def test_profile_has_the_shape_docker_expects(network: bool) -> None:
    profile = compose(groups_for(network=network), arch="x86_64")
    assert set(profile) == {"defaultAction", "defaultErrnoRet", "architectures", "syscalls"}
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    for rule in profile["syscalls"]:
        assert set(rule) <= {"names", "action", "args", "errnoRet", "comment"}
        assert rule["names"] == sorted(rule["names"])
        assert rule["action"] in {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO"}
        for arg in rule.get("args", []):
            assert set(arg) == {"index", "value", "valueTwo", "op"}
    first = profile["syscalls"][0]
    assert first["action"] == "SCMP_ACT_ALLOW" and "args" not in first
    assert json.loads(profile_text(profile)) == profile


def test_groups_for_adds_network_only_when_egress_is_declared() -> None:
    assert groups_for(network=False) == (SyscallGroup.BASE, SyscallGroup.UNIX_SOCKETS)
    assert groups_for(network=True) == (*groups_for(network=False), SyscallGroup.NETWORK)


@pytest.mark.parametrize(
    ("machine", "arch"),
    [
        ("x86_64", "SCMP_ARCH_X86_64"),
        ("aarch64", "SCMP_ARCH_AARCH64"),
        ("arm64", "SCMP_ARCH_AARCH64"),
    ],
)
def test_only_the_native_architecture_is_listed(machine: str, arch: str) -> None:
    # SCMP_ARCH_X86 beside X86_64 would add a socketcall() path around the socket rules.
    assert _no_network(machine)["architectures"] == [arch]
    assert "socketcall" not in allowed_names(_network(machine))


def test_architecture_defaults_to_this_machine() -> None:
    assert compose(groups_for(network=False))["architectures"] == [native_architecture()]


def test_unknown_architecture_is_refused_with_the_known_ones_named() -> None:
    with pytest.raises(UserInputError) as e:
        compose(groups_for(network=False), arch="i686")
    assert "i686" in e.value.message and "x86_64" in e.value.diagnostics()


def test_output_is_deterministic_whatever_the_group_order() -> None:
    one = profile_text(_network())
    assert one == profile_text(_network())
    reordered = (SyscallGroup.NETWORK, SyscallGroup.BASE, SyscallGroup.UNIX_SOCKETS)
    assert profile_text(compose(reordered, arch="x86_64")) == one
    assert profile_text(compose((*reordered, SyscallGroup.BASE), arch="x86_64")) == one


def test_shipped_folder_is_the_repository_one() -> None:
    assert default_folder() == REPO_SECCOMP


# What is never allowed.


@pytest.mark.parametrize("group", ALL_GROUPS)
def test_no_group_lists_a_denied_syscall(group: SyscallGroup) -> None:
    denied = denied_names()
    assert {"mount", "unshare", "ptrace", "bpf", "keyctl", "io_uring_setup"} <= denied
    assert not _group_names(group) & denied


@pytest.mark.parametrize("network", [False, True])
def test_composed_profile_allows_no_denied_syscall(network: bool) -> None:
    profile = compose(groups_for(network=network), arch="x86_64")
    assert not allowed_names(profile) & denied_names()


def test_clone3_reports_enosys_so_glibc_falls_back_to_clone() -> None:
    (rule,) = _rules_for(_no_network(), "clone3")
    assert rule == {**rule, "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
    assert "clone3" not in allowed_names(_no_network())


def test_clone_cannot_create_namespaces() -> None:
    profile = _no_network()
    (rule,) = _rules_for(profile, "clone")
    assert rule["args"] == [
        {"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
    ]
    assert CLONE_NAMESPACE_FLAGS == 2114060288
    thread_flags = 0x3D0F00  # what glibc's pthread_create passes
    assert _allows(profile, "clone", thread_flags)
    for flag in (0x20000, 0x2000000, 0x4000000, 0x8000000, 0x10000000, 0x20000000, 0x40000000):
        assert not _allows(profile, "clone", thread_flags | flag), hex(flag)


@pytest.mark.parametrize("network", [False, True])
def test_socket_is_never_allowed_unconditionally(network: bool) -> None:
    profile = compose(groups_for(network=network), arch="x86_64")
    for name in ("socket", "socketpair"):
        rules = _rules_for(profile, name)
        assert rules and all(r["args"] for r in rules), name
        for rule in rules:
            # runc ORs conditions on one index: each rule may test an index once.
            indexes = [a["index"] for a in rule["args"]]
            assert len(indexes) == len(set(indexes)), rule


def test_without_network_only_unix_sockets_can_be_made() -> None:
    profile = _no_network()
    assert _allows(profile, "socket", AF_UNIX, SOCK_STREAM, 0)
    assert _allows(profile, "socketpair", AF_UNIX, SOCK_STREAM, 0)
    for family in (AF_INET, AF_INET6, 16, 17, 40):
        assert not _allows(profile, "socket", family, SOCK_STREAM, 0)
        assert not _allows(profile, "socketpair", family, SOCK_STREAM, 0)
    # Without egress nothing can connect, bind or listen at all.
    assert not allowed_names(profile) & {"connect", "bind", "listen", "accept", "accept4"}


def test_network_profile_has_one_rule_per_family_and_refuses_raw_sockets() -> None:
    profile = _network()
    families = set()
    for rule in _rules_for(profile, "socket"):
        (family,) = [a for a in rule["args"] if a["index"] == 0]
        assert family["op"] == "SCMP_CMP_EQ"
        families.add(family["value"])
    assert families == {AF_UNIX, AF_INET, AF_INET6}
    for family in (AF_INET, AF_INET6):
        for kind in (SOCK_STREAM, SOCK_DGRAM):
            assert _allows(profile, "socket", family, kind, 0)
            assert _allows(profile, "socket", family, kind | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
        assert _allows(profile, "socket", family, SOCK_STREAM, 6)
        assert _allows(profile, "socket", family, SOCK_DGRAM, 17)
        assert not _allows(profile, "socket", family, SOCK_RAW, 0)
        assert not _allows(profile, "socket", family, SOCK_RAW | SOCK_CLOEXEC, 1)
        assert not _allows(profile, "socket", family, 5, 0)  # SOCK_SEQPACKET
        assert not _allows(profile, "socket", family, SOCK_STREAM, 132)  # SCTP
        assert not _allows(profile, "socket", family, SOCK_DGRAM, 1)  # ICMP "ping"
    for family in (16, 17, 40):  # netlink, packet, vsock
        for kind in (SOCK_STREAM, SOCK_DGRAM, SOCK_RAW):
            assert not _allows(profile, "socket", family, kind, 0)


def test_network_adds_only_client_socket_calls() -> None:
    added = allowed_names(_network()) - allowed_names(_no_network())
    client_calls = {"connect", "getsockopt", "setsockopt", "getsockname", "getpeername"}
    assert client_calls <= added <= client_calls | {"sendmmsg", "shutdown"}
    # egress only: nothing that accepts connections
    assert not allowed_names(_network()) & {"bind", "listen", "accept", "accept4"}


# How small the profiles are.


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_no_network_profile_allows_fewer_than_100_names(arch: str) -> None:
    count = len(allowed_names(_no_network(arch)))
    assert count < 100, f"{count} names: the goal for a Python tool without network is < 100"


def test_each_architecture_gets_only_its_own_legacy_names() -> None:
    x86, arm = allowed_names(_no_network("x86_64")), allowed_names(_no_network("aarch64"))
    assert {"arch_prctl", "vfork", "poll", "epoll_wait", "open"} - x86 == {"open"}
    assert not arm & {"arch_prctl", "vfork", "poll", "epoll_wait", "mkdir", "dup2"}
    assert {"ppoll", "epoll_pwait", "mkdirat", "dup3"} <= arm


def test_readme_states_the_current_counts() -> None:
    readme = (REPO_SECCOMP / "README.md").read_text()
    for label, groups in (
        ("base", (SyscallGroup.BASE,)),
        ("base + unix-sockets", groups_for(network=False)),
        ("base + unix-sockets + network", groups_for(network=True)),
    ):
        counts = [len(allowed_names(compose(groups, arch=a))) for a in ("x86_64", "aarch64")]
        row = f"| {label} | {counts[0]} | {counts[1]} |"
        assert row in readme, f"seccomp/README.md should have the row {row!r}"


def test_every_profile_allows_far_less_than_dockers_default() -> None:
    assert len(allowed_names(_network())) < DOCKER_DEFAULT_ALLOWS // 2


def test_base_alone_allows_no_socket() -> None:
    base = compose((SyscallGroup.BASE,), arch="x86_64")
    assert not allowed_names(base) & {"socket", "socketpair", "connect", "sendto", "recvfrom"}


@pytest.mark.parametrize("group", ALL_GROUPS)
def test_group_files_are_sorted_described_and_documented(group: SyscallGroup) -> None:
    doc = _group_doc(group)
    assert doc["description"].strip()
    assert doc["syscalls"] == sorted(doc["syscalls"])
    assert set(doc.get("unexercised", {})) <= _group_names(group)


def test_groups_do_not_overlap() -> None:
    seen: dict[str, SyscallGroup] = {}
    for group in ALL_GROUPS:
        doc = _group_doc(group)
        for name in set(doc["syscalls"]).union(*doc.get("archSyscalls", {}).values()):
            assert name not in seen, f"{name} is in {seen.get(name)} and {group}"
            seen[name] = group


# Hostile or broken group files.


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "seccomp"
    shutil.copytree(REPO_SECCOMP, target, ignore=shutil.ignore_patterns("*.py", "*.md"))
    return target


def _edit(folder: Path, group: SyscallGroup, **changes: Any) -> None:
    path = folder / f"{group.value}.json"
    doc = json.loads(path.read_text())
    doc.update(changes)
    path.write_text(json.dumps(doc))


def _refused(folder: Path, *text: str, groups: tuple[SyscallGroup, ...] = ALL_GROUPS) -> None:
    with pytest.raises(UserInputError) as e:
        compose(groups, folder=folder, arch="x86_64")
    for part in text:
        assert part in e.value.diagnostics()


def test_a_copy_of_the_shipped_files_composes_the_same(folder: Path) -> None:
    assert compose(ALL_GROUPS, folder=folder, arch="x86_64") == compose(ALL_GROUPS, arch="x86_64")


def test_a_group_that_smuggles_in_a_denied_syscall_is_refused(folder: Path) -> None:
    doc = _group_doc(SyscallGroup.NETWORK)
    _edit(folder, SyscallGroup.NETWORK, syscalls=sorted([*doc["syscalls"], "ptrace"]))
    _refused(folder, "ptrace", "denied")


def test_allowing_socket_outright_next_to_its_conditions_is_refused(folder: Path) -> None:
    doc = _group_doc(SyscallGroup.BASE)
    _edit(folder, SyscallGroup.BASE, syscalls=[*doc["syscalls"], "socket"])
    _refused(folder, "socket", "voids the argument")


def test_two_conditions_on_one_argument_are_refused_because_runc_ors_them(folder: Path) -> None:
    rule = {
        "names": ["socket"],
        "action": "SCMP_ACT_ALLOW",
        "args": [
            {"index": 0, "value": 2, "op": "SCMP_CMP_NE"},
            {"index": 0, "value": 10, "op": "SCMP_CMP_NE"},
        ],
    }
    _edit(folder, SyscallGroup.NETWORK, rules=[rule])
    _refused(folder, "same argument", "one rule per allowed value")


def test_an_errno_rule_without_errno_ret_is_refused(folder: Path) -> None:
    _edit(folder, SyscallGroup.BASE, rules=[{"names": ["clone3"], "action": "SCMP_ACT_ERRNO"}])
    _refused(folder, "errnoRet")


def test_a_name_both_refused_and_allowed_is_refused(folder: Path) -> None:
    rule = {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
    _edit(folder, SyscallGroup.NETWORK, rules=[rule])
    _refused(folder, "'read'", "errno rule")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"extra": 1}, "unknown keys extra"),
        ({"syscalls": ["read", "Read"]}, "'Read' is not a syscall name"),
        ({"syscalls": ["read;rm"]}, "is not a syscall name"),
        ({"syscalls": ["read", "read"]}, "more than once"),
        ({"syscalls": "read"}, "list of syscall names"),
        ({"description": ""}, "description"),
        ({"rules": [{"names": ["x"], "action": "SCMP_ACT_KILL", "args": []}]}, "action must"),
        ({"rules": [{"names": ["x"], "action": "SCMP_ACT_ALLOW"}]}, "list those names"),
        ({"rules": [{"names": ["x"], "action": "SCMP_ACT_ALLOW", "bogus": 1}]}, "unknown keys"),
        (
            {"rules": [{"names": ["x"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6}]}]},
            "lacks op, value",
        ),
        (
            {
                "rules": [
                    {
                        "names": ["x"],
                        "action": "SCMP_ACT_ALLOW",
                        "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}],
                    }
                ]
            },
            "index must",
        ),
        (
            {
                "rules": [
                    {
                        "names": ["x"],
                        "action": "SCMP_ACT_ALLOW",
                        "args": [{"index": 1, "value": True, "op": "SCMP_CMP_EQ"}],
                    }
                ]
            },
            "integers",
        ),
        (
            {
                "rules": [
                    {
                        "names": ["x"],
                        "action": "SCMP_ACT_ALLOW",
                        "args": [
                            {"index": 1, "value": 15, "valueTwo": 16, "op": "SCMP_CMP_MASKED_EQ"}
                        ],
                    }
                ]
            },
            "never matches",
        ),
        ({"unexercised": {"nosuch": "why"}}, "does not allow"),
        ({"archSyscalls": {"SCMP_ARCH_X86": ["read"]}}, "archSyscalls must map"),
        ({"archSyscalls": {"SCMP_ARCH_X86_64": ["connect"]}}, "both in syscalls and in arch"),
    ],
)
def test_malformed_group_file_is_refused_with_the_problem_named(
    folder: Path, change: dict[str, Any], problem: str
) -> None:
    _edit(folder, SyscallGroup.NETWORK, **change)
    _refused(folder, "network.json", problem)


def test_duplicate_json_keys_are_refused(folder: Path) -> None:
    (folder / "network.json").write_text('{"description": "a", "syscalls": [], "syscalls": []}')
    _refused(folder, "not JSON", "duplicate key")


def test_missing_group_file_says_what_to_do(folder: Path) -> None:
    (folder / "network.json").unlink()
    _refused(folder, "does not exist", "reinstall mppoci")


def test_without_denied_json_nothing_is_composed(folder: Path) -> None:
    # Fail closed: the check against denied names cannot be skipped by omission.
    (folder / "denied.json").unlink()
    _refused(folder, "denied.json")


def test_no_groups_is_an_error() -> None:
    with pytest.raises(UserInputError, match="at least one"):
        compose((), arch="x86_64")


def test_unknown_group_name_is_an_error() -> None:
    with pytest.raises(UserInputError, match="unknown syscall group") as e:
        compose(["base", "everything"], arch="x86_64")  # type: ignore[list-item]
    assert "unix-sockets" in e.value.diagnostics()


def test_groups_may_be_given_by_name() -> None:
    by_name = compose(["base", "unix-sockets"], arch="x86_64")  # type: ignore[list-item]
    assert by_name == _no_network()


# Runtime groups: what an interpreter needs, given by the runtime recipe name.

NODE_NEEDS = {"eventfd2", "epoll_pwait", "copy_file_range", "fchmod"}
NODE_SOCKET_CALLS = {"getsockopt", "getsockname", "shutdown"}


def test_only_the_node_runtime_gets_the_node_group() -> None:
    assert groups_for(network=False, runtime="node") == (
        *groups_for(network=False),
        RuntimeGroup.NODE,
    )
    assert groups_for(network=True, runtime="node")[-1] is RuntimeGroup.NODE
    for other in ("python3", "busybox", "mppoci", "ghcr.io/acme/node", None):
        assert groups_for(network=False, runtime=other) == groups_for(network=False)


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_node_adds_what_libuv_needs_and_no_server_or_kernel_call(arch: str) -> None:
    python = allowed_names(compose(groups_for(network=False), arch=arch))
    node = allowed_names(compose(groups_for(network=False, runtime="node"), arch=arch))
    assert node - python == (NODE_NEEDS | NODE_SOCKET_CALLS) - python
    assert "epoll_pwait" in python  # libuv waits in it on x86_64 too
    assert not node & ({"bind", "listen", "accept", "accept4"} | denied_names())
    with_egress = allowed_names(compose(groups_for(network=True, runtime="node"), arch=arch))
    assert with_egress - allowed_names(_network(arch)) == {"copy_file_range", "eventfd2", "fchmod"}
    assert len(with_egress) < DOCKER_DEFAULT_ALLOWS // 3


def test_node_group_composes_with_network_although_they_share_socket_calls() -> None:
    # A runtime group describes an interpreter, not a permission: it may repeat
    # names of a package group (never under conditions, which compose refuses).
    doc = json.loads((REPO_SECCOMP / "node.json").read_text())
    assert set(doc["syscalls"]) == (NODE_NEEDS - {"epoll_pwait"}) | NODE_SOCKET_CALLS
    assert doc["syscalls"] == sorted(doc["syscalls"]) and "rules" not in doc
    network = _group_doc(SyscallGroup.NETWORK)
    assert set(network["syscalls"]) >= NODE_SOCKET_CALLS
    compose((*ALL_GROUPS, RuntimeGroup.NODE), arch="x86_64")  # no error


def test_runtime_groups_may_be_given_by_name() -> None:
    by_name = compose(["base", "unix-sockets", "node"], arch="x86_64")  # type: ignore[list-item]
    assert by_name == compose(groups_for(network=False, runtime="node"), arch="x86_64")


def test_readme_states_the_count_per_runtime() -> None:
    readme = (REPO_SECCOMP / "README.md").read_text()
    for runtime in ("busybox", "mppoci", "node", "python3"):
        cells = [
            " / ".join(
                str(len(allowed_names(compose(groups_for(network=n, runtime=runtime), arch=a))))
                for a in ("x86_64", "aarch64")
            )
            for n in (False, True)
        ]
        groups = " + ".join(g.value for g in groups_for(network=False, runtime=runtime))
        row = f"| {runtime} | {groups} | {cells[0]} | {cells[1]} |"
        assert row in readme, f"seccomp/README.md should have the row {row!r}"
