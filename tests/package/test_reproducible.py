"""Builds are reproducible: the same sources give the same digest, whatever the
file mtimes, owners, umask, creation order or build time."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from mppoci.errors import UserInputError
from mppoci.manifest import RuntimeRef
from mppoci.package.artifact import build_into_store, preview
from mppoci.package.content import collect_sources, write_content
from mppoci.store import Store
from tests.conftest import write_package


def _no_resolve(ref: RuntimeRef) -> RuntimeRef:
    raise AssertionError("the sample manifest pins its runtime; nothing to resolve")


def _digest(folder: Path, epoch: int | None = None) -> str:
    return preview(folder, resolve_runtime=_no_resolve, source_date_epoch=epoch).digest


def _content_bytes(folder: Path, mtime: int = 0) -> bytes:
    buf = io.BytesIO()
    write_content(collect_sources(folder), buf, mtime=mtime)
    return buf.getvalue()


def test_same_tree_with_different_mtimes_owners_modes_and_order_gives_same_digest(
    tmp_path: Path,
) -> None:
    a = write_package(tmp_path / "a")
    # The second copy: files created in another order, under another umask,
    # with other owners and mtimes.
    b = tmp_path / "b"
    (b / "lib").mkdir(parents=True)
    old = os.umask(0o077)
    try:
        (b / "lib" / "words.txt").write_text("one two three\n")
        (b / "run.sh").write_text("#!/bin/sh\nwc -w\n")
        (b / "run.sh").chmod(0o700)
        shutil.copy(a / "mpp.yaml", b / "mpp.yaml")
    finally:
        os.umask(old)
    for path in [b, *b.rglob("*")]:
        os.utime(path, (1_000_000, 1_000_000))
        if os.geteuid() == 0:
            os.chown(path, 1234, 5678)
    assert _digest(a) == _digest(b)
    assert _content_bytes(a) == _content_bytes(b)


def test_two_builds_into_stores_give_the_same_digest(tmp_path: Path, package_dir: Path) -> None:
    first, _ = build_into_store(package_dir, Store(tmp_path / "s1"), resolve_runtime=_no_resolve)
    os.utime(package_dir / "run.sh", (2_000_000, 2_000_000))
    second, _ = build_into_store(package_dir, Store(tmp_path / "s2"), resolve_runtime=_no_resolve)
    assert first.digest == second.digest
    assert first.digest == _digest(package_dir)


def test_source_date_epoch_is_honoured(package_dir: Path) -> None:
    assert _digest(package_dir, 1_700_000_000) == _digest(package_dir, 1_700_000_000)
    assert _digest(package_dir, 1_700_000_000) != _digest(package_dir)
    with tarfile.open(fileobj=io.BytesIO(_content_bytes(package_dir, 1_700_000_000))) as tar:
        assert {m.mtime for m in tar.getmembers()} == {1_700_000_000}


def test_changed_content_changes_the_digest(package_dir: Path) -> None:
    before = _digest(package_dir)
    (package_dir / "lib" / "words.txt").write_text("one two three four\n")
    assert _digest(package_dir) != before


def test_content_archive_follows_the_conventions(package_dir: Path) -> None:
    data = _content_bytes(package_dir)
    # gzip header: magic, deflate, no flags (so no file name), mtime 0.
    assert data[:4] == b"\x1f\x8b\x08\x00"
    assert data[4:8] == b"\x00\x00\x00\x00"
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names) == ["lib", "lib/words.txt", "run.sh"]
    for m in members:
        assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", 0)
    modes = {m.name: m.mode for m in members}
    assert modes == {"lib": 0o755, "lib/words.txt": 0o644, "run.sh": 0o755}


def test_ignored_paths_are_not_packaged(package_dir: Path) -> None:
    (package_dir / ".git").mkdir()
    (package_dir / ".git" / "HEAD").write_text("ref: x\n")
    (package_dir / "__pycache__").mkdir()
    (package_dir / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    (package_dir / "notes.md").write_text("private\n")
    (package_dir / "secrets").mkdir()
    (package_dir / "secrets" / "key").write_text("k\n")
    (package_dir / ".mppignore").write_text("# not shipped\nnotes.md\nsecrets/\n")
    relpaths = [e.relpath for e in collect_sources(package_dir)]
    assert relpaths == ["lib", "lib/words.txt", "run.sh"]


def test_symlink_in_sources_is_refused_by_name(package_dir: Path) -> None:
    (package_dir / "escape").symlink_to("/etc/passwd")
    with pytest.raises(UserInputError, match="escape is a symbolic link"):
        collect_sources(package_dir)
