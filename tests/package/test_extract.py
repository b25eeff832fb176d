"""Safe extraction of package content: every attack refused, naming the entry,
leaving nothing behind; ordinary archives unpacked with normalised modes.

Hostile inputs are files under tests/assets/hostile (see make_hostile.py there).
"""

from __future__ import annotations

import errno
import gzip
import io
import os
import stat
import tarfile
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mppoci.errors import (
    Error,
    LimitExceededError,
    StoreError,
    UnsafeArchiveError,
    UserInputError,
)
from mppoci.limits import DEFAULT_LIMITS, KiB, Limits, MiB
from mppoci.package import extract_rules, extract_writer
from mppoci.package.extract import ExtractReport, extract_content

HOSTILE = Path(__file__).resolve().parents[1] / "assets" / "hostile"


# --- helpers -------------------------------------------------------------------------------------


def _snapshot(root: Path) -> dict[str, tuple[str, bytes]]:
    """Everything under root, without following symlinks: kind and content."""
    seen: dict[str, tuple[str, bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                seen[rel] = ("link", os.readlink(path).encode())
            elif path.is_dir():
                seen[rel] = ("dir", b"")
            else:
                seen[rel] = ("file", path.read_bytes())
    return seen


class Scene:
    """tmp/outside holds a sentinel file an attack would love to overwrite;
    tmp/work is where the target folder tmp/work/pkg would appear."""

    def __init__(self, tmp: Path) -> None:
        self.outside = tmp / "outside"
        self.outside.mkdir()
        (self.outside / "keep").write_text("sentinel\n")
        self.work = tmp / "work"
        self.work.mkdir()
        self.target = self.work / "pkg"
        self.tmp = tmp
        self.before = _snapshot(tmp)

    def assert_untouched(self) -> None:
        assert _snapshot(self.tmp) == self.before
        assert not self.target.exists() and not self.target.is_symlink()
        assert list(self.work.iterdir()) == []  # no temporary sibling left


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    return Scene(tmp_path)


def refused(
    scene: Scene,
    asset: str,
    error: type[Error],
    *,
    names: str,
    limits: Limits = DEFAULT_LIMITS,
) -> Error:
    """Extract a hostile asset; check the error, that its message names
    ``names``, and that nothing was written anywhere."""
    with (HOSTILE / asset).open("rb") as stream, pytest.raises(error) as caught:
        extract_content(stream, scene.target, limits=limits)
    problem = caught.value
    assert names in problem.message, problem.message
    assert problem.hint
    scene.assert_untouched()
    return problem


def make_tar(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def member(
    name: str,
    data: bytes | None = None,
    *,
    type: bytes = tarfile.REGTYPE,
    mode: int = 0o644,
    link: str = "",
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = type
    info.mode = mode
    info.linkname = link
    if data is not None:
        info.size = len(data)
    return info, data


def normal_tar() -> bytes:
    return make_tar(
        member("bin", type=tarfile.DIRTYPE, mode=0o777),
        member("bin/tool", b"#!/bin/sh\necho hi\n", mode=0o700),
        member("bin/lib", type=tarfile.SYMTYPE, link="../lib", mode=0o777),
        member("lib", type=tarfile.DIRTYPE, mode=0o1777),
        member("lib/data.txt", b"data\n" * 1000, mode=0o664),
        member("lib/current", type=tarfile.SYMTYPE, link="data.txt", mode=0o777),
        # No entries for share/ and share/doc/: they are created implicitly.
        member("share/doc/readme.md", b"# readme\n", mode=0o600),
        member("share/doc/" + "long-name-" * 20 + ".txt", b"pax header\n"),
        member("share/doc/résumé.txt", b"non-ascii name\n"),
    )


NORMAL_BYTES = len(b"#!/bin/sh\necho hi\n") + 5000 + len(b"# readme\n") + 11 + 15


def check_normal_tree(target: Path, report: ExtractReport) -> None:
    assert report == ExtractReport(files=5, directories=4, symlinks=2, bytes=NORMAL_BYTES)
    assert (target / "bin" / "tool").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert (target / "lib" / "data.txt").read_bytes() == b"data\n" * 1000
    assert (target / "share" / "doc" / "readme.md").read_bytes() == b"# readme\n"
    assert (target / "share" / "doc" / ("long-name-" * 20 + ".txt")).read_bytes() == b"pax header\n"
    assert (target / "share" / "doc" / "résumé.txt").read_bytes() == b"non-ascii name\n"
    assert os.readlink(target / "lib" / "current") == "data.txt"
    assert os.readlink(target / "bin" / "lib") == "../lib"
    assert (target / "bin" / "lib" / "data.txt").read_bytes() == b"data\n" * 1000

    def mode(*parts: str) -> int:
        return stat.S_IMODE(os.lstat(target.joinpath(*parts)).st_mode)

    assert mode() == 0o755
    assert mode("bin") == 0o755  # was 0777
    assert mode("lib") == 0o755  # was 1777: no sticky bit, no world write
    assert mode("share") == mode("share", "doc") == 0o755  # implicit folders
    assert mode("bin", "tool") == 0o755  # was 0700: any exec bit means 0755
    assert mode("lib", "data.txt") == 0o644  # was 0664
    assert mode("share", "doc", "readme.md") == 0o644  # was 0600


# --- ordinary archives ---------------------------------------------------------------------------


def test_normal_archive_is_extracted_with_safe_modes(scene: Scene) -> None:
    stream = io.BytesIO(gzip.compress(normal_tar(), mtime=0))
    report = extract_content(stream, scene.target)
    check_normal_tree(scene.target, report)
    assert sorted(p.name for p in scene.work.iterdir()) == ["pkg"]


def test_uncompressed_archive_is_extracted(scene: Scene) -> None:
    report = extract_content(io.BytesIO(normal_tar()), scene.target, compressed=False)
    check_normal_tree(scene.target, report)


def test_modes_do_not_depend_on_the_umask(scene: Scene) -> None:
    old = os.umask(0o077)
    try:
        report = extract_content(io.BytesIO(normal_tar()), scene.target, compressed=False)
    finally:
        os.umask(old)
    check_normal_tree(scene.target, report)


def test_gnu_tar_style_dot_slash_names_are_accepted(scene: Scene) -> None:
    data = make_tar(
        member("./", type=tarfile.DIRTYPE),
        member("./a", type=tarfile.DIRTYPE),
        member("./a/b.txt", b"b\n"),
    )
    report = extract_content(io.BytesIO(data), scene.target, compressed=False)
    assert report == ExtractReport(files=1, directories=1, symlinks=0, bytes=2)
    assert (scene.target / "a" / "b.txt").read_bytes() == b"b\n"


def test_gnu_format_long_names_are_accepted(scene: Scene) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as archive:
        info, data = member("d/" + "n" * 150, b"gnu longname\n")
        archive.addfile(info, io.BytesIO(data or b""))
        info, _ = member("d/l" + "k" * 150, type=tarfile.SYMTYPE, link="n" * 150)
        archive.addfile(info)
    extract_content(io.BytesIO(out.getvalue()), scene.target, compressed=False)
    assert (scene.target / "d" / ("l" + "k" * 150)).read_bytes() == b"gnu longname\n"


def test_empty_archive_gives_an_empty_folder(scene: Scene) -> None:
    report = extract_content(io.BytesIO(gzip.compress(make_tar())), scene.target)
    assert report == ExtractReport(files=0, directories=0, symlinks=0, bytes=0)
    assert list(scene.target.iterdir()) == []


def test_content_written_by_the_package_builder_round_trips(scene: Scene, tmp_path: Path) -> None:
    from mppoci.package import content

    source = tmp_path / "source"
    (source / "lib").mkdir(parents=True)
    (source / "run.sh").write_text("#!/bin/sh\n")
    (source / "run.sh").chmod(0o755)
    (source / "lib" / "words.txt").write_text("a b c\n")
    layer = io.BytesIO()
    content.write_content(content.collect_sources(source), layer)
    layer.seek(0)
    report = extract_content(layer, scene.target)
    assert report.files == 2
    assert (scene.target / "lib" / "words.txt").read_text() == "a b c\n"
    assert stat.S_IMODE((scene.target / "run.sh").stat().st_mode) == 0o755


# --- path attacks --------------------------------------------------------------------------------


def test_parent_traversal_is_refused(scene: Scene) -> None:
    refused(scene, "parent_traversal.tar.gz", UnsafeArchiveError, names="'../evil'")


def test_nested_parent_traversal_is_refused(scene: Scene) -> None:
    refused(scene, "nested_traversal.tar.gz", UnsafeArchiveError, names="'a/../../evil'")


def test_absolute_path_is_refused(scene: Scene) -> None:
    refused(scene, "absolute_path.tar.gz", UnsafeArchiveError, names="'/etc/evil'")
    assert not Path("/etc/evil").exists()


def test_empty_name_is_refused(scene: Scene) -> None:
    refused(scene, "empty_name.tar.gz", UnsafeArchiveError, names="archive entry ''")


def test_nul_byte_in_name_is_refused(scene: Scene) -> None:
    refused(scene, "nul_in_name.tar.gz", UnsafeArchiveError, names="'a\\x00b'")


def test_name_that_is_not_utf8_is_refused(scene: Scene) -> None:
    refused(scene, "non_utf8_name.tar.gz", UnsafeArchiveError, names="'\\\\xff\\\\xfe'")


def test_path_longer_than_the_limit_is_refused(scene: Scene) -> None:
    problem = refused(scene, "path_too_long.tar.gz", UnsafeArchiveError, names="'xxxxxxxx")
    assert "limits.path_bytes" in problem.message
    assert "[...]" in problem.message and "y/f'" in problem.message  # shortened, still named


def test_path_deeper_than_the_limit_is_refused(scene: Scene) -> None:
    problem = refused(scene, "path_too_deep.tar.gz", UnsafeArchiveError, names="'a/a/a/a/")
    assert "limits.path_depth" in problem.message


# --- link attacks --------------------------------------------------------------------------------


def test_symlink_escaping_the_folder_is_refused(scene: Scene) -> None:
    refused(scene, "escaping_symlink.tar.gz", UnsafeArchiveError, names="'link'")


def test_absolute_symlink_is_refused(scene: Scene) -> None:
    refused(scene, "absolute_symlink.tar.gz", UnsafeArchiveError, names="'link'")


def test_symlink_to_the_parent_folder_is_refused(scene: Scene) -> None:
    refused(scene, "symlink_to_parent.tar.gz", UnsafeArchiveError, names="'d'")


def test_write_through_an_earlier_symlink_is_refused(scene: Scene) -> None:
    problem = refused(scene, "write_through_symlink.tar.gz", UnsafeArchiveError, names="'d/evil'")
    assert "symlink 'd'" in problem.message


def test_symlink_escaping_through_another_symlink_is_refused(scene: Scene) -> None:
    refused(scene, "symlink_through_symlink.tar.gz", UnsafeArchiveError, names="'x/y/l'")


def test_symlink_redirected_by_a_later_symlink_is_refused(scene: Scene) -> None:
    refused(scene, "symlink_through_later_symlink.tar.gz", UnsafeArchiveError, names="'l'")


@pytest.mark.parametrize(
    "asset", ["symlink_self_loop.tar.gz", "symlink_loop.tar.gz", "symlink_loop_in_path.tar.gz"]
)
def test_symlink_loop_is_refused_as_a_loop(scene: Scene, asset: str) -> None:
    problem = refused(scene, asset, UnsafeArchiveError, names="'a'")
    assert "a loop" in problem.message
    assert "points outside" not in problem.message


def test_a_chain_longer_than_the_system_follows_is_refused(scene: Scene) -> None:
    # l0 -> l1 -> ... -> l41 -> f: 42 hops, two more than Linux's SYMLOOP_MAX.
    chain = [member(f"l{i}", type=tarfile.SYMTYPE, link=f"l{i + 1}") for i in range(41)]
    data = make_tar(member("f", b"end\n"), *chain, member("l41", type=tarfile.SYMTYPE, link="f"))
    with pytest.raises(UnsafeArchiveError, match="more than 40 symlinks") as caught:
        extract_content(io.BytesIO(data), scene.target, compressed=False)
    assert "'l0'" in caught.value.message
    scene.assert_untouched()


def test_a_chain_of_symlinks_ending_at_a_file_is_accepted(scene: Scene) -> None:
    data = make_tar(
        member("c", b"end\n"),
        member("a", type=tarfile.SYMTYPE, link="b"),
        member("b", type=tarfile.SYMTYPE, link="c"),
    )
    report = extract_content(io.BytesIO(data), scene.target, compressed=False)
    assert report.symlinks == 2
    assert (scene.target / "a").read_bytes() == b"end\n"


def test_hard_link_is_refused(scene: Scene) -> None:
    refused(scene, "hard_link.tar.gz", UnsafeArchiveError, names="'b'")


# --- entry types and modes -----------------------------------------------------------------------


def test_character_device_is_refused(scene: Scene) -> None:
    refused(scene, "char_device.tar.gz", UnsafeArchiveError, names="'null'")


def test_block_device_is_refused(scene: Scene) -> None:
    refused(scene, "block_device.tar.gz", UnsafeArchiveError, names="'sda'")


def test_fifo_is_refused(scene: Scene) -> None:
    refused(scene, "fifo.tar.gz", UnsafeArchiveError, names="'pipe'")


def test_unknown_entry_type_is_refused(scene: Scene) -> None:
    refused(scene, "unknown_entry_type.tar.gz", UnsafeArchiveError, names="'odd'")


def test_setuid_file_is_refused_not_cleared(scene: Scene) -> None:
    problem = refused(scene, "setuid_file.tar.gz", UnsafeArchiveError, names="'tool'")
    assert "4755" in problem.message


def test_setgid_file_is_refused_not_cleared(scene: Scene) -> None:
    problem = refused(scene, "setgid_file.tar.gz", UnsafeArchiveError, names="'tool'")
    assert "2755" in problem.message


def test_duplicate_entry_is_refused(scene: Scene) -> None:
    refused(scene, "duplicate_entry.tar.gz", UnsafeArchiveError, names="'a'")


def test_file_over_a_directory_is_refused(scene: Scene) -> None:
    problem = refused(scene, "file_over_directory.tar.gz", UnsafeArchiveError, names="'a'")
    assert "replace a folder" in problem.message


def test_entry_below_a_file_is_refused(scene: Scene) -> None:
    refused(scene, "file_as_parent.tar.gz", UnsafeArchiveError, names="'a/x'")


# --- size and count caps -------------------------------------------------------------------------


def test_zip_bomb_is_stopped_at_the_unpacked_size_limit(scene: Scene) -> None:
    problem = refused(
        scene,
        "zip_bomb.tar.gz",
        LimitExceededError,
        names="'bomb/2'",
        limits=Limits(unpacked_bytes=1 * MiB),
    )
    assert "limits.unpacked_bytes" in problem.message


def test_huge_declared_size_is_refused_before_reading(scene: Scene) -> None:
    problem = refused(scene, "huge_declared_size.tar.gz", LimitExceededError, names="'huge.bin'")
    assert "10737418240" in problem.message


def test_too_many_files_are_refused(scene: Scene) -> None:
    problem = refused(
        scene, "too_many_files.tar.gz", LimitExceededError, names="'f10'", limits=Limits(files=10)
    )
    assert "limits.files" in problem.message


def test_layer_larger_than_the_compressed_limit_is_refused(scene: Scene) -> None:
    data = gzip.compress(normal_tar(), mtime=0)
    with pytest.raises(LimitExceededError) as caught:
        extract_content(io.BytesIO(data), scene.target, limits=Limits(layer_bytes=len(data) - 1))
    assert "limits.layer_bytes" in caught.value.message
    scene.assert_untouched()


def test_layer_exactly_at_the_compressed_limit_is_accepted(scene: Scene) -> None:
    data = gzip.compress(normal_tar(), mtime=0)
    extract_content(io.BytesIO(data), scene.target, limits=Limits(layer_bytes=len(data)))


def test_oversized_entry_header_is_refused(scene: Scene) -> None:
    refused(scene, "oversized_header.tar.gz", LimitExceededError, names="'before.txt'")


def test_pax_header_digit_run_redos_is_refused_quickly(scene: Scene) -> None:
    started = time.monotonic()
    problem = refused(scene, "pax_digit_run.tar.gz", UnsafeArchiveError, names="'before.txt'")
    assert "digits" in problem.message
    assert time.monotonic() - started < 2


def test_lying_declared_size_is_caught_by_counting_written_bytes(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The declared-size check normally fires first; disable it to prove the
    # second line of defence (counting bytes actually written) holds alone.
    data = make_tar(member("a", bytes(600 * KiB)), member("b", bytes(600 * KiB)))
    admit = extract_rules.Tree.admit

    def admit_with_a_lenient_size_check(
        tree: extract_rules.Tree, m: tarfile.TarInfo
    ) -> extract_rules.Entry | None:
        strict = tree._limits
        tree._limits = Limits(unpacked_bytes=10 * MiB)
        try:
            return admit(tree, m)
        finally:
            tree._limits = strict

    monkeypatch.setattr(extract_rules.Tree, "admit", admit_with_a_lenient_size_check)
    with pytest.raises(LimitExceededError) as caught:
        extract_content(
            io.BytesIO(data), scene.target, limits=Limits(unpacked_bytes=1 * MiB), compressed=False
        )
    assert "'b'" in caught.value.message
    scene.assert_untouched()


# --- broken archives -----------------------------------------------------------------------------


def test_corrupt_gzip_is_refused(scene: Scene) -> None:
    refused(scene, "corrupt_gzip.tar.gz", UnsafeArchiveError, names="not a valid tar+gzip archive")


def test_truncated_gzip_is_refused(scene: Scene) -> None:
    refused(scene, "truncated_gzip.tar.gz", UnsafeArchiveError, names="not a valid tar+gzip")


def test_truncated_tar_is_refused(scene: Scene) -> None:
    refused(scene, "truncated_tar.tar.gz", UnsafeArchiveError, names="'file.txt'")


def test_tar_without_end_marker_is_refused(scene: Scene) -> None:
    # tarfile itself accepts this silently: a truncation on an entry boundary.
    problem = refused(scene, "missing_end_marker.tar.gz", UnsafeArchiveError, names="'file.txt'")
    assert "end-of-archive" in problem.message


def test_damaged_header_after_an_entry_is_refused(scene: Scene) -> None:
    # tarfile itself stops silently at a bad header after the first entry.
    refused(scene, "damaged_header.tar.gz", UnsafeArchiveError, names="'file.txt'")


def test_data_after_the_gzip_stream_is_refused(scene: Scene) -> None:
    data = gzip.compress(normal_tar(), mtime=0) + b"trailing"
    with pytest.raises(UnsafeArchiveError, match="after the end of the gzip stream"):
        extract_content(io.BytesIO(data), scene.target)
    scene.assert_untouched()


def test_data_after_the_end_of_archive_marker_is_refused(scene: Scene) -> None:
    data = gzip.compress(normal_tar() + b"smuggled" + bytes(504), mtime=0)
    with pytest.raises(UnsafeArchiveError, match="after the end-of-archive marker"):
        extract_content(io.BytesIO(data), scene.target)
    scene.assert_untouched()


# --- the target folder and the disk --------------------------------------------------------------


def test_existing_target_is_refused(scene: Scene) -> None:
    scene.target.mkdir()
    with pytest.raises(UserInputError, match="already exists"):
        extract_content(io.BytesIO(gzip.compress(normal_tar())), scene.target)
    assert list(scene.target.iterdir()) == []


def test_missing_parent_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="does not exist"):
        extract_content(io.BytesIO(gzip.compress(normal_tar())), tmp_path / "no" / "pkg")


def test_disk_full_becomes_a_store_error_and_leaves_nothing(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FullDiskOs:
        """The os module as extract_writer.py sees it, on a disk with no space left."""

        def __getattr__(self, name: str) -> object:
            return getattr(os, name)

        def write(self, fd: int, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(extract_writer, "os", FullDiskOs())
    with pytest.raises(StoreError) as caught:
        extract_content(io.BytesIO(gzip.compress(normal_tar())), scene.target)
    assert "'bin/tool'" in caught.value.message
    assert caught.value.hint is not None and "disk" in caught.value.hint
    scene.assert_untouched()


def test_unreadable_stream_becomes_a_store_error(scene: Scene) -> None:
    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, _: object) -> int:
            raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(StoreError, match="cannot read the package content"):
        extract_content(Broken(), scene.target)  # type: ignore[arg-type]
    scene.assert_untouched()


def test_interrupted_extraction_leaves_nothing(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(extract_writer.Writer, "make_symlink", interrupt)
    with pytest.raises(KeyboardInterrupt):
        extract_content(io.BytesIO(gzip.compress(normal_tar())), scene.target)
    scene.assert_untouched()


# --- arbitrary input -----------------------------------------------------------------------------


def _only_our_errors(data: bytes, *, compressed: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "pkg"
        try:
            extract_content(io.BytesIO(data), target, compressed=compressed)
        except Error:
            assert not target.exists()
        assert [p.name for p in Path(tmp).iterdir()] in ([], ["pkg"])


@pytest.mark.fuzz
@given(data=st.binary(max_size=4096), compressed=st.booleans())
def test_arbitrary_bytes_raise_only_mppoci_errors(data: bytes, compressed: bool) -> None:
    _only_our_errors(data, compressed=compressed)


_VALID = normal_tar()


@pytest.mark.fuzz
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8
    ),
    cut=st.integers(0, len(_VALID)),
)
def test_damaged_valid_archives_raise_only_mppoci_errors(
    edits: list[tuple[int, int]], cut: int
) -> None:
    damaged = bytearray(_VALID)
    for position, value in edits:
        damaged[position] = value
    _only_our_errors(bytes(damaged[:cut]), compressed=False)
    _only_our_errors(gzip.compress(bytes(damaged), mtime=0), compressed=True)
