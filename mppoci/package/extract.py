"""Unpack a package content layer (tar+gzip) safely: the one extractor of mppoci.

Every archive mppoci unpacks goes through :func:`extract_content`. It refuses,
naming the entry, anything that could write outside the target folder or
plant something other than plain files, folders and in-tree symlinks; it caps
sizes and counts while streaming; and it publishes the result with one rename,
so a failure never leaves a half-extracted folder behind.

The parts, one job each: :mod:`~mppoci.package.extract_stream` reads the
hostile tar (+gzip) stream under tarfile; :mod:`~mppoci.package.extract_rules`
decides on each entry; :mod:`~mppoci.package.extract_limits` holds the size
and count caps; :mod:`~mppoci.package.extract_writer` writes into the target
folder. This module runs them in order.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from mppoci.limits import DEFAULT_LIMITS, Limits
from mppoci.package.extract_messages import label, unsafe
from mppoci.package.extract_rules import Entry, Kind, Tree
from mppoci.package.extract_stream import (
    BLOCK,
    CHUNK,
    Gunzip,
    LayerReader,
    Progress,
    Reader,
    TarStream,
    archive_errors,
)
from mppoci.package.extract_writer import Writer, open_writer, unpacking_into


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
    with unpacking_into(Path(target)) as tmp:
        report = _extract_into(stream, tmp, limits, compressed)
    return report


def _extract_into(stream: BinaryIO, root: Path, limits: Limits, compressed: bool) -> ExtractReport:
    progress = Progress(compressed)
    layer = LayerReader(stream, limits.layer_bytes, progress)
    source: Reader = Gunzip(layer, progress) if compressed else layer
    tar_stream = TarStream(source, limits, progress)
    tree = Tree(limits)
    with open_writer(root) as writer:
        with archive_errors(progress):
            # Opening already reads the first entry's headers, hence the guard;
            # the `with archive` below closes it.
            archive = tarfile.open(  # noqa: SIM115
                fileobj=tar_stream,
                mode="r|",
                bufsize=BLOCK,
                encoding="utf-8",
                errors="surrogateescape",
            )
        with archive:
            while True:
                with archive_errors(progress):
                    member = archive.next()
                tar_stream.end_headers()
                if member is None:
                    break
                entry = tree.admit(member)
                progress.last_entry = member.name
                if entry is not None:
                    _write_entry(archive, member, entry, writer, tree, progress)
                tar_stream.start_headers()
        with archive_errors(progress):
            tar_stream.finish()
        tree.check_symlinks()
        writer.sync_folders(tree.folders)
    return ExtractReport(
        files=tree.files, directories=tree.directories, symlinks=tree.symlinks, bytes=tree.bytes
    )


def _write_entry(
    archive: tarfile.TarFile,
    member: tarfile.TarInfo,
    entry: Entry,
    writer: Writer,
    tree: Tree,
    progress: Progress,
) -> None:
    if entry.kind is Kind.DIR:
        writer.make_dir(entry)
        return
    if entry.kind is Kind.SYMLINK:
        writer.make_symlink(entry)
        return
    with archive_errors(progress):
        data = archive.extractfile(member)
    if data is None:  # tarfile gives no data only for non-files, which admit() ruled out
        raise progress.invalid(f"no data for the file {label(member.name)}")
    _copy(data, entry, writer, tree, progress)


def _copy(
    data: IO[bytes],
    entry: Entry,
    writer: Writer,
    tree: Tree,
    progress: Progress,
) -> None:
    with writer.new_file(entry) as fd:
        copied = 0
        while True:
            with archive_errors(progress):
                chunk = data.read(CHUNK)
            if not chunk:
                break
            copied += len(chunk)
            # tree.bytes already includes the declared size of this file.
            if copied > entry.size:
                raise unsafe(entry.name, f"holds more than its declared {entry.size} bytes")
            tree.check_written(entry.name, tree.bytes - entry.size + copied)
            writer.write(entry, fd, chunk)
        if copied != entry.size:
            raise progress.invalid(f"file {label(entry.name)} is shorter than its declared size")
        writer.finish_file(entry, fd)
