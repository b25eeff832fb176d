"""Compose a Docker seccomp profile from the syscall groups in ``seccomp/*.json``.

A package gets ``base`` (what any process needs) and ``unix-sockets`` (local
IPC, which asyncio and multiprocessing use even without a network); a package
that declares egress also gets ``network``, and a package on a runtime with
needs of its own gets that runtime's group (``node``: libuv and V8), named by
the recipe name its signed manifest pins. Everything else is refused with
EPERM. The group files, how they were minimised and what each one allows are
described in ``seccomp/README.md``.

Three facts about Docker 20.10 / runc 1.1 shape the output (checked on the
engine): the top-level ``defaultErrnoRet`` is ignored, so ``clone3``
carries its own ``errnoRet`` (ENOSYS, or glibc will not fall back to
``clone``); several conditions on the same argument index in one rule are OR'd,
so every allowed value gets its own rule; and only the native architecture is
listed, because adding ``SCMP_ARCH_X86`` makes libseccomp add a ``socketcall``
rule that bypasses an argument-filtered ``socket``.

Everything here is pure except reading the group files at the door.
"""

from __future__ import annotations

import contextlib
import json
import platform
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from mppoci.errors import UserInputError

__all__ = [
    "Group",
    "RuntimeGroup",
    "SyscallGroup",
    "allowed_names",
    "compose",
    "default_folder",
    "denied_names",
    "groups_for",
    "native_architecture",
    "profile_text",
]


class SyscallGroup(StrEnum):
    """What a package may do: the groups partition their names."""

    BASE = "base"
    UNIX_SOCKETS = "unix-sockets"
    NETWORK = "network"


class RuntimeGroup(StrEnum):
    """What one runtime's interpreter needs beyond the package's groups; it may
    repeat names of those groups (Node needs ``getsockopt``, as egress does)."""

    NODE = "node"


Group = SyscallGroup | RuntimeGroup

# The runtime recipe names (as a manifest pins them) whose interpreter needs a group.
_RUNTIME_GROUPS: Mapping[str, tuple[RuntimeGroup, ...]] = {"node": (RuntimeGroup.NODE,)}


ALLOW = "SCMP_ACT_ALLOW"
ERRNO = "SCMP_ACT_ERRNO"
EPERM = 1

_ARCHITECTURES: Mapping[str, str] = {
    "x86_64": "SCMP_ARCH_X86_64",
    "amd64": "SCMP_ARCH_X86_64",
    "aarch64": "SCMP_ARCH_AARCH64",
    "arm64": "SCMP_ARCH_AARCH64",
}
_OPS = frozenset(
    {
        "SCMP_CMP_EQ",
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_GT",
        "SCMP_CMP_GE",
        "SCMP_CMP_MASKED_EQ",
    }
)
_NAME_RE = re.compile(r"^[a-z0-9_]+$")
_GROUP_KEYS = frozenset({"description", "syscalls", "archSyscalls", "rules", "unexercised"})
_DENIED_KEYS = frozenset({"description", "syscalls"})
_RULE_KEYS = frozenset({"names", "action", "args", "errnoRet", "comment"})
_ARG_KEYS = frozenset({"index", "value", "valueTwo", "op"})
_MAX_FILE_BYTES = 256 * 1024
_U64 = 2**64 - 1
_DENIED_FILE = "denied.json"


@dataclass(frozen=True, slots=True, order=True)
class _Arg:
    index: int
    value: int
    value_two: int
    op: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "value": self.value, "valueTwo": self.value_two, "op": self.op}


@dataclass(frozen=True, slots=True, order=True)
class _Rule:
    names: tuple[str, ...]
    action: str
    args: tuple[_Arg, ...]
    errno_ret: int | None
    comment: str

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"names": list(self.names), "action": self.action}
        if self.args:
            out["args"] = [a.to_json() for a in self.args]
        if self.errno_ret is not None:
            out["errnoRet"] = self.errno_ret
        if self.comment:
            out["comment"] = self.comment
        return out


@dataclass(frozen=True, slots=True)
class _Group:
    source: str
    syscalls: frozenset[str]
    arch_syscalls: Mapping[str, frozenset[str]]
    rules: tuple[_Rule, ...]

    def unconditional(self, architecture: str) -> frozenset[str]:
        return self.syscalls | self.arch_syscalls.get(architecture, frozenset())


