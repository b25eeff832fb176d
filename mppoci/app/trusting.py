"""The trust policy: which keys may sign which packages.

Each change (a key added, removed or revoked) is written together with its
audit record, whoever makes it: the CLI, a Python host, first-use trust.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mppoci.app.session import Session
from mppoci.audit import events
from mppoci.errors import NotFoundError, UserInputError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from mppoci.signing.keys import KeyId
    from mppoci.trust.policy import TrustedKey, TrustPolicy

_PUBLISHER_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


@dataclass(frozen=True, slots=True)
class TrustListing:
    """The trust policy, and the file it is kept in."""

    path: Path
    policy: TrustPolicy


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _change(
    session: Session,
    update: Callable[[TrustPolicy], TrustPolicy],
    action: str,
    key_id: KeyId,
    **details: Any,
) -> None:
    """Change the trust policy and write its audit record, as one step."""
    from mppoci.trust.files import update_policy

    with events.change(session.locations):
        update_policy(session.locations, update)
        events.trust(session.locations, action, key_id, **details)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise UserInputError(f"cannot read {path}: {e.strerror}") from None


def trust_listing(session: Session) -> TrustListing:
    from mppoci.trust.files import load_policy, policy_path

    return TrustListing(policy_path(session.locations), load_policy(session.locations))


def add_trusted_key(
    session: Session,
    key: Path | bytes,
    *,
    publisher: str,
    scopes: Sequence[str] = (),
    registries: Sequence[str] = (),
) -> TrustedKey:
    """Trust a public key (PEM, or the file holding it) to sign the packages
    in ``scopes`` (globs over package names; default ``publisher/*``), from
    ``registries`` only when some are named. A scope outside the publisher's
    names is allowed, with a note to the person. Audited.

    Raises UserInputError for a bad publisher, scope, registry or key."""
    from mppoci.signing.keys import key_id, load_public_key
    from mppoci.signing.keys import public_key_pem as pem_of
    from mppoci.trust.policy import TrustedKey, TrustPolicy, validate_registry, validate_scope

    if not _PUBLISHER_RE.fullmatch(publisher):
        raise UserInputError(
            f"{publisher!r} is not a publisher name",
            hint="use the first part of the package names, e.g. acme for acme/csv-query",
        )
    public = load_public_key(_read(key) if isinstance(key, Path) else key)
    checked = tuple(validate_scope(s) for s in (scopes or [f"{publisher}/*"]))
    for s in checked:
        if not s.startswith(f"{publisher}/"):
            session.notify(
                f"warning: scope {s} lets {publisher}'s key sign another publisher's packages"
            )
    entry = TrustedKey(
        key_id=key_id(public),
        public_key_pem=pem_of(public).decode("ascii"),
        publisher=publisher,
        scopes=checked,
        registries=tuple(validate_registry(r) for r in registries),
        added=_now(),
    )
    _change(
        session,
        partial(TrustPolicy.with_key, key=entry),
        "add",
        entry.key_id,
        publisher=publisher,
        scopes=list(checked),
        registries=list(entry.registries),
    )
    return entry


def remove_trusted_key(session: Session, key_id: str) -> KeyId:
    """Forget a trusted key (full id or a unique prefix); it may be added
    again. Audited. Raises NotFoundError, UserInputError."""
    from mppoci.trust.files import load_policy
    from mppoci.trust.policy import TrustPolicy

    policy = load_policy(session.locations)
    full = policy.match_key_id(key_id)
    if policy.key(full) is None:
        raise NotFoundError(f"key {full[:16]} is not a trusted key", hint="see `mppoci trust list`")
    _change(session, partial(TrustPolicy.without_key, key_id=full), "remove", full)
    return full


def revoke_key(session: Session, key_id: str, *, reason: str = "") -> KeyId:
    """Revoke a key (full id, or a unique prefix of a known one): never
    accepted again, even for packages it signed before. Audited."""
    from mppoci.trust.files import load_policy, update_policy
    from mppoci.trust.policy import Revocation, TrustPolicy

    full = load_policy(session.locations).match_key_id(key_id)
    revocation = Revocation(full, _now(), reason)
    with events.change(session.locations):
        update_policy(
            session.locations, partial(TrustPolicy.with_revocation, revocation=revocation)
        )
        events.trust(session.locations, "revoke", full, reason=reason)
    return full
