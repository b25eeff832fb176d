"""Structure-aware fuzzing of the one extractor: archives built entry by entry
with hostile names, types, modes, sizes, link targets and pax records, then
header fields rewritten (with a correct checksum, so tarfile reads them), and
gzip framings that lie. Whatever comes in, extraction either produces a
folder that holds only what the archive declared, inside the target, or
raises our error and leaves nothing behind."""

from __future__ import annotations

import gzip
import io
import os
import struct
import tarfile
import tempfile
import zlib
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from mppoci.errors import Error
from mppoci.package.extract import extract_content

pytestmark = pytest.mark.fuzz

COMPONENTS = ["a", "b", "bin", ".", "..", "", "x" * 300, "é", "\udcff", "A", "a\\b", " ", "-"]
TYPES = [
    tarfile.REGTYPE,
    tarfile.AREGTYPE,
    tarfile.DIRTYPE,
    tarfile.SYMTYPE,
    tarfile.LNKTYPE,
    tarfile.CHRTYPE,
    tarfile.FIFOTYPE,
    tarfile.CONTTYPE,
    tarfile.GNUTYPE_SPARSE,
    b"Z",
]
LINKS = ["a", "../a", "/etc/passwd", "b/../../a", ".", "a/b", "", "x" * 5000, "bin/../a"]
PAX_KEYS = [
    "path",
    "linkpath",
    "size",
    "mtime",
    "uid",
    "GNU.sparse.map",
    "GNU.sparse.size",
    "GNU.sparse.major",
    "GNU.sparse.minor",
    "hdrcharset",
    "comment",
    "x",
]
PAX_VALUES = ["", "0", "-1", "1e9", "1" * 40, "a", "../a", "0,1,2", "BINARY", "/abs", "\udcff"]


@st.composite
def members(draw: st.DrawFn) -> tuple[tarfile.TarInfo, bytes]:
    name = "/".join(draw(st.lists(st.sampled_from(COMPONENTS), min_size=1, max_size=4)))
    if draw(st.booleans()):
        name = draw(st.sampled_from(["", "/", "./", "a/", "/a"])) + name
    info = tarfile.TarInfo(name)
    info.type = draw(st.sampled_from(TYPES))
    info.mode = draw(st.sampled_from([0o644, 0o755, 0o4755, 0o2755, 0o777, 0o1777, 0]))
    data = draw(st.binary(max_size=64)) if info.type in (tarfile.REGTYPE, tarfile.AREGTYPE) else b""
    info.size = len(data)
    if info.type in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        info.linkname = draw(st.sampled_from(LINKS))
    if draw(st.integers(0, 3)) == 0:
        info.pax_headers = draw(
            st.dictionaries(st.sampled_from(PAX_KEYS), st.sampled_from(PAX_VALUES), max_size=3)
        )
    return info, data