def groups_for(*, network: bool, runtime: str | None = None) -> tuple[Group, ...]:
    """The groups a package gets: base and unix-sockets, plus network if it
    declares egress, plus the group of its runtime (by recipe name) if it has one."""
    extra = _RUNTIME_GROUPS.get(runtime, ()) if runtime is not None else ()
    if network:
        return (SyscallGroup.BASE, SyscallGroup.UNIX_SOCKETS, SyscallGroup.NETWORK, *extra)
    return (SyscallGroup.BASE, SyscallGroup.UNIX_SOCKETS, *extra)


def default_folder() -> Path:
    """The group files shipped with mppoci: inside the wheel, or the repository's seccomp/."""
    here = Path(__file__).resolve().parent.parent
    shipped = here / "_seccomp"
    return shipped if shipped.is_dir() else here.parent / "seccomp"


def native_architecture(machine: str | None = None) -> str:
    """The libseccomp architecture name for ``machine`` (default: this machine).

    Raises:
        UserInputError: the machine is not one mppoci has profiles for.
    """
    name = (machine if machine is not None else platform.machine()).lower()
    try:
        return _ARCHITECTURES[name]
    except KeyError:
        raise UserInputError(
            f"there is no seccomp profile for the architecture {name!r}",
            hint=f"run on one of {', '.join(sorted(_ARCHITECTURES))}, "
            "or pass arch= with one of those names",
        ) from None


def denied_names(folder: Path | None = None) -> frozenset[str]:
    """The syscalls no group may allow (``denied.json``).

    Raises:
        UserInputError: the file is missing or malformed.
    """
    path = (folder or default_folder()) / _DENIED_FILE
    doc = _read_object(path)
    _check_keys(doc, _DENIED_KEYS, {"description", "syscalls"}, str(path), "denied.json")
    return _names(doc["syscalls"], str(path), "syscalls")


def compose(
    groups: Sequence[Group],
    *,
    folder: Path | None = None,
    arch: str | None = None,
) -> dict[str, Any]:
    """A Docker seccomp profile allowing exactly what ``groups`` allow, for one architecture.

    The output is deterministic: names are sorted, rules are in a fixed order
    (unconditional allows, argument-conditioned allows, errno rules).

    Raises:
        UserInputError: no group or an unknown one is given, the architecture is
            not supported, a group file is missing or malformed,
            a group allows a syscall listed in ``denied.json``, or two groups
            disagree about a syscall (allowed outright in one and only under
            conditions or refused in another).
    """
    if not groups:
        raise UserInputError(
            "a seccomp profile needs at least one syscall group",
            hint=f"pass some of {_known_groups()} (see groups_for)",
        )
    chosen = [_group(g) for g in dict.fromkeys(groups)]
    root = folder or default_folder()
    architecture = native_architecture(arch)
    denied = denied_names(root)
    loaded = [_load_group(root / f"{g.value}.json") for g in chosen]
    return _merge(loaded, denied, architecture)


def _group(name: str) -> Group:
    for kind in (SyscallGroup, RuntimeGroup):
        with contextlib.suppress(ValueError):
            return kind(name)
    raise UserInputError(
        f"unknown syscall group: {name!r} is not a valid group",
        hint=f"the groups are {_known_groups()}",
    )


def _known_groups() -> str:
    return ", ".join(g.value for g in (*SyscallGroup, *RuntimeGroup))


def profile_text(profile: Mapping[str, Any]) -> str:
    """The profile as compact JSON, for ``security_opt=["seccomp=" + text]``."""
    return json.dumps(profile, separators=(",", ":"), sort_keys=True)


def allowed_names(profile: Mapping[str, Any]) -> frozenset[str]:
    """Every syscall name some rule of ``profile`` allows (with or without conditions)."""
    names: set[str] = set()
    for rule in profile.get("syscalls", []):
        if rule.get("action") == ALLOW:
            names.update(rule.get("names", []))
    return frozenset(names)


