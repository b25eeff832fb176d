"""``mppoci.lock``: references pinned to digests, so CI runs what was reviewed.

Every command that takes a reference looks it up here first; a locked
reference resolves to its pinned digest and nothing else, and a pin never
maps a name to a package of another name or version (``pin_mismatch``). An
entry may also carry the permission-set digest that was reviewed; that makes
it an approval only when the user opts in for the invocation
(``--lock FILE --approved-by-lock``), never because the file is in the
working folder (mppoci.approval.check).
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mppoci.digest import Digest, is_digest
from mppoci.errors import (
    LimitExceededError,
    PinMismatchError,
    UntrustedContentError,
    UserInputError,
)
from mppoci.fsutil import atomic_write
from mppoci.limits import DEFAULT_LIMITS, Limits, MiB
from mppoci.reference import is_remote, parse_local, parse_remote
from mppoci.semver import is_semver
from mppoci.text import terminal_safe

LOCK_FILE = "mppoci.lock"


@dataclass(frozen=True, slots=True)
class Pin:
    digest: Digest
    permissions: Digest | None = None


@dataclass(frozen=True, slots=True)
class Lock:
    pins: MappingProxyType[str, Pin] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, reference: str) -> Pin | None:
        return self.pins.get(reference)

    def with_pin(self, reference: str, pin: Pin) -> Lock:
        return replace(self, pins=MappingProxyType({**self.pins, reference: pin}))


def _bad(path: Path, why: str) -> UntrustedContentError:
    return UntrustedContentError(
        f"the lock file {path} is damaged: {why}",
        hint="restore it from version control; it pins what was reviewed",
    )


def parse_lock(data: bytes, path: Path) -> Lock:
    try:
        doc: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _bad(path, str(e)) from None
    if not isinstance(doc, dict) or doc.get("version") != 1 or set(doc) - {"version", "packages"}:
        raise _bad(path, 'expected {"version": 1, "packages": {...}}')
    packages = doc.get("packages", {})
    if not isinstance(packages, dict):
        raise _bad(path, "packages must be an object")
    pins: dict[str, Pin] = {}
    for reference, entry in packages.items():
        # The key is shown by `lock list` and in messages: it must be a
        # reference, and is escaped as one line wherever it is quoted.
        name = f"'{terminal_safe(reference)}'"
        if not _is_reference(reference):
            raise _bad(
                path,
                f"entry {name} is not a reference (publisher/tool[:version], "
                "sha256:<digest>, or registry/repository[:tag][@sha256:<digest>])",
            )
        if not isinstance(entry, dict) or set(entry) - {"digest", "permissions"}:
            raise _bad(path, f"entry {name} has unknown fields")
        digest, permissions = entry.get("digest"), entry.get("permissions")
        if not isinstance(digest, str) or not is_digest(digest):
            raise _bad(path, f"entry {name} has no valid digest")
        if permissions is not None and (
            not isinstance(permissions, str) or not is_digest(permissions)
        ):
            raise _bad(path, f"entry {name} has an invalid permissions digest")
        pins[reference] = Pin(Digest(digest), Digest(permissions) if permissions else None)
    return Lock(MappingProxyType(pins))


def _is_reference(text: str) -> bool:
    try:
        parse_remote(text) if is_remote(text) else parse_local(text)
    except UserInputError:
        return False
    return True


def lock_bytes(lock: Lock) -> bytes:
    packages = {}
    for reference, pin in sorted(lock.pins.items()):
        entry = {"digest": pin.digest}
        if pin.permissions:
            entry["permissions"] = pin.permissions
        packages[reference] = entry
    return (json.dumps({"version": 1, "packages": packages}, indent=2) + "\n").encode()


def _read_lock(path: Path, limit: int) -> bytes | None:
    """The lock file's bytes, or None when there is none. A cloned repository
    chooses what ``mppoci.lock`` is, so only a regular file is read (a FIFO
    would hang, ``/dev/zero`` would fill memory), and only up to ``limit``.
    A symlink to a regular file is followed: sharing one lock across folders
    is ordinary, and it grants nothing the file's content could not.
    Raises UntrustedContentError, LimitExceededError, UserInputError."""
    try:
        before = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise UserInputError(f"cannot read the lock file {path}: {e.strerror}") from None
    if not stat.S_ISREG(before.st_mode):
        raise _not_a_file(path)
    try:
        # O_NONBLOCK: if a FIFO was swapped in after the check, opening it does not wait.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise UserInputError(f"cannot read the lock file {path}: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_a_file(path)
        if st.st_size > limit:
            raise _too_large(path, limit)
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise _too_large(path, limit)
        return b"".join(chunks)
    except OSError as e:
        raise UserInputError(f"cannot read the lock file {path}: {e.strerror}") from None
    finally:
        os.close(fd)


def _not_a_file(path: Path) -> UntrustedContentError:
    return UntrustedContentError(
        f"the lock file {path} is not a regular file (a FIFO, device, socket or folder)",
        hint="replace it with the lock file from version control, or name another with --lock FILE",
    )


def _too_large(path: Path, limit: int) -> LimitExceededError:
    return LimitExceededError(
        f"the lock file {path} is larger than {limit // MiB} MiB",
        hint="a lock file holds one short entry per package; restore it from version control",
    )


def load_lock(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> Lock:
    """The lock at ``path`` (empty when there is none). Raises
    UntrustedContentError, LimitExceededError, UserInputError."""
    data = _read_lock(path, limits.lock_bytes)
    return Lock() if data is None else parse_lock(data, path)


def add_pin(path: Path, reference: str, pin: Pin) -> None:
    """Add or replace one pin; the file is replaced atomically."""
    atomic_write(path, lock_bytes(load_lock(path).with_pin(reference, pin)))


def pin_mismatch(reference: str, digest: Digest, name: str, version: str) -> str | None:
    """Why the package ``name`` ``version`` at ``digest`` may not stand for
    ``reference`` in a lock file, or None. Pure.

    A local ``publisher/tool[:version]`` must be that name (and version); a
    ``sha256:`` key must be that digest; a registry reference's repository
    must end with the package name, and a SemVer tag must be its version."""
    if is_remote(reference):
        remote = parse_remote(reference)
        if remote.digest is not None and remote.digest != digest:
            return f"it names {remote.digest} but pins {digest}"
        if remote.repository != name and not remote.repository.endswith("/" + name):
            return f"the pinned digest is the package {name}, not {remote.repository}"
        if remote.tag is not None and is_semver(remote.tag) and remote.tag != version:
            return f"the pinned digest is {name} {version}, not version {remote.tag}"
        return None
    local = parse_local(reference)
    if local.digest is not None:
        return None if local.digest == digest else f"it names {local.digest} but pins {digest}"
    if local.name != name:
        return f"the pinned digest is the package {name}, not {local.name}"
    if local.version is not None and local.version != version:
        return f"the pinned digest is {name} {version}, not version {local.version}"
    return None


def check_pin(path: Path, reference: str, digest: Digest, name: str, version: str) -> None:
    """Raise PinMismatchError when the pin of ``reference`` is another package."""
    why = pin_mismatch(reference, digest, name, version)
    if why is not None:
        raise PinMismatchError(
            f"the lock file {path} pins {reference} to another package: {why}",
            hint="a lock entry may only pin a name to a digest of that same package and "
            f"version; repair the entry (`mppoci --lock {path} lock add {reference}`) "
            "or remove it",
        )
