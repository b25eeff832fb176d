"""Generate the hostile archives next to this script, deterministically.

Run it again after changing it (``python tests/assets/hostile/make_hostile.py``);
the output is committed so that tests read the exact bytes an attacker would
send. Every tar has mtime 0, uid/gid 0 and no owner names; every gzip has
mtime 0 and no file name. Each file stays well under 64 KiB.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


def entry(
    name: str,
    data: bytes | None = None,
    *,
    type: bytes = tarfile.REGTYPE,
    mode: int = 0o644,
    link: str = "",
    pax: dict[str, str] | None = None,
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = type
    info.mode = mode
    info.linkname = link
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if type in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = (1, 3) if type == tarfile.CHRTYPE else (8, 0)
    if pax:
        info.pax_headers = dict(pax)
    if data is not None:
        info.size = len(data)
    return info, data


def directory(name: str, mode: int = 0o755) -> tuple[tarfile.TarInfo, bytes | None]:
    return entry(name, type=tarfile.DIRTYPE, mode=mode)


def symlink(name: str, link: str) -> tuple[tarfile.TarInfo, bytes | None]:
    return entry(name, type=tarfile.SYMTYPE, mode=0o777, link=link)


def tar(
    *entries: tuple[tarfile.TarInfo, bytes | None],
    format: int = tarfile.PAX_FORMAT,
    encoding: str = "utf-8",
) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=format, encoding=encoding) as archive:
        for info, data in entries:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def gnu_header(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape")


def _one_file() -> bytes:
    return tar(entry("file.txt", b"hello\n" * 400))


def corrupt_gzip() -> bytes:
    data = bytearray(gz(_one_file()))
    middle = len(data) // 2
    for i in range(middle, middle + 8):
        data[i] ^= 0xFF
    return bytes(data)


def truncated_tar() -> bytes:
    whole = tar(entry("file.txt", bytes(range(256)) * 8))
    return gz(whole[: 512 + 1000])  # the header and half of the data


def truncated_gzip() -> bytes:
    whole = gz(_one_file())
    return whole[: len(whole) // 2]


def missing_end_marker() -> bytes:
    whole = tar(entry("file.txt", b"complete member\n"))
    return gz(whole[: 2 * 512])  # one header, one data block, then nothing


def damaged_header() -> bytes:
    whole = tar(entry("file.txt", b"complete member\n"))
    garbage = bytes((i * 7 + 1) % 256 or 1 for i in range(512))
    return gz(whole[: 2 * 512] + garbage + bytes(2 * 512))


def huge_declared_size() -> bytes:
    info, _ = entry("huge.bin")
    info.size = 10 * GiB  # needs GNU base-256 in the size field
    return gz(gnu_header(info) + b"\x00" * 512)


ASSETS: dict[str, Callable[[], bytes]] = {
    "parent_traversal.tar.gz": lambda: gz(tar(entry("../evil", b"evil\n"))),
    "nested_traversal.tar.gz": lambda: gz(tar(directory("a"), entry("a/../../evil", b"evil\n"))),
    "absolute_path.tar.gz": lambda: gz(tar(entry("/etc/evil", b"evil\n"))),
    "escaping_symlink.tar.gz": lambda: gz(
        tar(symlink("link", "../../outside"), entry("link/evil", b"evil\n"))
    ),
    "absolute_symlink.tar.gz": lambda: gz(tar(symlink("link", "/etc"), entry("link/evil", b"e\n"))),
    "symlink_to_parent.tar.gz": lambda: gz(tar(symlink("d", ".."), entry("d/evil", b"evil\n"))),
    "write_through_symlink.tar.gz": lambda: gz(
        tar(directory("sub"), symlink("d", "sub"), entry("d/evil", b"evil\n"))
    ),
    # Lexically inside, but d is "." at the top, so physically d/.. is above it.
    "symlink_through_symlink.tar.gz": lambda: gz(
        tar(symlink("d", "."), directory("x"), directory("x/y"), symlink("x/y/l", "../../d/.."))
    ),
    # The same trick with the order reversed: l looks harmless until d appears.
    "symlink_through_later_symlink.tar.gz": lambda: gz(
        tar(symlink("l", "d/.."), symlink("d", "."))
    ),
    # Loops lead nowhere (the system answers ELOOP), so they are refused as malformed:
    # a link to itself, two links to each other, and a loop in the middle of a path.
    "symlink_self_loop.tar.gz": lambda: gz(tar(symlink("a", "a"))),
    "symlink_loop.tar.gz": lambda: gz(tar(symlink("a", "b"), symlink("b", "a"))),
    "symlink_loop_in_path.tar.gz": lambda: gz(tar(symlink("a", "a/x"))),
    "hard_link.tar.gz": lambda: gz(
        tar(entry("a", b"a\n"), entry("b", type=tarfile.LNKTYPE, link="a"))
    ),
    "char_device.tar.gz": lambda: gz(tar(entry("null", type=tarfile.CHRTYPE))),
    "block_device.tar.gz": lambda: gz(tar(entry("sda", type=tarfile.BLKTYPE))),
    "fifo.tar.gz": lambda: gz(tar(entry("pipe", type=tarfile.FIFOTYPE))),
    "unknown_entry_type.tar.gz": lambda: gz(tar(entry("odd", b"data", type=b"Z"))),
    "setuid_file.tar.gz": lambda: gz(tar(entry("tool", b"#!/bin/sh\n", mode=0o4755))),
    "setgid_file.tar.gz": lambda: gz(tar(entry("tool", b"#!/bin/sh\n", mode=0o2755))),
    "duplicate_entry.tar.gz": lambda: gz(tar(entry("a", b"first\n"), entry("a", b"second\n"))),
    "file_over_directory.tar.gz": lambda: gz(
        tar(directory("a"), entry("a/x", b"x\n"), entry("a", b"file\n"))
    ),
    "file_as_parent.tar.gz": lambda: gz(tar(entry("a", b"file\n"), entry("a/x", b"x\n"))),
    # 4 MiB of zeros in 8 files of 512 KiB: each is small, together they are not.
    "zip_bomb.tar.gz": lambda: gz(tar(*(entry(f"bomb/{i}", bytes(512 * KiB)) for i in range(8)))),
    "huge_declared_size.tar.gz": huge_declared_size,
    "too_many_files.tar.gz": lambda: gz(tar(*(entry(f"f{i:02}", b"") for i in range(20)))),
    "path_too_long.tar.gz": lambda: gz(tar(entry("x" * 99 + "/" + ("y" * 99 + "/") * 49 + "f"))),
    "path_too_deep.tar.gz": lambda: gz(tar(entry("a/" * 70 + "f", b"deep\n"))),
    "nul_in_name.tar.gz": lambda: gz(tar(entry("a", b"x", pax={"path": "a\x00b"}))),
    "empty_name.tar.gz": lambda: gz(tar(entry("", b"nameless\n"))),
    "non_utf8_name.tar.gz": lambda: gz(
        tar(entry("\xff\xfe", b"x"), format=tarfile.GNU_FORMAT, encoding="latin-1")
    ),
    # CVE-2024-6232: Python < 3.11.10 parses this pax header in quadratic time.
    "pax_digit_run.tar.gz": lambda: gz(
        tar(entry("before.txt", b"ok\n"), entry("a", b"x", pax={"comment": "1" * 20_000}))
    ),
    # tarfile would read the whole pax header into memory, however large.
    "oversized_header.tar.gz": lambda: gz(
        tar(entry("before.txt", b"ok\n"), entry("a", b"x", pax={"comment": "a" * 100_000}))
    ),
    "corrupt_gzip.tar.gz": corrupt_gzip,
    "truncated_tar.tar.gz": truncated_tar,
    "truncated_gzip.tar.gz": truncated_gzip,
    "missing_end_marker.tar.gz": missing_end_marker,
    "damaged_header.tar.gz": damaged_header,
}


def main() -> None:
    for name, make in ASSETS.items():
        data = make()
        assert len(data) < 64 * KiB, (name, len(data))
        (HERE / name).write_bytes(data)
    # The corruption must really be corrupt, or the test proves nothing.
    try:
        gzip.decompress((HERE / "corrupt_gzip.tar.gz").read_bytes())
    except (OSError, EOFError, zlib.error):
        pass
    else:
        raise SystemExit("corrupt_gzip.tar.gz decompresses cleanly; corrupt it differently")


if __name__ == "__main__":
    main()