def _merge(groups: Iterable[_Group], denied: frozenset[str], architecture: str) -> dict[str, Any]:
    unconditional: dict[str, str] = {}
    conditional: dict[str, str] = {}
    refused: dict[str, str] = {}
    rules: set[_Rule] = set()
    for group in groups:
        for name in group.unconditional(architecture):
            unconditional.setdefault(name, group.source)
        for rule in group.rules:
            rules.add(rule)
            target = conditional if rule.action == ALLOW else refused
            for name in rule.names:
                target.setdefault(name, group.source)
    allowed = {**conditional, **unconditional}
    if forbidden := sorted(denied & set(allowed)):
        name = forbidden[0]
        raise UserInputError(
            f"{allowed[name]} allows {name!r}, which denied.json forbids everywhere",
            hint=f"remove {name!r} from {allowed[name]}: it is denied in every profile",
        )
    if voided := sorted(set(unconditional) & set(conditional)):
        name = voided[0]
        raise UserInputError(
            f"{unconditional[name]} allows {name!r} outright, which voids the argument "
            f"conditions on it in {conditional[name]}",
            hint=f"allow {name!r} in one way only",
        )
    if contradicted := sorted(set(refused) & set(allowed)):
        name = contradicted[0]
        raise UserInputError(
            f"{refused[name]} refuses {name!r} with an errno rule but {allowed[name]} allows it",
            hint=f"keep {name!r} in one of the two only",
        )
    ordered = sorted(rules, key=lambda r: (r.action != ALLOW, r.names, r.args, r.errno_ret or 0))
    syscalls: list[dict[str, Any]] = []
    if unconditional:
        syscalls.append({"names": sorted(unconditional), "action": ALLOW})
    syscalls.extend(rule.to_json() for rule in ordered)
    return {
        "defaultAction": ERRNO,
        # Ignored by Docker 20.10 (EPERM is its default anyway); newer engines honour it.
        "defaultErrnoRet": EPERM,
        "architectures": [architecture],
        "syscalls": syscalls,
    }


def _load_group(path: Path) -> _Group:
    doc = _read_object(path)
    source = str(path)
    _check_keys(doc, _GROUP_KEYS, {"description", "syscalls"}, source, "group file")
    if not isinstance(doc["description"], str) or not doc["description"].strip():
        raise _malformed(source, "description must be a non-empty string")
    syscalls = _names(doc["syscalls"], source, "syscalls", allow_empty=True)
    raw_arch = doc.get("archSyscalls", {})
    known = sorted(set(_ARCHITECTURES.values()))
    if not isinstance(raw_arch, dict) or not set(raw_arch) <= set(known):
        raise _malformed(
            source, f"archSyscalls must map some of {', '.join(known)} to syscall names"
        )
    arch_syscalls = {
        arch: _names(names, source, f"archSyscalls.{arch}") for arch, names in raw_arch.items()
    }
    for arch, names in sorted(arch_syscalls.items()):
        if names & syscalls:
            both = ", ".join(sorted(names & syscalls))
            raise _malformed(source, f"{both} is both in syscalls and in archSyscalls.{arch}")
    syscalls_anywhere = syscalls.union(*arch_syscalls.values())
    raw_rules = doc.get("rules", [])
    if not isinstance(raw_rules, list):
        raise _malformed(source, "rules must be a list")
    rules = tuple(_rule(r, source, f"rules[{i}]") for i, r in enumerate(raw_rules))
    in_rules = {n for r in rules for n in r.names}
    if clash := sorted(syscalls_anywhere & in_rules):
        raise _malformed(source, f"{clash[0]!r} is both allowed outright and in a rule")
    unexercised = doc.get("unexercised", {})
    if not isinstance(unexercised, dict) or not all(
        isinstance(v, str) and v.strip() for v in unexercised.values()
    ):
        raise _malformed(source, "unexercised must map syscall names to the reason they are kept")
    if stray := sorted(set(unexercised) - syscalls_anywhere - in_rules):
        raise _malformed(source, f"unexercised names {stray[0]!r}, which the group does not allow")
    return _Group(source=source, syscalls=syscalls, arch_syscalls=arch_syscalls, rules=rules)


