"""Crash-safe file primitives: atomic replace, directory fsync, advisory locks.

A crash (or SIGKILL) at any point leaves either the old file or the new one,
never a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from mppoci.errors import StoreError

T = TypeVar("T")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_FULL = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in _FULL


def disk_full(what: str, where: Path) -> StoreError:
    """A write the filesystem refused for lack of space, said with what to do."""
    return StoreError(
        f"the disk is full (no space left on device) while writing {what}; "
        "nothing partial was kept",
        hint=f"free some space on the filesystem that holds {where}, then try again",
    )


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same folder,
    fsync, rename over the old file, fsync the folder."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        if is_disk_full(e):
            raise disk_full(path.name, path.parent) from None
        raise
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if is_disk_full(e):
            raise disk_full(path.name, path.parent) from None
        raise
    fsync_dir(path.parent)


MAX_NAME_TRIES = 1000


def write_new(folder: Path, stem: str, suffix: str, data: bytes, *, mode: int = 0o600) -> Path:
    """Write ``data`` to a file that did not exist before, ``stem + suffix``
    in ``folder``, or ``stem-1 + suffix``, ``stem-2 + suffix``... when that
    name is taken (created with O_EXCL, so two writers never share one).
    Returns the path written; the file is complete (fsynced) when it
    returns, and removed again on failure.

    Raises:
        FileExistsError: :data:`MAX_NAME_TRIES` names were all taken.
    """
    for n in range(MAX_NAME_TRIES):
        path = folder / (f"{stem}{suffix}" if n == 0 else f"{stem}-{n}{suffix}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        except FileExistsError:
            continue
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException as e:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            if is_disk_full(e):
                raise disk_full(path.name, folder) from None
            raise
        fsync_dir(folder)
        return path
    raise FileExistsError(f"{folder / stem}{suffix} and {MAX_NAME_TRIES - 1} more names are taken")


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_path`` (created if missing).

    flock locks die with their process, so a killed writer never leaves the
    store locked."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_optional(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def locked_update(
    path: Path,
    parse: Callable[[bytes | None], T],
    serialise: Callable[[T], bytes],
    change: Callable[[T], T],
    *,
    mode: int = 0o644,
) -> T:
    """Read-modify-write a state file under an exclusive lock, atomically.

    Concurrent updates are serialised (none is lost); the file is only
    rewritten when ``change`` returns a different value."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with locked(path.with_name(path.name + ".lock")):
        before = parse(read_optional(path))
        after = change(before)
        if after != before:
            atomic_write(path, serialise(after), mode=mode)
    return after
