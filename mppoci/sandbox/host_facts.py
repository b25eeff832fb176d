"""Gather the file identities the compiler judges bind sources by
(mppoci.policy.host_identity): device and inode of each source and of each
of its parents, of mppoci's own folders and theirs, and mppoci's own files
that have a second name."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from types import MappingProxyType

from mppoci.locations import Locations
from mppoci.policy.host_identity import FileId, GuardedFacts, HostFacts, PathFacts


def _chain(path: str) -> tuple[FileId, ...]:
    """Identities of ``path`` and each parent up to /; () when it is gone."""
    out: list[FileId] = []
    current = Path(os.path.realpath(path))
    for folder in (current, *current.parents):
        try:
            st = os.stat(folder)
        except OSError:
            return ()
        out.append((st.st_dev, st.st_ino))
    return tuple(out)


def _linked_files(folder: Path) -> list[str]:
    """Regular files directly in ``folder`` (where mppoci keeps its policy,
    approvals, audit log and key) with more than one name."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    out = []
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            out.append(entry.path)
    return sorted(out)


def gather(locations: Locations, sources: Iterable[str]) -> HostFacts:
    """Reads the filesystem; raises nothing (a source that cannot be read
    gets no facts, and the compiler refuses it)."""
    guarded = []
    linked: list[str] = []
    for folder in locations.protected():
        chain = _chain(str(folder))
        if chain:
            guarded.append(GuardedFacts(str(folder), chain))
            linked.extend(f for f in _linked_files(folder) if f not in linked)
    facts: dict[str, PathFacts] = {}
    for source in sources:
        try:
            st = os.stat(source)
        except OSError:
            continue
        facts[source] = PathFacts(_chain(source), stat.S_ISREG(st.st_mode), st.st_nlink)
    return HostFacts(tuple(guarded), MappingProxyType(facts), tuple(linked))
