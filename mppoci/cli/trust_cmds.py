"""``mppoci trust``: which keys may sign which packages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mppoci.cli import context
from mppoci.cli.output import echo

app = typer.Typer(
    help="Manage the trust policy (trusted keys and their scopes).", no_args_is_help=True
)


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
    from mppoci.app import short_id
    from mppoci.app.trusting import add_trusted_key, trust_listing

    session = context.session()
    entry = add_trusted_key(
        session, key, publisher=publisher, scopes=scope or (), registries=registry or ()
    )
    echo(
        f"trusted key {short_id(entry.key_id)} ({publisher}) for {', '.join(entry.scopes)}"
        f" in {trust_listing(session).path}",
        err=True,
    )


@app.command("list")
def list_(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the trusted keys, their scopes, and the revoked keys."""
    from mppoci.app.trusting import trust_listing

    listing = trust_listing(context.session())
    policy = listing.policy
    if json_out:
        doc = {
            "path": str(listing.path),
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
        echo(f"no keys are trusted ({listing.path}): nothing will verify", err=True)
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
    from mppoci.app.trusting import remove_trusted_key

    full = remove_trusted_key(context.session(), key_id)
    echo(f"removed key {full[:16]}", err=True)


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="Key id (full, or a prefix of a known key).")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record.")] = "",
) -> None:
    """Revoke a key: never accepted again, even for packages it signed before."""
    from mppoci.app.trusting import revoke_key

    full = revoke_key(context.session(), key_id, reason=reason)
    echo(f"revoked key {full[:16]}: it is refused from now on", err=True)
