"""The verification step commands share: the gate, first-use trust on a
terminal, and remembering what was verified (rollback protection)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from mppoci.cli import context, prompts
from mppoci.cli.output import echo
from mppoci.digest import Digest
from mppoci.errors import VerificationError
from mppoci.text import terminal_safe

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from mppoci.store.layout import Store
    from mppoci.trust.gate import Verified


def _ask_first_use(err: VerificationError) -> bool:
    """Offer to trust unknown signers, on a terminal only. True if one was added."""
    from mppoci.audit import events
    from mppoci.signing.keys import short_id
    from mppoci.trust import files
    from mppoci.trust.policy import TrustedKey, TrustPolicy
    from mppoci.trust.verdict import Verdict

    verdict = err.verdict
    if not isinstance(verdict, Verdict) or not prompts.interactive():
        return False
    package_name = verdict.subject.package_name
    if package_name is None:
        return False
    publisher = package_name.split("/", 1)[0]
    policy = files.load_policy(context.locations())
    # The publisher's label on a key is only what was typed at `trust add`:
    # a key already trusted for this package's name counts too.
    known = [
        k
        for k in policy.keys
        if k.publisher == publisher or (k.covers(package_name) and not policy.is_revoked(k.key_id))
    ]
    added = False
    for signer in verdict.unknown_signers:
        assert signer.key_id is not None and signer.public_key_pem is not None
        echo(
            f"\n{terminal_safe(package_name)} is signed by a key you have not trusted before:\n"
            f"  publisher:   {publisher}\n"
            f"  key id:      {signer.key_id}\n"
            f"  fingerprint: {short_id(signer.key_id)}\n"
            f"  package:     {terminal_safe(verdict.subject.describe())}\n"
            "Compare the key id with the one the publisher gives you out of band.",
            err=True,
        )
        if known:
            # A new key for a publisher you know: a rotation, or someone else
            # signing in their name. Say so before the question.
            echo(
                f"WARNING: you already trust {len(known)} other key(s) for {publisher} "
                f"or {terminal_safe(package_name)} ("
                + ", ".join(short_id(k.key_id) for k in known)
                + "). A different key is a rotation only if the publisher says so; "
                "otherwise someone else signed this in their name.",
                err=True,
            )
        if not prompts.confirm(f"Trust this key for {package_name} (this package only)?"):
            continue
        scopes: tuple[str, ...] = (package_name,)
        if prompts.confirm(f"Also trust it for every {publisher}/* package?"):
            scopes = (f"{publisher}/*",)
        key = TrustedKey(
            key_id=signer.key_id,
            public_key_pem=signer.public_key_pem,
            publisher=publisher,
            scopes=scopes,
            added=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            note=f"trusted on first use for {package_name}",
        )
        with events.change(context.locations()):
            files.update_policy(context.locations(), partial(TrustPolicy.with_key, key=key))
            events.trust(
                context.locations(),
                "add",
                key.key_id,
                publisher=publisher,
                scopes=list(key.scopes),
                how="first use on a terminal",
            )
        added = True
    return added


def verify_or_ask(
    store: Store,
    digest: Digest,
    *,
    key: ec.EllipticCurvePublicKey | None = None,
    allow_downgrade: bool = False,
    origin: str | None = None,
) -> Verified:
    """Verify through the gate (audited); on a terminal, offer first-use trust once."""
    from mppoci.api import verify_audited

    locations = context.locations()

    def attempt() -> Verified:
        return verify_audited(
            store, locations, digest, key=key, allow_downgrade=allow_downgrade, origin=origin
        )

    try:
        return attempt()
    except VerificationError as e:
        if key is not None or not _ask_first_use(e):
            raise
    return attempt()


def remember(verified: Verified) -> None:
    """Record the verified version for rollback protection."""
    from mppoci.api import remember as remember_version

    remember_version(context.locations(), verified)
