"""The content layer: a package's files as a reproducible tar+gzip.

Same sources, same bytes: entries sorted by path, mtime from
SOURCE_DATE_EPOCH (or 0), uid/gid 0, no user or group names, modes 0644/0755,
gzip header with mtime 0 and no file name, fixed compression level
(conventions: Artifact). Nothing about the machine, umask or clock leaks in.
"""

from __future__ import annotations

import fnmatch
import gzip
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mppoci.errors import LimitExceededError, UserInputError
from mppoci.limits import DEFAULT_LIMITS, Limits

MANIFEST_FILE = "mpp.yaml"
IGNORE_FILE = ".mppignore"
COMPRESS_LEVEL = 9

# Never part of a package: VCS folders, caches, virtualenvs. The manifest is
# not content either; it travels as the config blob.
_ALWAYS_IGNORED = (
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".venv",
    "*.pyc",
    "*.pyo",
)


class Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


@dataclass(frozen=True, slots=True)
class SourceEntry:
    relpath: str  # POSIX path inside the package, no leading slash
    is_dir: bool
    executable: bool
    size: int
    path: Path


def _ignore_patterns(root: Path) -> tuple[str, ...]:
    patterns = list(_ALWAYS_IGNORED)
    ignore = root / IGNORE_FILE
    if ignore.is_file():
        for line in ignore.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                patterns.append(line.rstrip("/"))
    return tuple(patterns)


def _ignored(relpath: str, patterns: tuple[str, ...]) -> bool:
    name = relpath.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(relpath, p) for p in patterns)


def collect_sources(root: Path, *, limits: Limits = DEFAULT_LIMITS) -> tuple[SourceEntry, ...]:
    """List the files of a package folder, sorted, without reading them.

    Raises:
        UserInputError: a symlink or special file is in the tree (packages hold
            plain files and folders only, so what is signed is what runs).
        LimitExceededError: too many files, too large, or paths too long.
    """
    patterns = _ignore_patterns(root)
    entries: list[SourceEntry] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for name in sorted(dirnames + filenames):
            path = base / name
            relpath = path.relative_to(root).as_posix()
            if relpath in (MANIFEST_FILE, IGNORE_FILE) or _ignored(relpath, patterns):
                if name in dirnames:
                    dirnames.remove(name)
                continue
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                raise UserInputError(
                    f"{relpath} is a symbolic link; packages hold plain files and folders only",
                    hint=f"replace the link with a copy of its target, or list it in {IGNORE_FILE}",
                )
            if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
                raise UserInputError(
                    f"{relpath} is not a regular file or folder",
                    hint=f"remove it or list it in {IGNORE_FILE}",
                )
            if len(relpath.encode("utf-8")) > limits.path_bytes:
                raise LimitExceededError(
                    f"{relpath[:80]}...: path is longer than {limits.path_bytes} bytes"
                )
            is_dir = stat.S_ISDIR(st.st_mode)
            size = 0 if is_dir else st.st_size
            total += size
            entries.append(
                SourceEntry(
                    relpath=relpath,
                    is_dir=is_dir,
                    executable=is_dir or bool(st.st_mode & 0o111),
                    size=size,
                    path=path,
                )
            )
            if len(entries) > limits.files:
                raise LimitExceededError(
                    f"the package has more than {limits.files} files",
                    hint=f"list what the tool does not need in {IGNORE_FILE}",
                )
            if total > limits.unpacked_bytes:
                raise LimitExceededError(
                    f"the package content is larger than {limits.unpacked_bytes} bytes",
                    hint=f"list what the tool does not need in {IGNORE_FILE}",
                )
    entries.sort(key=lambda e: e.relpath)
    return tuple(entries)


def write_content(entries: tuple[SourceEntry, ...], sink: Sink, *, mtime: int = 0) -> None:
    """Write the reproducible tar+gzip of ``entries`` into ``sink``."""
    # GzipFile needs a file-like object; it only ever calls write() and flush().
    with (
        gzip.GzipFile(
            filename="",
            mode="wb",
            fileobj=_SinkFile(sink),
            mtime=0,
            compresslevel=COMPRESS_LEVEL,
        ) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for entry in entries:
            info = tarfile.TarInfo(entry.relpath)
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o755 if entry.executable else 0o644
            if entry.is_dir:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
                continue
            info.type = tarfile.REGTYPE
            info.size = entry.size
            with entry.path.open("rb") as f:
                tar.addfile(info, f)


class _SinkFile:
    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    def write(self, data: bytes) -> int:
        return self._sink.write(bytes(data))

    def flush(self) -> None:
        pass
