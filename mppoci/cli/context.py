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


# Set by the root command's --lock option.
_lock_override: Path | None = None


def set_lock_file(path: Path | None) -> None:
    global _lock_override
    _lock_override = path


def lock_file() -> Path:
    from mppoci.lockfile import LOCK_FILE

    return _lock_override or Path.cwd() / LOCK_FILE


def pinned(reference: str) -> str:
    """Apply the lock file: a locked reference resolves to its pinned digest."""
    from mppoci.lockfile import load_lock
    from mppoci.reference import RemoteRef, is_remote, parse_remote

    pin = load_lock(lock_file()).get(reference)
    if pin is None:
        return reference

    echo(f"{lock_file().name} pins {reference} to {pin.digest}", err=True)
    if is_remote(reference):
        remote = parse_remote(reference)
        return str(RemoteRef(remote.registry, remote.repository, None, pin.digest))
    return pin.digest


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
