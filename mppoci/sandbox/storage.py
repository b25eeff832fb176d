"""Declared persistent storage, with its declared size enforced.

Each storage entry is an ext4 filesystem image of exactly the declared size
under mppoci's (private) data folder, loop-mounted for the run and bound into
the sandbox, so a tool that may keep 1Mi gets ENOSPC at 1Mi instead of filling
the host's disk. The filesystem's root belongs to the sandbox user (65534);
the folders above it are 0700. Runs of the same package take turns on its
storage (one mount at a time). Mounting needs root: without it, a package that
declares storage is refused rather than given unlimited space.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path

from mppoci.errors import PolicyError, RuntimeEngineError
from mppoci.locations import Locations
from mppoci.manifest import Manifest


def _folder(locations: Locations, manifest: Manifest) -> Path:
    key = sha256(manifest.name.encode()).hexdigest()[:16]
    folder = locations.data / "storage" / f"{manifest.publisher}-{manifest.tool_name}-{key}"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path in (locations.data / "storage", folder):
        path.chmod(0o700)
    return folder


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0:
        raise RuntimeEngineError(f"{argv[0]} failed: {result.stderr.strip()[:300]}")


def _ensure_image(image: Path, size: int) -> None:
    if image.exists():
        current = image.stat().st_size
        if current < size:  # an approved update asked for more
            with image.open("r+b") as f:
                f.truncate(size)
            _run(["e2fsck", "-f", "-p", str(image)])
            _run(["resize2fs", str(image)])
        return
    tmp = image.with_suffix(".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.truncate(size)
    _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", "root_owner=65534:65534", str(tmp)])
    tmp.replace(image)


@contextlib.contextmanager
def mounted_storage(locations: Locations, manifest: Manifest) -> Iterator[dict[str, str]]:
    """Mount every declared storage entry; yield name -> host folder."""
    volumes = manifest.permissions.storage
    if not volumes:
        yield {}
        return
    if os.geteuid() != 0 or shutil.which("mkfs.ext4") is None or shutil.which("mount") is None:
        raise PolicyError(
            f"{manifest.name} declares persistent storage; enforcing its size needs root "
            "(a loop-mounted filesystem of that size), so it is refused rather than unlimited",
            hint="run mppoci as root, or use a version of the package without storage",
        )
    folder = _folder(locations, manifest)
    lock_fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    mounted: list[Path] = []
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)  # one run at a time on this package's storage
        out = {}
        for volume in volumes:
            image = folder / f"{volume.name}.ext4"
            _ensure_image(image, volume.size.byte_count)
            target = folder / f"{volume.name}.mnt"
            target.mkdir(mode=0o700, exist_ok=True)
            _run(["mount", "-o", "loop,nosuid,nodev,noexec", str(image), str(target)])
            mounted.append(target)
            out[volume.name] = str(target)
        yield out
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", str(target)], capture_output=True, check=False, timeout=120)
        os.close(lock_fd)
