"""Registries: log in, and move packages in and out of them.

Everything that comes from a registry goes the same way (:func:`fetch_verified`):
downloaded into a private staging store, checked there (a refusal of what
the registry sent is audited), verified by the gate, and only then used.
``pull`` adopts it into the store, ``copy`` pushes it on, ``verify_remote``
discards it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mppoci.app.session import Session
from mppoci.errors import UntrustedContentError, UserInputError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from mppoci.digest import Digest
    from mppoci.reference import RemoteRef
    from mppoci.registry.client import RegistryClient
    from mppoci.registry.credentials import Credentials
    from mppoci.registry.transfer import Staged
    from mppoci.store import Store
    from mppoci.trust.gate import Verified

# (what, total bytes) -> called with the bytes moved since the last call.
Progress = Callable[[str, int], Callable[[int], None]]


def _no_progress(what: str, total: int) -> Callable[[int], None]:
    return lambda n: None


@dataclass(frozen=True, slots=True)
class RegistryOptions:
    """How to talk to registries: a CA for their TLS, plain HTTP allowed
    off loopback (``insecure``), seconds to wait on each network call, and
    who hears how far the bytes of a pull, push or copy have moved."""

    ca_file: Path | None = None
    insecure: bool = False
    timeout: float = 30.0
    progress: Progress = _no_progress


DEFAULT_OPTIONS = RegistryOptions()


@dataclass(frozen=True, slots=True)
class Fetched:
    """A package downloaded into staging and verified there."""

    remote: RemoteRef
    staging: Store
    staged: Staged
    verified: Verified


@dataclass(frozen=True, slots=True)
class Pulled:
    digest: Digest
    ref_name: str  # the tag it has in the store
    registry: str


def connect(
    session: Session,
    registry: str,
    options: RegistryOptions = DEFAULT_OPTIONS,
    credentials: Credentials | None = None,
) -> RegistryClient:
    """A client for ``registry``: the given credentials, else those the
    session's environment or Docker's configuration hold for it."""
    from mppoci.registry.client import RegistryClient
    from mppoci.registry.credentials import resolve
    from mppoci.registry.transport import TransportOptions

    if options.insecure:
        session.notify(f"warning: --insecure: talking to {registry} without TLS")
    transport = TransportOptions(
        ca_file=options.ca_file, insecure=options.insecure, timeout=options.timeout
    )
    return RegistryClient(
        registry,
        options=transport,
        credentials=credentials or resolve(registry, session.environ),
    )


def login(
    session: Session,
    registry: str,
    username: str,
    password: str,
    options: RegistryOptions = DEFAULT_OPTIONS,
) -> str:
    """Check credentials against a registry, then store them as Docker does.
    Returns where they went."""
    from mppoci.registry.credentials import Credentials
    from mppoci.registry.credentials import store as store_credentials

    creds = Credentials(username, password, "login")
    connect(session, registry, options, creds).ping()
    return store_credentials(registry, creds, session.environ)


def destination(text: str, *, digest_ok: bool = False) -> RemoteRef:
    """A registry reference to push to: it must name a tag (or, with
    ``digest_ok``, a digest). Raises UserInputError."""
    from mppoci.reference import parse_remote

    dest = parse_remote(text)
    if not dest.tag and not (digest_ok and dest.digest):
        raise UserInputError(f"{text} names no tag", hint="add :TAG to the destination")
    return dest


@contextmanager
def refusals_audited(session: Session, subject: str, origin: str | None) -> Iterator[None]:
    """Audit a refusal of what came from outside (a limit exceeded, a bad
    manifest, damaged bytes) as the gate's are, and let it through."""
    from mppoci.app.verifying import audit_refusal

    try:
        yield
    except UntrustedContentError as e:
        audit_refusal(session, subject, e, origin)
        raise


@contextmanager
def staged_fetch(
    session: Session,
    client: RegistryClient,
    remote: RemoteRef,
    *,
    subject: str | None = None,
    progress: Progress = _no_progress,
) -> Iterator[tuple[Store, Staged]]:
    """Download ``remote`` into a private staging store (removed at the end),
    nothing checked beyond digests and limits; a refusal is audited with
    ``subject`` (default: the reference)."""
    from mppoci.registry.transfer import fetch

    with session.store.staging() as staging:
        with refusals_audited(session, subject or str(remote), remote.registry):
            staged = fetch(client, remote, staging, session.store, progress=progress)
        yield staging, staged


