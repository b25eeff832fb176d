"""Bind sources checked again at start: each way of swapping the folder under
a prepared sandbox is named."""

from __future__ import annotations

import os
from pathlib import Path

from mppoci.sandbox.binds import BoundFolder, changed


def _bound(path: Path) -> BoundFolder:
    st = os.lstat(path)
    return BoundFolder(str(path), str(path), st.st_dev, st.st_ino, "filesystem data")


def test_an_untouched_folder_may_start(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    assert changed([_bound(tmp_path / "data")], protected=[]) is None


def test_folder_swapped_for_a_symlink_to_etc_is_named_and_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    bound = _bound(data)
    data.rename(tmp_path / "before")
    data.symlink_to("/etc")
    why = changed([bound], protected=[])
    assert why == f"filesystem data: {data} now leads to /etc (it is in /etc, a system folder)"


def test_folder_swapped_for_a_symlink_to_mppocis_state_is_refused(tmp_path: Path) -> None:
    data, state = tmp_path / "data", tmp_path / "home" / "state"
    data.mkdir()
    state.mkdir(parents=True)
    bound = _bound(data)
    data.rmdir()
    data.symlink_to(state)
    why = changed([bound], protected=[str(state)])
    assert why is not None and "mppoci's own folder" in why


def test_folder_replaced_by_another_real_folder_is_refused(tmp_path: Path) -> None:
    data, other = tmp_path / "data", tmp_path / "other"
    data.mkdir()
    other.mkdir()
    bound = _bound(data)
    data.rmdir()
    other.rename(data)  # same path, no symlink: only the inode tells
    assert changed([bound], protected=[]) == (
        f"filesystem data: {data} was replaced by another file or folder"
    )


def test_removed_folder_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    bound = _bound(data)
    data.rmdir()
    assert changed([bound], protected=[]) == f"filesystem data: {data} no longer exists"


def test_mppocis_own_folder_under_a_symlinked_home_may_start(tmp_path: Path) -> None:
    (tmp_path / "real-home").mkdir()
    (tmp_path / "home").symlink_to(tmp_path / "real-home")
    content = tmp_path / "home" / "pkg"
    content.mkdir()
    st = os.stat(content)
    bound = BoundFolder(
        str(content), str(tmp_path / "real-home" / "pkg"), st.st_dev, st.st_ino, "package content"
    )
    assert changed([bound], protected=[]) is None
