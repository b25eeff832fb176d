"""The lock file: references pinned to the digests they name now."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mppoci.app.remote import DEFAULT_OPTIONS, RegistryOptions
from mppoci.app.session import Session
from mppoci.errors import UserInputError

if TYPE_CHECKING:
    from mppoci.digest import Digest
    from mppoci.lockfile import Pin


@dataclass(frozen=True, slots=True)
class Pinned:
    reference: str
    digest: Digest
    lock_file: Path


def add_pin(session: Session, reference: str, options: RegistryOptions = DEFAULT_OPTIONS) -> Pinned:
    """Pin ``reference`` (a store or registry reference, as typed, no pins
    applied) in the session's lock file to the digest it names now, with the
    digest of what approving it grants. A registry package is downloaded
    into staging to be checked, then discarded. A pin that would be refused
    when used is never written.

    Raises UntrustedContentError (audited), PinMismatchError, NotFoundError."""
    from mppoci.app.references import resolve_local
    from mppoci.app.remote import connect, refusals_audited, staged_fetch
    from mppoci.app.verifying import load_audited
    from mppoci.approval.binding import approval_digest
    from mppoci.lockfile import Pin, check_pin
    from mppoci.lockfile import add_pin as write_pin
    from mppoci.reference import is_remote, parse_remote
    from mppoci.trust.gate import check_content

    if is_remote(reference):
        remote = parse_remote(reference)
        client = connect(session, remote.registry, options)
        with staged_fetch(session, client, remote, subject=reference) as (staging, staged):
            with refusals_audited(session, reference, remote.registry):
                package, _ = check_content(staging, staged.digest)
            digest = staged.digest
    else:
        digest = resolve_local(session, reference)
        package = load_audited(session, digest)
    path = _lock_file(session)
    if package is not None:  # never write a pin that would be refused when used
        m = package.manifest
        check_pin(path, reference, digest, m.name, m.version)
    permissions = approval_digest(package.manifest) if package else None
    write_pin(path, reference, Pin(digest, permissions))
    return Pinned(reference, digest, path)


def pins(session: Session) -> tuple[tuple[str, Pin], ...]:
    """The pins of the session's lock file, by reference."""
    from mppoci.lockfile import load_lock

    path = session.lock_file
    if path is None:
        return ()
    return tuple(sorted(load_lock(path, limits=session.limits).pins.items()))


def _lock_file(session: Session) -> Path:
    path = session.lock_file
    if path is None:
        raise UserInputError(
            "no lock file is named for this session",
            hint="pass lock_file= to Session.open (the CLI uses --lock FILE, else ./mppoci.lock)",
        )
    return path