@contextmanager
def fetch_verified(
    session: Session,
    client: RegistryClient,
    remote: RemoteRef,
    *,
    pinned_as: str | None = None,
    key: ec.EllipticCurvePublicKey | None = None,
    allow_downgrade: bool = False,
    progress: Progress = _no_progress,
) -> Iterator[Fetched]:
    """Download ``remote`` into staging and verify it there (first use asked
    through the prompter). ``pinned_as``: the reference as typed, when the
    lock's pins were applied: the package must be the one the pin names.
    Nothing is remembered: the caller does, once it keeps the package."""
    from mppoci.app.references import check_remote_pin
    from mppoci.app.verifying import verify_digest

    with staged_fetch(session, client, remote, progress=progress) as (staging, staged):
        verified = verify_digest(
            session,
            staged.digest,
            key=key,
            allow_downgrade=allow_downgrade,
            origin=remote.registry,
            store=staging,
        )
        if pinned_as is not None and verified.package is not None:
            m = verified.package.manifest
            check_remote_pin(session, pinned_as, staged.digest, m.name, m.version)
        yield Fetched(remote, staging, staged, verified)


def pull(
    session: Session,
    reference: str,
    options: RegistryOptions = DEFAULT_OPTIONS,
    *,
    allow_downgrade: bool = False,
) -> Pulled:
    """Download, verify, and only then add a package to the store (its
    version remembered for rollback protection)."""
    from mppoci.app.references import pinned
    from mppoci.app.verifying import remember
    from mppoci.reference import parse_remote
    from mppoci.registry.transfer import adopt_package

    remote = parse_remote(pinned(session, reference))
    client = connect(session, remote.registry, options)
    with fetch_verified(
        session,
        client,
        remote,
        pinned_as=reference,
        allow_downgrade=allow_downgrade,
        progress=options.progress,
    ) as got:
        package = got.verified.package
        m = package.manifest if package else None
        ref_name = f"{m.name}:{m.version}" if m else f"{remote.registry}/{remote.repository}"
        adopt_package(
            got.staging, session.store, got.staged, ref_name=ref_name, origin=remote.registry
        )
    remember(session, got.verified)
    return Pulled(got.staged.digest, ref_name, remote.registry)


def push(
    session: Session,
    digest: Digest,
    dest: RemoteRef,
    options: RegistryOptions = DEFAULT_OPTIONS,
    *,
    allow_unsigned: bool = False,
) -> Digest:
    """Upload a package of the store and its signatures; returns the pushed
    digest. It must verify (first use asked through the prompter), unless
    ``allow_unsigned``: then only its bytes are checked."""
    from mppoci.app.verifying import verify_digest
    from mppoci.registry.transfer import push as push_package
    from mppoci.trust.gate import check_content

    store = session.store
    if allow_unsigned:
        check_content(store, digest)  # tampered bytes are never pushed, signed or not
        session.notify("warning: --allow-unsigned: pushing without checking signatures")
    else:
        verify_digest(session, digest)
    client = connect(session, dest.registry, options)
    return push_package(client, store, digest, dest, progress=options.progress)


def copy(
    session: Session,
    source: str,
    destination_text: str,
    options: RegistryOptions = DEFAULT_OPTIONS,
) -> Digest:
    """Copy a verified package with its signatures between registries,
    digests unchanged; the store keeps nothing."""
    from mppoci.app.references import pinned
    from mppoci.reference import parse_remote
    from mppoci.registry.transfer import push as push_package

    src = parse_remote(pinned(session, source))
    dest = destination(destination_text)
    src_client = connect(session, src.registry, options)
    dest_client = connect(session, dest.registry, options)
    progress = options.progress
    with fetch_verified(session, src_client, src, pinned_as=source, progress=progress) as got:
        return push_package(dest_client, got.staging, got.staged.digest, dest, progress=progress)


def verify_remote(
    session: Session,
    remote: RemoteRef,
    options: RegistryOptions = DEFAULT_OPTIONS,
    *,
    key: ec.EllipticCurvePublicKey | None = None,
    allow_downgrade: bool = False,
) -> Verified:
    """Download into staging, verify there, discard: the store is not
    changed (the verified version is remembered)."""
    from mppoci.app.verifying import remember

    client = connect(session, remote.registry, options)
    with fetch_verified(
        session, client, remote, key=key, allow_downgrade=allow_downgrade, progress=options.progress
    ) as got:
        verified = got.verified
    remember(session, verified)
    return verified
