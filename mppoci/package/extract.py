"""Unpack a package content layer (tar+gzip) safely: the one extractor of mppoci.

Every archive mppoci unpacks goes through :func:`extract_content`. It refuses,
naming the entry, anything that could write outside the target folder or
plant something other than plain files, folders and in-tree symlinks; it caps
sizes and counts while streaming; and it publishes the result with one rename,
so a failure never leaves a half-extracted folder behind.

Python's ``tarfile`` parses the headers, but it is treated as a parser of
hostile input with known weak spots (as of the Python 3.11 we support):

* it quietly ends the archive at a truncated or garbled header, so we accept
  the end only at a real end-of-archive block followed by zero padding;
* it reads a whole pax or GNU long-name header into memory, so we cap the
  bytes it may read for the headers of one entry;
* its pax parser is quadratic in long runs of digits (CVE-2024-6232), so we
  refuse such runs in headers before it sees them;
* its own gzip reader checks no CRC, so we decompress with zlib ourselves.

All of this relies on reading the tar stream in 512-byte blocks
(``bufsize=BLOCKSIZE``): then every byte tarfile asks for while looking for
the next entry belongs to that entry's headers, and nothing else.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from mppoci.errors import LimitExceededError, StoreError, UnsafeArchiveError, UserInputError
from mppoci.limits import DEFAULT_LIMITS, KiB, Limits, MiB

_BLOCK = tarfile.BLOCKSIZE
_CHUNK = 64 * KiB

# Linux's NAME_MAX: a longer component could not be created anyway.
_NAME_MAX = 255
# Linux's SYMLOOP_MAX: more hops than this fail with ELOOP on the real system.
_SYMLINK_HOPS = 40
# Slack on top of two paths (a pax path and linkpath, or GNU long name and
# long link) for the fixed header blocks and the small pax records (mtime,
# uid, ...) that legitimate archivers add.
_HEADER_SLACK = 16 * KiB
# No legitimate header holds a longer run of digits: a path component is at
# most NAME_MAX bytes, numeric fields at most 12.
_MAX_DIGIT_RUN = 256
# tarfile and GNU tar pad to a 10 KiB record; a big blocking factor may add more.
_MAX_TRAILING_ZEROS = 1 * MiB

# Names longer than this are shortened in messages.
_LABEL_MAX = 160

_DIGITS = re.compile(rb"[0-9]+")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

_HOSTILE_HINT = (
    "the package content is broken or hostile; do not use this package, and tell its publisher"
)
_LIMIT_HINT = (
    "the package is bigger than mppoci accepts; if it is genuine, ask its publisher to "
    "make it smaller (split data out, or ship fewer files)"
)


@dataclass(frozen=True, slots=True)
class ExtractReport:
    """What was unpacked. ``directories`` counts every folder created, including
    those the archive implies without listing them; ``bytes`` is the total size
    of the regular files."""

    files: int
    directories: int
    symlinks: int
    bytes: int


def extract_content(
    stream: BinaryIO,
    target: Path,
    *,
    limits: Limits = DEFAULT_LIMITS,
    compressed: bool = True,
) -> ExtractReport:
    """Unpack the tar+gzip (or plain tar if ``compressed`` is false) read from
    ``stream`` into the new folder ``target``.

    The archive is streamed, never held in memory. Files get mode 0644, or 0755
    if any execute bit is set; folders get 0755. ``target`` appears only once
    everything has been unpacked; on any failure nothing is left behind.

    Raises:
        UnsafeArchiveError: the content is not a valid archive, or an entry
            would escape ``target`` or is something we never extract (hard
            links, devices, FIFOs, setuid/setgid bits, duplicates, paths that
            are absolute, contain ``..`` or are too long or too deep).
        LimitExceededError: the archive exceeds ``limits`` (compressed bytes,
            unpacked bytes, number of entries, header size).
        UserInputError: ``target`` already exists or its parent folder does not.
        StoreError: the stream could not be read, or the disk refused a write.
    """
    target = Path(target)
    parent = target.parent
    if target.is_symlink() or target.exists():
        raise UserInputError(
            f"cannot unpack into {target}: it already exists",
            hint="remove it or choose a folder that does not exist yet",
        )
    if not parent.is_dir():
        raise UserInputError(
            f"cannot unpack into {target}: the folder {parent} does not exist",
            hint="create the parent folder first",
        )
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=parent))
    except OSError as e:
        raise _store_error(f"cannot create a folder in {parent}", e) from e
    try:
        report = _extract_into(stream, tmp, limits, compressed)
        try:
            tmp.chmod(0o755)
            # Checked again because the caller's check was long ago; rename
            # would silently replace an empty folder that appeared meanwhile.
            if target.is_symlink() or target.exists():
                raise UserInputError(
                    f"cannot unpack into {target}: it appeared while unpacking",
                    hint="make sure only one mppoci process writes there, then try again",
                )
            tmp.rename(target)
        except OSError as e:
            raise _store_error(f"cannot move the unpacked content to {target}", e) from e
    except BaseException:
        # Nothing half-extracted may stay visible, whatever went wrong. A
        # failure to clean up must not hide the error that caused it.
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # Durability of the rename only; the content is complete either way.
    with contextlib.suppress(OSError):
        _fsync_path(parent)
    return report


# --- the pure core: which entries are acceptable --------------------------------------------


class _Kind(Enum):
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
class _Entry:
    """An accepted archive entry, ready to be written."""

    name: str
    parts: tuple[str, ...]
    kind: _Kind
    # Index into the folders to open (``parts`` for a folder, ``parts[:-1]``
    # otherwise) from which on they are new and must be created.
    new_from: int
    mode: int
    size: int
    link: str


def _label(text: str) -> str:
    """A name from the archive as shown in messages: quoted, with undecodable
    bytes as escapes, and shortened in the middle when very long."""
    # A lone surrogate that is no escaped byte cannot be encoded; repr() shows it.
    with contextlib.suppress(UnicodeEncodeError):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if len(text) > _LABEL_MAX:
        text = f"{text[: _LABEL_MAX // 2]}[...]{text[-_LABEL_MAX // 4 :]}"
    return repr(text)


def _unsafe(name: str, problem: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(f"archive entry {_label(name)}: {problem}", hint=_HOSTILE_HINT)


_REFUSED_TYPES = {
    tarfile.LNKTYPE: "is a hard link; hard links are never extracted",
    tarfile.CHRTYPE: "is a character device; devices are never extracted",
    tarfile.BLKTYPE: "is a block device; devices are never extracted",
    tarfile.FIFOTYPE: "is a FIFO; only files, folders and symlinks are extracted",
    tarfile.GNUTYPE_SPARSE: "is a sparse file; only plain files are extracted",
}
_FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)


class _Tree:
    """The folder being built, as values: decides on each entry against what
    the archive has already put there. Does no I/O."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._kinds: dict[tuple[str, ...], _Kind] = {}
        self._declared: set[tuple[str, ...]] = set()
        self._links: dict[tuple[str, ...], str] = {}
        self.entries = 0
        self.files = 0
        self.directories = 0
        self.symlinks = 0
        self.bytes = 0

    @property
    def folders(self) -> list[tuple[str, ...]]:
        return [p for p, k in self._kinds.items() if k is _Kind.DIR]

    def admit(self, member: tarfile.TarInfo) -> _Entry | None:
        """Validate ``member`` and record it; None for an entry naming the
        root folder itself (``./``), which needs no action."""
        name = member.name
        self.entries += 1
        if self.entries > self._limits.files:
            raise LimitExceededError(
                f"archive entry {_label(name)}: the archive has more than {self._limits.files} "
                "entries (limits.files)",
                hint=_LIMIT_HINT,
            )
        kind = self._kind_of(member)
        parts = self._parts(name, kind)
        if (member.mode & 0o6000) != 0:
            raise _unsafe(name, f"has the setuid or setgid bit set (mode {member.mode:o})")
        if not parts:
            return None
        folders = parts if kind is _Kind.DIR else parts[:-1]
        for i in range(1, len(parts)):
            above = self._kinds.get(parts[:i])
            if above is _Kind.SYMLINK:
                raise _unsafe(name, f"goes through the symlink {_label('/'.join(parts[:i]))}")
            if above is _Kind.FILE:
                raise _unsafe(name, f"goes through {_label('/'.join(parts[:i]))}, which is a file")
        existing = self._kinds.get(parts)
        if existing is _Kind.DIR and kind is not _Kind.DIR:
            raise _unsafe(name, f"is a {kind.value} that would replace a folder of the same name")
        if parts in self._declared:
            raise _unsafe(name, "appears twice in the archive")

        size = 0
        link = ""
        mode = 0o755
        if kind is _Kind.FILE:
            size = member.size
            if size < 0:
                raise _unsafe(name, f"declares a negative size ({size})")
            if size > self._limits.unpacked_bytes - self.bytes:
                raise LimitExceededError(
                    f"archive entry {_label(name)}: declares {size} bytes; with the "
                    f"{self.bytes} bytes before it the package would unpack to more than "
                    f"{self._limits.unpacked_bytes} bytes (limits.unpacked_bytes)",
                    hint=_LIMIT_HINT,
                )
            mode = 0o755 if member.mode & 0o111 else 0o644
        elif kind is _Kind.SYMLINK:
            link = member.linkname
            self._check_link_text(name, link)
            self._check_leads_inside(name, parts[:-1], link, follow_last=False)

        new_from = len(folders)
        for i in range(len(folders)):
            if folders[: i + 1] not in self._kinds:
                new_from = i
                break
        for i in range(new_from, len(folders)):
            self._kinds[folders[: i + 1]] = _Kind.DIR
            self.directories += 1
        self._declared.add(parts)
        self._kinds[parts] = kind
        if kind is _Kind.FILE:
            self.files += 1
            self.bytes += size
        elif kind is _Kind.SYMLINK:
            self.symlinks += 1
            self._links[parts] = link
        return _Entry(name, parts, kind, new_from, mode, size, link)

    def check_written(self, name: str, total: int) -> None:
        """Check the bytes actually written so far (``total``, this file
        included) too, not only the declared sizes: a size that lies must not
        get past the cap."""
        if total > self._limits.unpacked_bytes:
            raise LimitExceededError(
                f"archive entry {_label(name)}: the package unpacks to more than "
                f"{self._limits.unpacked_bytes} bytes (limits.unpacked_bytes)",
                hint=_LIMIT_HINT,
            )

    def check_symlinks(self) -> None:
        """Check every symlink again against the finished tree: a symlink
        that came later can change where an earlier one leads (``l -> d/..``
        then ``d -> .``), or close a loop (``a -> b`` then ``b -> a``). Here
        the last component is followed too, so a loop is refused whatever
        its position."""
        for parts, link in self._links.items():
            self._check_leads_inside("/".join(parts), parts[:-1], link, follow_last=True)

    @staticmethod
    def _kind_of(member: tarfile.TarInfo) -> _Kind:
        name = member.name
        refused = _REFUSED_TYPES.get(member.type)
        if refused is not None:
            raise _unsafe(name, refused)
        if member.sparse is not None:
            raise _unsafe(name, "is a sparse file; only plain files are extracted")
        if member.type in _FILE_TYPES:
            return _Kind.FILE
        if member.type == tarfile.DIRTYPE:
            return _Kind.DIR
        if member.type == tarfile.SYMTYPE:
            return _Kind.SYMLINK
        raise _unsafe(
            name,
            f"has the entry type {member.type!r}; only files, folders and symlinks are extracted",
        )

    def _parts(self, name: str, kind: _Kind) -> tuple[str, ...]:
        self._check_text(name, "name", name)
        if name.startswith("/"):
            raise _unsafe(name, "is an absolute path")
        raw = name.split("/")
        if ".." in raw:
            raise _unsafe(name, "path escapes the target folder (it contains '..')")
        if kind is not _Kind.DIR and name.endswith("/"):
            raise _unsafe(name, f"is a {kind.value} but its name ends with '/'")
        parts = tuple(p for p in raw if p not in ("", "."))
        if not parts and kind is not _Kind.DIR:
            raise _unsafe(name, "has an empty name")
        if len(parts) > self._limits.path_depth:
            raise _unsafe(
                name,
                f"path is {len(parts)} levels deep, more than the limit of "
                f"{self._limits.path_depth} (limits.path_depth)",
            )
        for part in parts:
            if len(part.encode("utf-8")) > _NAME_MAX:
                raise _unsafe(name, f"has a path component longer than {_NAME_MAX} bytes")
        return parts

    def _check_link_text(self, name: str, link: str) -> None:
        if not link:
            raise _unsafe(name, "is a symlink with an empty target")
        self._check_text(name, "symlink target", link)
        if link.startswith("/"):
            raise _unsafe(name, f"is a symlink to the absolute path {_label(link)}")

    def _check_text(self, name: str, what: str, text: str) -> None:
        if not text:
            raise _unsafe(name, f"has an empty {what}")
        if "\x00" in text:
            raise _unsafe(name, f"has a NUL byte in its {what}")
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise _unsafe(name, f"{what} is not valid UTF-8") from None
        if size > self._limits.path_bytes:
            raise _unsafe(
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
            raise _unsafe(
                name, f"is a symlink to {_label(link)}, which points outside the folder{through}"
            )
        if leads is _Leads.NOWHERE:
            raise _unsafe(
                name,
                f"is a symlink to {_label(link)}, which goes through more than "
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


# --- the byte streams under tarfile ------------------------------------------------------------


class _Reader(Protocol):
    def read(self, size: int, /) -> bytes: ...


class _Progress:
    """Where we are in the archive, for error messages raised deep in a stream."""

    def __init__(self, compressed: bool) -> None:
        self.compressed = compressed
        self.last_entry: str | None = None

    def where(self) -> str:
        if self.last_entry is None:
            return "at the start of the archive"
        return f"after archive entry {_label(self.last_entry)}"

    def invalid(self, problem: str) -> UnsafeArchiveError:
        kind = "tar+gzip" if self.compressed else "tar"
        return UnsafeArchiveError(
            f"package content is not a valid {kind} archive: {problem} ({self.where()})",
            hint=_HOSTILE_HINT,
        )


class _LayerReader:
    """Counts the bytes read from the caller's stream against limits.layer_bytes."""

    def __init__(self, stream: BinaryIO, limit: int, progress: _Progress) -> None:
        self._stream = stream
        self._limit = limit
        self._progress = progress
        self._count = 0

    def read(self, size: int, /) -> bytes:
        try:
            data = self._stream.read(size)
        except OSError as e:
            raise StoreError(
                f"cannot read the package content: {e}",
                hint="check that the store and its disk are readable, then try again",
            ) from e
        self._count += len(data)
        if self._count > self._limit:
            raise LimitExceededError(
                f"package content is larger than {self._limit} bytes compressed "
                f"(limits.layer_bytes), {self._progress.where()}",
                hint=_LIMIT_HINT,
            )
        return data


class _Gunzip:
    """Decompresses exactly one gzip member, never more than asked per read.

    zlib checks the CRC and length trailer, which tarfile's own gzip reader
    skips. Content layers are written as one member with nothing after it, so
    trailing bytes are refused rather than guessed about."""

    def __init__(self, raw: _Reader, progress: _Progress) -> None:
        self._raw = raw
        self._progress = progress
        self._zlib = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        self._pending = b""
        self._done = False

    def read(self, size: int, /) -> bytes:
        while not self._done:
            if not self._pending:
                self._pending = self._raw.read(_CHUNK)
                if not self._pending:
                    raise self._progress.invalid("the gzip stream ends early (truncated)")
            out = self._zlib.decompress(self._pending, size)
            self._pending = self._zlib.unconsumed_tail
            if self._zlib.eof:
                self._done = True
                if self._zlib.unused_data or self._raw.read(_CHUNK):
                    raise self._progress.invalid("there is data after the end of the gzip stream")
            if out:
                return out
        return b""


class _TarStream:
    """The tar bytes as tarfile sees them, with the guards described in the
    module docstring. Implements the file-object protocol tarfile needs."""

    def __init__(self, source: _Reader, limits: Limits, progress: _Progress) -> None:
        self._source = source
        self._progress = progress
        self._header_budget = 2 * limits.path_bytes + _HEADER_SLACK
        self._buf = b""
        self._at = 0
        self._pos = 0
        self.start_headers()

    def start_headers(self) -> None:
        """Called before tarfile looks for the next entry."""
        self._in_headers = True
        self._header_bytes = 0
        self._headers_all_zero = True
        self._digit_run = 0

    def end_headers(self) -> None:
        """Called once tarfile has returned the next entry (or none)."""
        self._in_headers = False

    def read(self, size: int, /) -> bytes:
        data = self._take(size)
        if self._in_headers and data:
            self._screen(data)
        return data

    def finish(self) -> None:
        """Check, after tarfile has found no further entry, that the archive
        really ended there and that only zero padding follows."""
        if self._header_bytes != _BLOCK or not self._headers_all_zero:
            raise self._progress.invalid(
                "the tar archive is truncated or has a damaged entry header "
                "where its end-of-archive marker should be"
            )
        trailing = 0
        while chunk := self._take(_CHUNK):
            if chunk.count(0) != len(chunk):
                raise self._progress.invalid("there is data after the end-of-archive marker")
            trailing += len(chunk)
            if trailing > _MAX_TRAILING_ZEROS:
                raise self._progress.invalid(
                    f"more than {_MAX_TRAILING_ZEROS} bytes of padding follow the archive"
                )

    def _screen(self, data: bytes) -> None:
        self._header_bytes += len(data)
        if self._header_bytes > self._header_budget:
            raise LimitExceededError(
                f"the headers of an archive entry are larger than {self._header_budget} bytes "
                f"(twice limits.path_bytes plus {_HEADER_SLACK}), {self._progress.where()}",
                hint=_LIMIT_HINT,
            )
        if self._headers_all_zero and data.count(0) != len(data):
            self._headers_all_zero = False
        for match in _DIGITS.finditer(data):
            run = match.end() - match.start()
            if match.start() == 0:
                run += self._digit_run
            if run > _MAX_DIGIT_RUN:
                raise self._progress.invalid(
                    f"an entry header holds a run of more than {_MAX_DIGIT_RUN} digits"
                )
        last = data[-1:]
        if last.isdigit():
            tail = len(data) - len(data.rstrip(b"0123456789"))
            self._digit_run = tail + (self._digit_run if tail == len(data) else 0)
        else:
            self._digit_run = 0

    def _take(self, size: int) -> bytes:
        if self._at + size <= len(self._buf):
            data = self._buf[self._at : self._at + size]
            self._at += size
        else:
            parts = [self._buf[self._at :]]
            have = len(parts[0])
            self._buf, self._at = b"", 0
            while have < size:
                more = self._source.read(max(_CHUNK, size - have))
                if not more:
                    break
                need = size - have
                if len(more) > need:
                    parts.append(more[:need])
                    self._buf, self._at = more, need
                    have = size
                else:
                    parts.append(more)
                    have += len(more)
            data = b"".join(parts)
        self._pos += len(data)
        return data

    # The rest of the file-object protocol tarfile expects; reading only.
    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, /) -> int:
        raise OSError(errno.ESPIPE, "the package content stream is not seekable")

    def write(self, data: bytes, /) -> int:
        raise OSError(errno.EBADF, "the package content stream is read-only")

    def close(self) -> None:
        pass


@contextlib.contextmanager
def _archive_errors(progress: _Progress) -> Iterator[None]:
    """Turn whatever tarfile or zlib raise on malformed input into our error.
    Besides TarError, tarfile lets ValueError, TypeError and the like escape
    from malformed numeric fields and sparse maps."""
    try:
        yield
    except (
        tarfile.TarError,
        zlib.error,
        EOFError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        OverflowError,
        RecursionError,
    ) as e:
        raise progress.invalid(str(e) or type(e).__name__) from e


# --- the I/O shell -----------------------------------------------------------------------------


def _extract_into(stream: BinaryIO, root: Path, limits: Limits, compressed: bool) -> ExtractReport:
    progress = _Progress(compressed)
    layer = _LayerReader(stream, limits.layer_bytes, progress)
    source: _Reader = _Gunzip(layer, progress) if compressed else layer
    tar_stream = _TarStream(source, limits, progress)
    tree = _Tree(limits)
    try:
        root_fd = os.open(root, _DIR_FLAGS)
    except OSError as e:
        raise _store_error(f"cannot open {root}", e) from e
    try:
        writer = _Writer(root_fd, root)
        with _archive_errors(progress):
            # Opening already reads the first entry's headers, hence the guard;
            # the `with archive` below closes it.
            archive = tarfile.open(  # noqa: SIM115
                fileobj=tar_stream,
                mode="r|",
                bufsize=_BLOCK,
                encoding="utf-8",
                errors="surrogateescape",
            )
        with archive:
            while True:
                with _archive_errors(progress):
                    member = archive.next()
                tar_stream.end_headers()
                if member is None:
                    break
                entry = tree.admit(member)
                progress.last_entry = member.name
                if entry is not None:
                    _write_entry(archive, member, entry, writer, tree, progress)
                tar_stream.start_headers()
        with _archive_errors(progress):
            tar_stream.finish()
        tree.check_symlinks()
        writer.sync_folders(tree.folders)
    finally:
        os.close(root_fd)
    return ExtractReport(
        files=tree.files, directories=tree.directories, symlinks=tree.symlinks, bytes=tree.bytes
    )


def _write_entry(
    archive: tarfile.TarFile,
    member: tarfile.TarInfo,
    entry: _Entry,
    writer: _Writer,
    tree: _Tree,
    progress: _Progress,
) -> None:
    if entry.kind is _Kind.DIR:
        writer.make_dir(entry)
        return
    if entry.kind is _Kind.SYMLINK:
        writer.make_symlink(entry)
        return
    with _archive_errors(progress):
        data = archive.extractfile(member)
    if data is None:  # tarfile gives no data only for non-files, which admit() ruled out
        raise progress.invalid(f"no data for the file {_label(member.name)}")
    _copy(data, entry, writer, tree, progress)


def _copy(
    data: IO[bytes],
    entry: _Entry,
    writer: _Writer,
    tree: _Tree,
    progress: _Progress,
) -> None:
    fd = writer.create_file(entry)
    try:
        copied = 0
        while True:
            with _archive_errors(progress):
                chunk = data.read(_CHUNK)
            if not chunk:
                break
            copied += len(chunk)
            # tree.bytes already includes the declared size of this file.
            if copied > entry.size:
                raise _unsafe(entry.name, f"holds more than its declared {entry.size} bytes")
            tree.check_written(entry.name, tree.bytes - entry.size + copied)
            writer.write(entry, fd, chunk)
        if copied != entry.size:
            raise progress.invalid(f"file {_label(entry.name)} is shorter than its declared size")
        writer.finish_file(entry, fd)
    finally:
        os.close(fd)


class _Writer:
    """Creates entries below the root folder through file descriptors, never
    following a symlink, so that even a tree changed behind our back cannot
    redirect a write."""

    def __init__(self, root_fd: int, root: Path) -> None:
        self._root_fd = root_fd
        self._root = root

    def make_dir(self, entry: _Entry) -> None:
        if entry.new_from == len(entry.parts):
            return  # created earlier as the parent of another entry
        with self._disk_errors(entry.name):
            os.close(self._open_folders(entry.parts, entry.new_from))

    def make_symlink(self, entry: _Entry) -> None:
        with self._disk_errors(entry.name):
            parent = self._open_folders(entry.parts[:-1], entry.new_from)
            try:
                os.symlink(entry.link, entry.parts[-1], dir_fd=parent)
            finally:
                os.close(parent)

    def create_file(self, entry: _Entry) -> int:
        with self._disk_errors(entry.name):
            parent = self._open_folders(entry.parts[:-1], entry.new_from)
            try:
                return os.open(entry.parts[-1], _NEW_FILE_FLAGS, 0o600, dir_fd=parent)
            finally:
                os.close(parent)

    def write(self, entry: _Entry, fd: int, chunk: bytes) -> None:
        with self._disk_errors(entry.name):
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]

    def finish_file(self, entry: _Entry, fd: int) -> None:
        with self._disk_errors(entry.name):
            # Set after creation: the mode given to os.open is reduced by the umask.
            os.fchmod(fd, entry.mode)
            os.fsync(fd)

    def sync_folders(self, folders: list[tuple[str, ...]]) -> None:
        """Make the folder entries durable before the folder is published."""
        for parts in [(), *folders]:
            name = "/".join(parts) or "."
            with self._disk_errors(name):
                fd = self._open_folders(parts, len(parts))
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    def _open_folders(self, folders: tuple[str, ...], new_from: int) -> int:
        """Open ``folders`` below the root, creating those from ``new_from``
        on; return the last one's descriptor, which the caller closes."""
        fd = os.dup(self._root_fd)
        try:
            for i, name in enumerate(folders):
                if i >= new_from:
                    os.mkdir(name, 0o700, dir_fd=fd)
                below = os.open(name, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = below
                if i >= new_from:
                    os.fchmod(fd, 0o755)
        except BaseException:
            os.close(fd)
            raise
        return fd

    @contextlib.contextmanager
    def _disk_errors(self, name: str) -> Iterator[None]:
        try:
            yield
        except OSError as e:
            if e.errno in _ENTRY_ERRNOS:
                # The name itself is the problem, e.g. two names that the
                # filesystem folds together (case-insensitive, Unicode).
                raise _unsafe(name, f"cannot be created: {e.strerror}") from e
            raise _store_error(
                f"cannot write archive entry {_label(name)} into {self._root}", e
            ) from e


_ENTRY_ERRNOS = frozenset(
    {errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.ENAMETOOLONG, errno.EILSEQ}
)


def _store_error(what: str, e: OSError) -> StoreError:
    return StoreError(
        f"{what}: {e.strerror or e}",
        hint="check that the disk has free space and that the folder is writable, then try again",
    )


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
