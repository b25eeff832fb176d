"""Host folders bound into a sandbox, checked again when it starts.

Docker records a bind's source path when the container is created, and the
kernel follows that path when the container starts. A prepared sandbox
(`mppoci serve`'s pool) waits in between; if the folder is meanwhile
replaced, say by a symlink to /etc or to mppoci's own state (a tool with a
read-write mount of the parent folder can do it from inside its sandbox), the
next call would start with that instead. So at start every bind source must
still be the folder that was approved: the same resolved path, the same
inode, and still not a folder that is never bound.

`mppoci run` (and calls through ``app.execute``) check the same way between
create and start, against what the sources were just before create; the
pool, against what they were when the sandbox was prepared.

What is left is the moment between this check and the engine's mount: a
swap that lands in those microseconds is not caught.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from mppoci.errors import PolicyError
from mppoci.policy.compiler import refusal_for_host_path
from mppoci.policy.spec import ContainerSpec, MountKind


@dataclass(frozen=True, slots=True)
class BoundFolder:
    source: str  # the path Docker was given
    real: str  # where it led when the sandbox was prepared
    device: int
    inode: int
    purpose: str  # "filesystem data", "package content"


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _user_named(purpose: str) -> bool:
    # The compiler judged these folders by their resolved path, which is
    # what it was given; mppoci's own (content, storage, resolv.conf) may
    # sit under a symlinked TMPDIR or MPPOCI_HOME.
    return purpose.startswith("filesystem ")


def snapshot(spec: ContainerSpec) -> tuple[BoundFolder, ...]:
    """What each bind source is now (call right after compiling the spec).

    Raises ValueError when a folder the user named no longer is the resolved
    path the compiler judged, or a source is gone."""
    out = []
    for m in spec.mounts:
        if m.kind is not MountKind.BIND:
            continue
        real = os.path.realpath(m.source)
        if _user_named(m.purpose) and real != m.source:
            raise ValueError(f"{m.purpose}: {m.source} now leads to {real}")
        ident = _identity(real)
        if ident is None:
            raise ValueError(f"{m.purpose}: {m.source} does not exist")
        out.append(BoundFolder(m.source, real, ident[0], ident[1], m.purpose))
    return tuple(out)


def changed(bound: Sequence[BoundFolder], protected: Sequence[str]) -> str | None:
    """Why a prepared sandbox may no longer start (a bind source was swapped),
    or None. Reads the filesystem; raises nothing."""
    for b in bound:
        real = os.path.realpath(b.source)
        if real != b.real:
            why_not = refusal_for_host_path(real, protected)
            return f"{b.purpose}: {b.source} now leads to {real}" + (
                f" ({why_not})" if why_not else ""
            )
        ident = _identity(real)
        if ident is None:
            return f"{b.purpose}: {b.source} no longer exists"
        if ident != (b.device, b.inode):
            return f"{b.purpose}: {b.source} was replaced by another file or folder"
        why_not = refusal_for_host_path(real, protected)
        if why_not and _user_named(b.purpose):  # the list changed (another home, say)
            return f"{b.purpose}: {b.source} is refused: {why_not}"
    return None


def swapped(why: str, package: str = "the package") -> PolicyError:
    """The refusal when a bound folder changed after it was checked."""
    return PolicyError(
        f"a folder bound into {package} changed after it was checked: {why}; "
        "the sandbox was discarded and the tool not run",
        hint="check who changed the folder, then run again with the folder you mean to give",
    )
