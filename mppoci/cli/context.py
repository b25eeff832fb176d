"""What every command needs from its environment, read once."""

from __future__ import annotations

import os
from pathlib import Path

from mppoci.cli.output import echo
from mppoci.digest import Digest
from mppoci.errors import UserInputError
from mppoci.locations import Locations, locate
from mppoci.store import Store


def locations() -> Locations:
    return locate(os.environ)


def store() -> Store:
    return Store(locations().store)


def source_date_epoch() -> int | None:
    """SOURCE_DATE_EPOCH (reproducible-builds.org), if set."""
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise UserInputError(
            f"SOURCE_DATE_EPOCH={value!r} is not a number of seconds",
            hint="set it to a Unix time, e.g. $(git log -1 --format=%ct), or unset it",
        )
    return int(value)


# Set by the root command's --lock and --approved-by-lock options.
_lock_override: Path | None = None
_approved_by_lock = False


def set_lock_file(path: Path | None, approved_by_lock: bool = False) -> None:
    global _lock_override, _approved_by_lock
    _lock_override = path
    _approved_by_lock = approved_by_lock and path is not None


def lock_file() -> Path:
    from mppoci.lockfile import LOCK_FILE

    return _lock_override or Path.cwd() / LOCK_FILE


def approving_lock() -> Path | None:
    """The lock file the user opted in to as the approval record for this
    invocation (``--lock FILE --approved-by-lock``), else None. A lock file
    that merely lies in the working folder never approves."""
    return _lock_override if _approved_by_lock else None


def pinned(reference: str) -> str:
    """Apply the lock file: a locked reference resolves to its pinned digest.

    Raises PinMismatchError when the pin of a store reference is a package of
    another name or version (registry references: ``check_remote_pin`` once
    the package is fetched)."""
    from mppoci.api import load_audited
    from mppoci.lockfile import check_pin, load_lock
    from mppoci.reference import RemoteRef, is_remote, parse_remote

    path = lock_file()
    pin = load_lock(path).get(reference)
    if pin is None:
        return reference

    echo(f"{path.name} pins {reference} to {pin.digest}", err=True)
    if is_remote(reference):
        remote = parse_remote(reference)
        return str(RemoteRef(remote.registry, remote.repository, None, pin.digest))
    manifest = load_audited(store(), locations(), pin.digest).manifest
    check_pin(path, reference, pin.digest, manifest.name, manifest.version)
    return pin.digest


def check_remote_pin(reference: str, digest: Digest, name: str, version: str) -> None:
    """For a registry reference the lock pins: the fetched package must be
    the one it names. Raises PinMismatchError."""
    from mppoci.lockfile import check_pin, load_lock

    path = lock_file()
    if load_lock(path).get(reference) is not None:
        check_pin(path, reference, digest, name, version)


def resolve_local(reference: str) -> Digest:
    """A store reference to its manifest digest (registry references are refused)."""
    from mppoci.package.stored import resolve
    from mppoci.reference import is_remote, parse_local

    if is_remote(reference):
        raise UserInputError(
            f"{reference} is a registry reference; this command works on the local store",
            hint="pull it first (`mppoci pull`), then name publisher/tool[:version]",
        )
    return resolve(store(), parse_local(reference))
