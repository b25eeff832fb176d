"""The entry rules of the extractor: which archive entries are acceptable. Pure.

:class:`Tree` is the folder being built, as values. Each entry is judged
against what the archive has already put there, and refused, naming it, if
it could write outside the target folder or plant something other than plain
files, folders and in-tree symlinks: absolute paths, ``..``, hard links,
devices, FIFOs, sparse files, setuid/setgid bits, duplicates, paths through a
file or a symlink, symlinks that lead out (walked as the kernel would), and
names or paths that are too long or too deep. Files get mode 0644, or 0755 if
any execute bit is set; folders get 0755.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from enum import Enum

from mppoci.limits import Limits
from mppoci.package.extract_limits import check_declared_size, check_entries, check_written
from mppoci.package.extract_messages import label, unsafe

# Linux's NAME_MAX: a longer component could not be created anyway.
_NAME_MAX = 255
# Linux's SYMLOOP_MAX: more hops than this fail with ELOOP on the real system.
_SYMLINK_HOPS = 40


class Kind(Enum):
    FILE = "file"
    DIR = "directory"
    SYMLINK = "symlink"


class _Leads(Enum):
    """Where a symlink leads, walked as the kernel would."""

    INSIDE = "inside"
    OUTSIDE = "outside"
    # More hops than SYMLOOP_MAX: the kernel answers ELOOP.
    NOWHERE = "nowhere"


@dataclass(frozen=True, slots=True)
class Entry:
    """An accepted archive entry, ready to be written."""

    name: str
    parts: tuple[str, ...]
    kind: Kind
    # Index into the folders to open (``parts`` for a folder, ``parts[:-1]``
    # otherwise) from which on they are new and must be created.
    new_from: int
    mode: int
    size: int
    link: str


_REFUSED_TYPES = {
    tarfile.LNKTYPE: "is a hard link; hard links are never extracted",
    tarfile.CHRTYPE: "is a character device; devices are never extracted",
    tarfile.BLKTYPE: "is a block device; devices are never extracted",
    tarfile.FIFOTYPE: "is a FIFO; only files, folders and symlinks are extracted",
    tarfile.GNUTYPE_SPARSE: "is a sparse file; only plain files are extracted",
}
_FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)


class Tree:
    """The folder being built, as values: decides on each entry against what
    the archive has already put there. Does no I/O."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._kinds: dict[tuple[str, ...], Kind] = {}
        self._declared: set[tuple[str, ...]] = set()
        self._links: dict[tuple[str, ...], str] = {}
        self.entries = 0
        self.files = 0
        self.directories = 0
        self.symlinks = 0
        self.bytes = 0

    @property
    def folders(self) -> list[tuple[str, ...]]:
        return [p for p, k in self._kinds.items() if k is Kind.DIR]

    def admit(self, member: tarfile.TarInfo) -> Entry | None:
        """Validate ``member`` and record it; None for an entry naming the
        root folder itself (``./``), which needs no action."""
        name = member.name
        self.entries += 1
        check_entries(name, self.entries, self._limits)
        kind = self._kind_of(member)
        parts = self._parts(name, kind)
        if (member.mode & 0o6000) != 0:
            raise unsafe(name, f"has the setuid or setgid bit set (mode {member.mode:o})")
        if not parts:
            return None
        folders = parts if kind is Kind.DIR else parts[:-1]
        for i in range(1, len(parts)):
            above = self._kinds.get(parts[:i])
            if above is Kind.SYMLINK:
                raise unsafe(name, f"goes through the symlink {label('/'.join(parts[:i]))}")
            if above is Kind.FILE:
                raise unsafe(name, f"goes through {label('/'.join(parts[:i]))}, which is a file")
        existing = self._kinds.get(parts)
        if existing is Kind.DIR and kind is not Kind.DIR:
            raise unsafe(name, f"is a {kind.value} that would replace a folder of the same name")
        if parts in self._declared:
            raise unsafe(name, "appears twice in the archive")

        size = 0
        link = ""
        mode = 0o755
        if kind is Kind.FILE:
            size = member.size
            if size < 0:
                raise unsafe(name, f"declares a negative size ({size})")
            check_declared_size(name, size, self.bytes, self._limits)
            mode = 0o755 if member.mode & 0o111 else 0o644
        elif kind is Kind.SYMLINK:
            link = member.linkname
            self._check_link_text(name, link)
            self._check_leads_inside(name, parts[:-1], link, follow_last=False)

        new_from = len(folders)
        for i in range(len(folders)):
            if folders[: i + 1] not in self._kinds:
                new_from = i
                break
        for i in range(new_from, len(folders)):
            self._kinds[folders[: i + 1]] = Kind.DIR
            self.directories += 1
        self._declared.add(parts)
        self._kinds[parts] = kind
        if kind is Kind.FILE:
            self.files += 1
            self.bytes += size
        elif kind is Kind.SYMLINK:
            self.symlinks += 1
            self._links[parts] = link
        return Entry(name, parts, kind, new_from, mode, size, link)

    def check_written(self, name: str, total: int) -> None:
        """Check the bytes actually written so far (``total``, this file
        included) too, not only the declared sizes: a size that lies must not
        get past the cap."""
        check_written(name, total, self._limits)

    def check_symlinks(self) -> None:
        """Check every symlink again against the finished tree: a symlink
        that came later can change where an earlier one leads (``l -> d/..``
        then ``d -> .``), or close a loop (``a -> b`` then ``b -> a``). Here
        the last component is followed too, so a loop is refused whatever
        its position."""
        for parts, link in self._links.items():
            self._check_leads_inside("/".join(parts), parts[:-1], link, follow_last=True)

    @staticmethod
    def _kind_of(member: tarfile.TarInfo) -> Kind:
        name = member.name
        refused = _REFUSED_TYPES.get(member.type)
        if refused is not None:
            raise unsafe(name, refused)
        if member.sparse is not None:
            raise unsafe(name, "is a sparse file; only plain files are extracted")
        if member.type in _FILE_TYPES:
            return Kind.FILE
        if member.type == tarfile.DIRTYPE:
            return Kind.DIR
        if member.type == tarfile.SYMTYPE:
            return Kind.SYMLINK
        raise unsafe(
            name,
            f"has the entry type {member.type!r}; only files, folders and symlinks are extracted",
        )

    def _parts(self, name: str, kind: Kind) -> tuple[str, ...]:
        self._check_text(name, "name", name)
        if name.startswith("/"):
            raise unsafe(name, "is an absolute path")
        raw = name.split("/")
        if ".." in raw:
            raise unsafe(name, "path escapes the target folder (it contains '..')")
        if kind is not Kind.DIR and name.endswith("/"):
            raise unsafe(name, f"is a {kind.value} but its name ends with '/'")
        parts = tuple(p for p in raw if p not in ("", "."))
        if not parts and kind is not Kind.DIR:
            raise unsafe(name, "has an empty name")
        if len(parts) > self._limits.path_depth:
            raise unsafe(
                name,
                f"path is {len(parts)} levels deep, more than the limit of "
                f"{self._limits.path_depth} (limits.path_depth)",
            )
        for part in parts:
            if len(part.encode("utf-8")) > _NAME_MAX:
                raise unsafe(name, f"has a path component longer than {_NAME_MAX} bytes")
        return parts

    def _check_link_text(self, name: str, link: str) -> None:
        if not link:
            raise unsafe(name, "is a symlink with an empty target")
        self._check_text(name, "symlink target", link)
        if link.startswith("/"):
            raise unsafe(name, f"is a symlink to the absolute path {label(link)}")

    def _check_text(self, name: str, what: str, text: str) -> None:
        if not text:
            raise unsafe(name, f"has an empty {what}")
        if "\x00" in text:
            raise unsafe(name, f"has a NUL byte in its {what}")
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise unsafe(name, f"{what} is not valid UTF-8") from None
        if size > self._limits.path_bytes:
            raise unsafe(
                name,
                f"{what} is {size} bytes long, more than the limit of "
                f"{self._limits.path_bytes} bytes (limits.path_bytes)",
            )

    def _check_leads_inside(
        self, name: str, start: tuple[str, ...], link: str, *, follow_last: bool
    ) -> None:
        leads = self._where_link_leads(start, link, follow_last=follow_last)
        if leads is _Leads.OUTSIDE:
            through = " through another symlink of the archive" if follow_last else ""
            raise unsafe(
                name, f"is a symlink to {label(link)}, which points outside the folder{through}"
            )
        if leads is _Leads.NOWHERE:
            raise unsafe(
                name,
                f"is a symlink to {label(link)}, which goes through more than "
                f"{_SYMLINK_HOPS} symlinks of the archive (a loop, or a chain longer than "
                "the system follows)",
            )

    def _where_link_leads(self, start: tuple[str, ...], link: str, *, follow_last: bool) -> _Leads:
        """Resolve ``link`` from the folder ``start`` as the kernel would,
        following the archive's own symlinks met on the way (their physical
        parent is not their lexical one). ``follow_last`` follows a symlink
        in the last position as well, which is what finds a loop like
        ``a -> a``."""
        if link.startswith("/"):
            return _Leads.OUTSIDE
        where = list(start)
        pending = list(reversed(link.split("/")))
        hops = 0
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if not where:
                    return _Leads.OUTSIDE
                where.pop()
                continue
            where.append(part)
            through = self._links.get(tuple(where))
            if through is not None and (pending or follow_last):
                hops += 1
                if hops > _SYMLINK_HOPS:
                    return _Leads.NOWHERE
                if through.startswith("/"):
                    return _Leads.OUTSIDE
                where.pop()
                pending.extend(reversed(through.split("/")))
        return _Leads.INSIDE
