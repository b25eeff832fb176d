"""A cloned repository chooses what `mppoci.lock` in its folder is: whatever
it is, every command that reads the lock answers with an error naming the
file instead of hanging or running out of memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mppoci.digest import Digest
from mppoci.errors import LimitExceededError, UntrustedContentError
from mppoci.lockfile import Lock, Pin, add_pin, load_lock
from tests.conftest import run_mppoci

# Each command runs with a hang guard: a FIFO lock used to block forever.
GUARD = 60


def _resolve_in(folder: Path, home: Path) -> str:
    import subprocess

    from tests.conftest import MPPOCI

    result = subprocess.run(
        [str(MPPOCI), "verify", "acme/word-count"],
        capture_output=True,
        text=True,
        cwd=folder,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "MPPOCI_HOME": str(home)},
        timeout=GUARD,
        check=False,
    )
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return result.stderr


def test_lock_symlinked_to_dev_zero_is_refused_not_read(tmp_path: Path) -> None:
    (tmp_path / "mppoci.lock").symlink_to("/dev/zero")
    err = _resolve_in(tmp_path, tmp_path / "home")
    assert f"the lock file {tmp_path / 'mppoci.lock'} is not a regular file" in err


def test_lock_that_is_a_fifo_does_not_hang_a_command(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "mppoci.lock")
    err = _resolve_in(tmp_path, tmp_path / "home")
    assert "mppoci.lock is not a regular file" in err


def test_lock_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mppoci.lock").mkdir()
    err = _resolve_in(tmp_path, tmp_path / "home")
    assert "mppoci.lock is not a regular file" in err


def test_oversized_lock_is_refused_before_it_is_read(tmp_path: Path) -> None:
    with (tmp_path / "mppoci.lock").open("wb") as f:
        f.truncate(64 * 1024 * 1024)  # sparse: costs no disk
    err = _resolve_in(tmp_path, tmp_path / "home")
    assert "mppoci.lock is larger than 4 MiB" in err
    with pytest.raises(LimitExceededError):
        load_lock(tmp_path / "mppoci.lock")


def test_lock_symlinked_to_a_regular_lock_file_is_read(tmp_path: Path) -> None:
    # Sharing one lock across folders by a symlink stays possible.
    shared = tmp_path / "shared.lock"
    digest = Digest("sha256:" + "a" * 64)
    add_pin(shared, "acme/word-count:1.0.0", Pin(digest))
    (tmp_path / "mppoci.lock").symlink_to(shared)
    assert load_lock(tmp_path / "mppoci.lock").get("acme/word-count:1.0.0") == Pin(digest)
    assert load_lock(tmp_path / "absent.lock") == Lock()


def test_lock_refusal_is_untrusted_content_for_the_library(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "mppoci.lock")
    with pytest.raises(UntrustedContentError, match="not a regular file"):
        load_lock(tmp_path / "mppoci.lock")
    assert run_mppoci(tmp_path / "home", "approvals", "list", cwd=tmp_path).returncode == 0
