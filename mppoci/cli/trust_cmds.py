"""``mppoci trust``: which keys may sign which packages."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from mppoci.cli import context
from mppoci.cli.output import echo
from mppoci.errors import NotFoundError, UserInputError

app = typer.Typer(
    help="Manage the trust policy (trusted keys and their scopes).", no_args_is_help=True
)

_PUBLISHER_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@app.command("add")
def add(
    key: Annotated[Path, typer.Argument(help="The publisher's public key (PEM).")],
    publisher: Annotated[str, typer.Option("--publisher", help="Who owns the key, e.g. acme.")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="Package names the key may sign (glob); default PUBLISHER/*."),
    ] = None,
    registry: Annotated[
        list[str] | None,
        typer.Option("--registry", help="Accept its packages only from these registries."),
    ] = None,
) -> None:
    """Trust a public key to sign the packages in its scope."""
    from mppoci.signing.keys import key_id, load_public_key, public_key_pem, short_id
    from mppoci.trust.files import policy_path, update_policy
    from mppoci.trust.policy import TrustedKey, TrustPolicy, validate_registry, validate_scope

    if not _PUBLISHER_RE.fullmatch(publisher):
        raise UserInputError(
            f"{publisher!r} is not a publisher name",
            hint="use the first part of the package names, e.g. acme for acme/csv-query",
        )
    try:
        pem = key.read_bytes()
    except OSError as e:
        raise UserInputError(f"cannot read {key}: {e.strerror}") from None
    public = load_public_key(pem)
    scopes = tuple(validate_scope(s) for s in (scope or [f"{publisher}/*"]))
    for s in scopes:
        if not s.startswith(f"{publisher}/"):
            echo(
                f"warning: scope {s} lets {publisher}'s key sign another publisher's packages",
                err=True,
            )
    entry = TrustedKey(
        key_id=key_id(public),
        public_key_pem=public_key_pem(public).decode("ascii"),
        publisher=publisher,
        scopes=scopes,
        registries=tuple(validate_registry(r) for r in registry or []),
        added=_now(),
    )
    from mppoci.audit import events

    locations = context.locations()
    with events.change(locations):
        update_policy(locations, partial(TrustPolicy.with_key, key=entry))
        events.trust(
            locations,
            "add",
            entry.key_id,
            publisher=publisher,
            scopes=list(scopes),
            registries=list(entry.registries),
        )
    echo(
        f"trusted key {short_id(entry.key_id)} ({publisher}) for {', '.join(scopes)}"
        f" in {policy_path(locations)}",
        err=True,
    )


@app.command("list")
def list_(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the trusted keys, their scopes, and the revoked keys."""
    from mppoci.trust.files import load_policy, policy_path

    locations = context.locations()
    policy = load_policy(locations)
    if json_out:
        doc = {
            "path": str(policy_path(locations)),
            "keys": [
                {
                    "keyId": k.key_id,
                    "publisher": k.publisher,
                    "scopes": list(k.scopes),
                    "registries": list(k.registries),
                    "added": k.added,
                    "note": k.note,
                    "revoked": policy.is_revoked(k.key_id),
                }
                for k in policy.keys
            ],
            "revoked": [
                {"keyId": r.key_id, "revokedAt": r.revoked_at, "reason": r.reason}
                for r in policy.revoked
            ],
        }
        echo(json.dumps(doc, indent=2))
        return
    if not policy.keys and not policy.revoked:
        echo(f"no keys are trusted ({policy_path(locations)}): nothing will verify", err=True)
        return
    for k in policy.keys:
        state = "REVOKED " if policy.is_revoked(k.key_id) else ""
        where = f" from {', '.join(k.registries)}" if k.registries else ""
        note = f"  ({k.note})" if k.note else ""
        echo(f"{state}{k.key_id[:16]}  {k.publisher:<12} {', '.join(k.scopes)}{where}{note}")
    for r in policy.revoked:
        if policy.key(r.key_id) is None:
            echo(f"REVOKED {r.key_id[:16]}  revoked {r.revoked_at} {r.reason}".rstrip())


@app.command("remove")
def remove(
    key_id: Annotated[str, typer.Argument(help="Key id (or its first 16 characters).")],
) -> None:
    """Forget a trusted key (it may be added again; to ban it, use `trust revoke`)."""
    from mppoci.trust.files import load_policy, update_policy
    from mppoci.trust.policy import TrustPolicy

    locations = context.locations()
    full = load_policy(locations).match_key_id(key_id)
    if load_policy(locations).key(full) is None:
        raise NotFoundError(f"key {full[:16]} is not a trusted key", hint="see `mppoci trust list`")
    from mppoci.audit import events

    with events.change(locations):
        update_policy(locations, partial(TrustPolicy.without_key, key_id=full))
        events.trust(locations, "remove", full)
    echo(f"removed key {full[:16]}", err=True)


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="Key id (full, or a prefix of a known key).")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record.")] = "",
) -> None:
    """Revoke a key: never accepted again, even for packages it signed before."""
    from mppoci.trust.files import load_policy, update_policy
    from mppoci.trust.policy import Revocation, TrustPolicy

    locations = context.locations()
    full = load_policy(locations).match_key_id(key_id)
    from mppoci.audit import events

    revocation = Revocation(full, _now(), reason)
    with events.change(locations):
        update_policy(locations, partial(TrustPolicy.with_revocation, revocation=revocation))
        events.trust(locations, "revoke", full, reason=reason)
    echo(f"revoked key {full[:16]}: it is refused from now on", err=True)
