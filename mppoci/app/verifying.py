"""Opening a package: the gate, with its verdict in the audit log, the
first-use question when an unknown key signed it, and the version
remembered for rollback protection.

Every load goes through here: the CLI, ``serve``, Kubernetes rendering and a
Python host get the same checks and the same records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from mppoci.app.prompter import SignerAnswer, SignerQuestion
from mppoci.app.session import Session
from mppoci.audit import events
from mppoci.digest import Digest
from mppoci.errors import Error, UntrustedContentError, UserInputError, VerificationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from mppoci.package.stored import StoredPackage
    from mppoci.store import Store
    from mppoci.trust.gate import Verified
    from mppoci.trust.verdict import Verdict


def audit_refusal(session: Session, subject: str, error: Error, origin: str | None = None) -> None:
    """Record that what was loaded (a digest, or a registry reference not
    yet fetched whole) was refused, and why."""
    events.verification(
        session.locations,
        digest=subject,
        subject=subject,
        accepted=False,
        detail=f"{type(error).__name__}: {error.message}",
        origin=origin,
    )


def verify_audited(
    session: Session,
    digest: Digest,
    *,
    key: ec.EllipticCurvePublicKey | None = None,
    allow_downgrade: bool = False,
    origin: str | None = None,
    store: Store | None = None,
) -> Verified:
    """The gate, with its verdict (accepted or refused, and why) in the audit
    log. Nothing is asked and nothing remembered.

    ``store``: where the package is, when not yet in the session's store (a
    registry download in staging, an unpacked bundle)."""
    from mppoci.trust import files
    from mppoci.trust.gate import verify

    try:
        verified = verify(
            session.store if store is None else store,
            digest,
            policy=files.load_policy(session.locations),
            rollback=files.load_rollback(session.locations),
            key=key,
            allow_downgrade=allow_downgrade,
            origin=origin,
        )
    except UntrustedContentError as e:
        # Every refusal of what was loaded: a bad signature, and as much a bad
        # manifest, a limit exceeded or damaged content.
        audit_refusal(session, digest, e, origin)
        raise
    accepted = verified.verdict.accepted
    events.verification(
        session.locations,
        digest=digest,
        subject=verified.verdict.subject.describe(),
        accepted=True,
        detail=accepted.detail if accepted else "",
        signer=accepted.key_id if accepted else None,
        origin=origin,
    )
    return verified


def load_audited(session: Session, digest: Digest) -> StoredPackage:
    """Open a stored package without checking signatures (``inspect``, ``lock
    add``, a lock pin's name); a refusal of its content is audited as the
    gate's are.

    Raises NotFoundError, DigestMismatchError, UntrustedContentError, ManifestError."""
    from mppoci.package.stored import load

    try:
        return load(session.store, digest)
    except UntrustedContentError as e:
        audit_refusal(session, digest, e)
        raise


def remember(session: Session, verified: Verified) -> None:
    """Record the verified version for rollback protection."""
    from mppoci.trust import files

    if verified.package is None:
        return
    m = verified.package.manifest
    files.update_rollback(
        session.locations, lambda state: state.record(m.name, m.version, verified.digest)
    )


def verify_digest(
    session: Session,
    digest: Digest,
    *,
    key: ec.EllipticCurvePublicKey | None = None,
    allow_downgrade: bool = False,
    origin: str | None = None,
    store: Store | None = None,
) -> Verified:
    """Verify through the gate (audited). When unknown keys signed it and no
    ``key`` was named, the session's prompter is asked once whether to trust
    them (a "yes" is recorded and audited), and the gate runs again."""
    attempt = partial(
        verify_audited,
        session,
        digest,
        key=key,
        allow_downgrade=allow_downgrade,
        origin=origin,
        store=store,
    )
    try:
        return attempt()
    except VerificationError as e:
        if key is not None or e.verdict is None or not trust_on_first_use(session, e.verdict):
            raise
    return attempt()


def open_verified(session: Session, reference: str, *, allow_downgrade: bool = False) -> Verified:
    """A package of the local store, by reference (the lock's pins applied),
    verified from its bytes, its version remembered for rollback protection.

    Raises NotFoundError, VerificationError, DigestMismatchError, RollbackError,
    PinMismatchError, UntrustedContentError; UserInputError for an OCI image."""
    from mppoci.app.references import pinned, resolve_local

    digest = resolve_local(session, pinned(session, reference))
    return open_digest(session, digest, reference=reference, allow_downgrade=allow_downgrade)


def open_digest(
    session: Session,
    digest: Digest,
    *,
    reference: str | None = None,
    allow_downgrade: bool = False,
) -> Verified:
    """A package of the local store by digest (``reference``: as the person
    named it, for the messages), verified from its bytes, its version
    remembered for rollback protection.

    Raises VerificationError, DigestMismatchError, RollbackError,
    UntrustedContentError; UserInputError for an OCI image."""
    verified = verify_digest(session, digest, allow_downgrade=allow_downgrade)
    if verified.package is None:
        raise UserInputError(f"{reference or digest} is an OCI image, not an mppoci package")
    remember(session, verified)
    return verified


def trust_on_first_use(session: Session, verdict: Verdict) -> bool:
    """Ask the prompter about each unknown signer of ``verdict``; trust the
    keys it says yes to (for the package, or the publisher when it chose
    wider), each change audited. True if a key was added."""
    from mppoci.signing.keys import short_id
    from mppoci.trust import files
    from mppoci.trust.policy import TrustedKey, TrustPolicy

    package_name = verdict.subject.package_name
    if package_name is None or not verdict.unknown_signers:
        return False
    publisher = package_name.split("/", 1)[0]
    policy = files.load_policy(session.locations)
    # The publisher's label on a key is only what was typed at `trust add`:
    # a key already trusted for this package's name counts too.
    known = tuple(
        short_id(k.key_id)
        for k in policy.keys
        if k.publisher == publisher or (k.covers(package_name) and not policy.is_revoked(k.key_id))
    )
    added = False
    for signer in verdict.unknown_signers:
        assert signer.key_id is not None and signer.public_key_pem is not None
        answer = session.prompter.trust_signer(
            SignerQuestion(
                package=package_name,
                publisher=publisher,
                key_id=signer.key_id,
                fingerprint=short_id(signer.key_id),
                subject=verdict.subject.describe(),
                known_keys=known,
            )
        )
        scopes = _chosen_scopes(answer, package_name, publisher)
        if scopes is None:
            continue
        key = TrustedKey(
            key_id=signer.key_id,
            public_key_pem=signer.public_key_pem,
            publisher=publisher,
            scopes=scopes,
            added=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            note=f"trusted on first use for {package_name}",
        )
        with events.change(session.locations):
            files.update_policy(session.locations, partial(TrustPolicy.with_key, key=key))
            events.trust(
                session.locations,
                "add",
                key.key_id,
                publisher=publisher,
                scopes=list(key.scopes),
                how=f"first use ({session.prompter.how})",
            )
        added = True
    return added


def _chosen_scopes(answer: object, package: str, publisher: str) -> tuple[str, ...] | None:
    """The scopes a prompter's answer trusts a key for; None for "no". Only
    the protocol's two "yes" answers trust: anything else a host returns
    (``"no"``, ``None``, ``False``, a forgotten ``return``) is "no"."""
    if not isinstance(answer, str):
        return None
    if answer == SignerAnswer.PUBLISHER:
        return (f"{publisher}/*",)
    if answer == SignerAnswer.PACKAGE:
        return (package,)
    return None
