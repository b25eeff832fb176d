"""The extractor's writer into the target folder.

Entries are created below a private folder through file descriptors, never
following a symlink; the folder is published with one rename once everything
is in it, so a failure never leaves a half-extracted folder behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mppoci.errors import StoreError, UserInputError
from mppoci.package.extract_messages import label, unsafe
from mppoci.package.extract_rules import Entry

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@contextlib.contextmanager
def unpacking_into(target: Path) -> Iterator[Path]:
    """A new private folder beside the new folder ``target``, to unpack into;
    renamed to ``target`` when the ``with`` body succeeds, removed whatever
    went wrong otherwise.

    Raises:
        UserInputError: ``target`` already exists (or appeared meanwhile) or
            its parent folder does not.
        StoreError: the disk refused to create or move the folder.
    """
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
        yield tmp
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


@contextlib.contextmanager
def open_writer(root: Path) -> Iterator[Writer]:
    """A :class:`Writer` into the existing folder ``root``."""
    try:
        root_fd = os.open(root, _DIR_FLAGS)
    except OSError as e:
        raise _store_error(f"cannot open {root}", e) from e
    try:
        yield Writer(root_fd, root)
    finally:
        os.close(root_fd)


class Writer:
    """Creates entries below the root folder through file descriptors, never
    following a symlink, so that even a tree changed behind our back cannot
    redirect a write."""

    def __init__(self, root_fd: int, root: Path) -> None:
        self._root_fd = root_fd
        self._root = root

    def make_dir(self, entry: Entry) -> None:
        if entry.new_from == len(entry.parts):
            return  # created earlier as the parent of another entry
        with self._disk_errors(entry.name):
            os.close(self._open_folders(entry.parts, entry.new_from))

    def make_symlink(self, entry: Entry) -> None:
        with self._disk_errors(entry.name):
            parent = self._open_folders(entry.parts[:-1], entry.new_from)
            try:
                os.symlink(entry.link, entry.parts[-1], dir_fd=parent)
            finally:
                os.close(parent)

    @contextlib.contextmanager
    def new_file(self, entry: Entry) -> Iterator[int]:
        """Create the file of ``entry``; yield its descriptor, closed on exit."""
        with self._disk_errors(entry.name):
            parent = self._open_folders(entry.parts[:-1], entry.new_from)
            try:
                fd = os.open(entry.parts[-1], _NEW_FILE_FLAGS, 0o600, dir_fd=parent)
            finally:
                os.close(parent)
        try:
            yield fd
        finally:
            os.close(fd)

    def write(self, entry: Entry, fd: int, chunk: bytes) -> None:
        with self._disk_errors(entry.name):
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]

    def finish_file(self, entry: Entry, fd: int) -> None:
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
                raise unsafe(name, f"cannot be created: {e.strerror}") from e
            raise _store_error(
                f"cannot write archive entry {label(name)} into {self._root}", e
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