def _rule(raw: Any, source: str, where: str) -> _Rule:
    if not isinstance(raw, dict):
        raise _malformed(source, f"{where} must be an object")
    _check_keys(raw, _RULE_KEYS, {"names", "action"}, source, where)
    names = _names(raw["names"], source, f"{where}.names")
    action = raw["action"]
    raw_args = raw.get("args", [])
    if not isinstance(raw_args, list):
        raise _malformed(source, f"{where}.args must be a list")
    args = tuple(_arg(a, source, f"{where}.args[{i}]") for i, a in enumerate(raw_args))
    indexes = [a.index for a in args]
    if len(set(indexes)) != len(indexes):
        # runc turns several conditions on one index into separate rules, i.e. OR.
        raise _malformed(
            source,
            f"{where} has two conditions on the same argument; runc would OR them. "
            "Write one rule per allowed value instead",
        )
    comment = raw.get("comment", "")
    if not isinstance(comment, str):
        raise _malformed(source, f"{where}.comment must be a string")
    errno_ret = raw.get("errnoRet")
    if action == ALLOW:
        if errno_ret is not None:
            raise _malformed(source, f"{where}: errnoRet only goes with {ERRNO}")
        if not args:
            raise _malformed(
                source, f"{where} allows without conditions: list those names in syscalls"
            )
    elif action == ERRNO:
        if not _is_int(errno_ret, 1, 4095):
            # Docker 20.10 ignores defaultErrnoRet; only a per-rule errnoRet is certain.
            raise _malformed(source, f"{where}: an {ERRNO} rule needs errnoRet (1..4095)")
    else:
        raise _malformed(source, f"{where}.action must be {ALLOW} or {ERRNO}")
    return _Rule(
        names=tuple(sorted(names)),
        action=action,
        args=tuple(sorted(args)),
        errno_ret=errno_ret,
        comment=comment,
    )


def _arg(raw: Any, source: str, where: str) -> _Arg:
    if not isinstance(raw, dict):
        raise _malformed(source, f"{where} must be an object")
    _check_keys(raw, _ARG_KEYS, {"index", "value", "op"}, source, where)
    index, value, value_two, op = raw["index"], raw["value"], raw.get("valueTwo", 0), raw["op"]
    if not _is_int(index, 0, 5):
        raise _malformed(source, f"{where}.index must be an argument index 0..5")
    if not _is_int(value, 0, _U64) or not _is_int(value_two, 0, _U64):
        raise _malformed(source, f"{where}: value and valueTwo must be integers in 0..2**64-1")
    if op not in _OPS:
        raise _malformed(source, f"{where}.op must be one of {', '.join(sorted(_OPS))}")
    if op == "SCMP_CMP_MASKED_EQ":
        if value_two & ~value:
            raise _malformed(
                source, f"{where}: valueTwo has bits outside the mask value, it never matches"
            )
    elif value_two:
        raise _malformed(source, f"{where}: valueTwo only goes with SCMP_CMP_MASKED_EQ")
    return _Arg(index=index, value=value, value_two=value_two, op=op)


def _names(raw: Any, source: str, where: str, *, allow_empty: bool = False) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise _malformed(source, f"{where} must be a list of syscall names")
    if not raw and not allow_empty:
        raise _malformed(source, f"{where} must not be empty")
    for name in raw:
        if not _NAME_RE.fullmatch(name):
            raise _malformed(source, f"{where}: {name!r} is not a syscall name ([a-z0-9_]+)")
    if len(set(raw)) != len(raw):
        dupes = sorted({n for n in raw if raw.count(n) > 1})
        raise _malformed(source, f"{where} lists {', '.join(dupes)} more than once")
    return frozenset(raw)


def _read_object(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserInputError(
            f"the seccomp group file {path} does not exist",
            hint="reinstall mppoci, or pass folder= with a folder holding base.json, "
            "unix-sockets.json, network.json and denied.json",
        ) from None
    except OSError as e:
        raise UserInputError(f"the seccomp group file {path} cannot be read: {e}") from e
    if len(data) > _MAX_FILE_BYTES:
        raise _malformed(str(path), f"it is larger than {_MAX_FILE_BYTES} bytes")
    try:
        doc = json.loads(data, object_pairs_hook=_no_duplicate_keys)
    except (ValueError, UnicodeDecodeError) as e:
        raise _malformed(str(path), f"it is not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise _malformed(str(path), "it must be a JSON object")
    return doc


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate key in {keys}")
    return dict(pairs)


def _check_keys(
    doc: Mapping[str, Any], allowed: frozenset[str], required: set[str], source: str, where: str
) -> None:
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise _malformed(
            source,
            f"{where} has unknown keys {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(allowed))})",
        )
    missing = sorted(required - set(doc))
    if missing:
        raise _malformed(source, f"{where} lacks {', '.join(missing)}")


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _malformed(source: str, problem: str) -> UserInputError:
    return UserInputError(
        f"seccomp group file {source} is invalid: {problem}",
        hint="fix the file; its format is described in seccomp/README.md",
    )