def _tar(entries: list[tuple[tarfile.TarInfo, bytes]], fmt: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(
        fileobj=out, mode="w", format=fmt, encoding="utf-8", errors="surrogateescape"
    ) as tar:
        for info, data in entries:
            try:
                tar.addfile(info, io.BytesIO(data))
            except (ValueError, UnicodeError, tarfile.TarError):
                continue  # the writer refuses it: not an archive we can make this way
    return out.getvalue()


# Offsets of ustar header fields: (offset, length).
FIELDS = {
    "name": (0, 100),
    "mode": (100, 8),
    "uid": (108, 8),
    "size": (124, 12),
    "mtime": (136, 12),
    "type": (156, 1),
    "linkname": (157, 100),
    "magic": (257, 8),
    "devmajor": (329, 8),
    "prefix": (345, 155),
}
FIELD_VALUES = [
    b"",
    b"\x00",
    b"0" * 11 + b"\x00",
    b"77777777777",
    b"\x80" + b"\xff" * 11,
    b"\xff" * 12,
    b"-1",
    b" 1 ",
    b"../../etc/x",
    b"ustar  \x00",
    b"ustar\x0000",
    b"7",
]


def _set_field(block: bytearray, field: str, value: bytes) -> None:
    offset, length = FIELDS[field]
    block[offset : offset + length] = value[:length].ljust(length, b"\x00")
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\x00 " % sum(block[:512])


@st.composite
def archives(draw: st.DrawFn) -> bytes:
    entries = draw(st.lists(members(), max_size=5))
    fmt = draw(st.sampled_from([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]))
    data = bytearray(_tar(entries, fmt))
    headers = [i for i in range(0, len(data) - 511, 512) if data[i + 257 : i + 262] == b"ustar"]
    for _ in range(draw(st.integers(0, 3))):
        if not headers:
            break
        at = draw(st.sampled_from(headers))
        block = bytearray(data[at : at + 512])
        _set_field(
            block, draw(st.sampled_from(sorted(FIELDS))), draw(st.sampled_from(FIELD_VALUES))
        )
        data[at : at + 512] = block
    cut = draw(st.sampled_from([None, None, None, 0, 1, 512, len(data) - 1, len(data) // 2]))
    return bytes(data if cut is None else data[:cut])


def _gzip_member(data: bytes, flags: int, extra: bytes) -> bytes:
    header = b"\x1f\x8b\x08" + bytes([flags]) + b"\x00\x00\x00\x00\x00\xff"
    if flags & 4:
        header += struct.pack("<H", len(extra)) + extra
    if flags & 8:
        header += b"name\x00"
    if flags & 16:
        header += b"comment\x00"
    if flags & 2:
        header += b"\x00\x00"
    body = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = body.compress(data) + body.flush()
    return header + deflated + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


@st.composite
def gzip_framings(draw: st.DrawFn, tar: bytes) -> bytes:
    choice = draw(st.integers(0, 6))
    if choice == 0:
        return gzip.compress(tar, mtime=0)
    if choice == 1:  # optional header fields, some with lengths that lie
        flags = draw(st.sampled_from([2, 4, 8, 16, 30, 32, 64, 128]))
        return _gzip_member(tar, flags, draw(st.binary(max_size=8)))
    if choice == 2:  # two members: content layers have one
        return gzip.compress(tar, mtime=0) + gzip.compress(b"\x00" * 1024, mtime=0)
    if choice == 3:  # a wrong CRC or length in the trailer
        good = bytearray(gzip.compress(tar, mtime=0))
        good[-draw(st.integers(1, 8))] ^= 0xFF
        return bytes(good)
    if choice == 4:  # trailing bytes
        return gzip.compress(tar, mtime=0) + draw(st.binary(min_size=1, max_size=16))
    if choice == 5:  # cut short
        good = gzip.compress(tar, mtime=0)
        return good[: draw(st.integers(0, len(good) - 1))]
    return zlib.compress(tar)  # zlib framing, not gzip


def _extract(data: bytes, *, compressed: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "pkg"
        try:
            report = extract_content(io.BytesIO(data), target, compressed=compressed)
        except Error as e:
            assert e.message
            event(f"refused: {type(e).__name__}")
            assert os.listdir(tmp) == []  # nothing half-extracted stays
            return
        event("extracted")
        assert os.listdir(tmp) == ["pkg"]
        files = dirs = links = size = 0
        for root, folders, names in os.walk(target):
            for name in folders + names:
                path = Path(root) / name
                if path.is_symlink():
                    links += 1
                    # Every symlink resolves inside the target.
                    assert path.resolve().is_relative_to(target.resolve())
                elif path.is_dir():
                    dirs += 1
                    assert path.stat().st_mode & 0o7777 == 0o755
                else:
                    assert path.is_file()
                    files += 1
                    size += path.stat().st_size
                    assert path.stat().st_mode & 0o7777 in (0o644, 0o755)
        assert (files, dirs, links, size) == (
            report.files,
            report.directories,
            report.symlinks,
            report.bytes,
        )


@given(archives())
def test_structured_tar_archives_extract_safely_or_raise_our_error(tar: bytes) -> None:
    _extract(tar, compressed=False)


@given(archives().flatmap(gzip_framings))
def test_gzip_framings_extract_safely_or_raise_our_error(layer: bytes) -> None:
    _extract(layer, compressed=True)


SAFE_NAMES = st.lists(
    st.text(alphabet="abcdefgh._-", min_size=1, max_size=8).filter(lambda n: n not in {".", ".."}),
    min_size=1,
    max_size=3,
).map("/".join)


@given(st.dictionaries(SAFE_NAMES, st.binary(max_size=100), max_size=6))
def test_plain_trees_round_trip(tree: dict[str, bytes]) -> None:
    # A name that is a folder of another name cannot also be a file.
    files = {n: d for n, d in tree.items() if not any(o.startswith(n + "/") for o in tree)}
    entries = []
    for name, data in sorted(files.items()):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        entries.append((info, data))
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "pkg"
        layer = gzip.compress(_tar(entries, tarfile.PAX_FORMAT), mtime=0)
        report = extract_content(io.BytesIO(layer), target)
        assert report.files == len(files)
        for name, data in files.items():
            assert (target / name).read_bytes() == data
