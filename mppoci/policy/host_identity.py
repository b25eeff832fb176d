"""Bind refusals by file identity, not by path text. Pure: the facts (device
and inode numbers, link counts) are gathered by the caller
(mppoci.sandbox.host_facts) and passed in as values.

Path text misses another name for the same folder: a bind mount of
MPPOCI_HOME at /mnt/alias, or a hard link to the audit log. A folder's
(st_dev, st_ino) is the same under every name, so a source is refused when
it, or a folder above it, is one of mppoci's own folders (it is inside), or
when it is one of the folders above mppoci's own (it holds them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

FileId = tuple[int, int]  # (st_dev, st_ino)


@dataclass(frozen=True, slots=True)
class PathFacts:
    """A bind source: its identity, then each parent's up to the root."""

    chain: tuple[FileId, ...]
    regular_file: bool
    links: int


@dataclass(frozen=True, slots=True)
class GuardedFacts:
    """One of mppoci's own folders: its identity, then each parent's."""

    path: str
    chain: tuple[FileId, ...]


@dataclass(frozen=True, slots=True)
class HostFacts:
    guarded: tuple[GuardedFacts, ...] = ()
    sources: Mapping[str, PathFacts] = field(default_factory=lambda: MappingProxyType({}))
    # mppoci's own files that have another name (a hard link) somewhere: a
    # bound folder could hold it without any path or folder giving it away.
    linked_files: tuple[str, ...] = ()


def refusal_by_identity(source: str, facts: HostFacts) -> str | None:
    """Why the bind source ``source`` may not be bound, judged by identity, or None."""
    found = facts.sources.get(source)
    if found is None or not found.chain:
        return "mppoci could not check what it is"
    if found.regular_file and found.links > 1:
        return (
            f"it is a file with {found.links} names (hard links): it could be one of "
            "mppoci's own files under another name"
        )
    for guarded in facts.guarded:
        if not guarded.chain:
            continue
        if guarded.chain[0] in found.chain:
            return (
                f"it is mppoci's own folder {guarded.path}, or inside it, under another name "
                "(a bind mount or link): a tool that could write there could approve itself "
                "or rewrite the audit log"
            )
        if found.chain[0] in guarded.chain:
            return f"it holds mppoci's own folder {guarded.path} (under another name)"
    if facts.linked_files:
        return (
            f"mppoci's own file {facts.linked_files[0]} has another name (a hard link) "
            "somewhere, and a bound folder could hold it"
        )
    return None
