"""From what a person typed to a digest: the lock's pins, then the store;
or to a package folder."""

from __future__ import annotations

from pathlib import Path

from mppoci.app.session import Session
from mppoci.digest import Digest
from mppoci.errors import UserInputError


def pinned(session: Session, reference: str) -> str:
    """Apply the lock file: a locked reference resolves to its pinned digest.

    Raises PinMismatchError when the pin of a store reference is a package of
    another name or version (registry references: :func:`check_remote_pin`
    once the package is fetched)."""
    from mppoci.app.verifying import load_audited
    from mppoci.lockfile import check_pin, load_lock
    from mppoci.reference import RemoteRef, is_remote, parse_remote

    path = session.lock_file
    if path is None:
        return reference
    pin = load_lock(path, limits=session.limits).get(reference)
    if pin is None:
        return reference
    session.notify(f"{path.name} pins {reference} to {pin.digest}")
    if is_remote(reference):
        remote = parse_remote(reference)
        return str(RemoteRef(remote.registry, remote.repository, None, pin.digest))
    manifest = load_audited(session, pin.digest).manifest
    check_pin(path, reference, pin.digest, manifest.name, manifest.version)
    return pin.digest


def check_remote_pin(
    session: Session, reference: str, digest: Digest, name: str, version: str
) -> None:
    """For a registry reference the lock pins: the fetched package must be
    the one it names. Raises PinMismatchError."""
    from mppoci.lockfile import check_pin, load_lock

    path = session.lock_file
    if path is not None and load_lock(path, limits=session.limits).get(reference) is not None:
        check_pin(path, reference, digest, name, version)


def resolve_local(session: Session, reference: str) -> Digest:
    """A store reference to its manifest digest (registry references are refused)."""
    from mppoci.package.stored import resolve
    from mppoci.reference import is_remote, parse_local

    if is_remote(reference):
        raise UserInputError(
            f"{reference} is a registry reference; this command works on the local store",
            hint="pull it first (`mppoci pull`), then name publisher/tool[:version]",
        )
    return resolve(session.store, parse_local(reference))


def names_folder(text: str) -> bool:
    """Whether a command's argument names a package folder rather than a package.

    Conventions: a path with ``/`` or ``.`` that exists on disk wins over a
    store name. And an argument that is no store reference at all (neither
    ``publisher/tool[:version]`` nor ``sha256:<digest>``) names a folder when
    there is one by that name holding an ``mpp.yaml`` (``word-count``)."""
    from mppoci.reference import parse_local

    if not text:
        return False
    path = Path(text)
    if ("/" in text or "." in text) and path.exists():
        return True
    try:
        parse_local(text)
    except UserInputError:
        return (path / "mpp.yaml").is_file()
    return False
