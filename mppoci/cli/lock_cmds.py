"""``mppoci lock``: pin references to digests in mppoci.lock."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mppoci.cli import context, registry_opts
from mppoci.cli.output import echo
from mppoci.reference import is_remote, parse_remote
from mppoci.text import terminal_safe

app = typer.Typer(help="Pin references to digests (mppoci.lock).", no_args_is_help=True)


@app.command("add")
def add(
    reference: Annotated[str, typer.Argument(help="A package reference to pin.")],
    ca_file: registry_opts.CaFile = None,
    insecure: registry_opts.Insecure = False,
    timeout: registry_opts.Timeout = 30.0,
) -> None:
    """Pin REF to the digest it names now, with the digest of what approving it grants."""
    from mppoci.api import audit_refusal, load_audited
    from mppoci.approval.binding import approval_digest
    from mppoci.errors import UntrustedContentError
    from mppoci.lockfile import Pin, add_pin, check_pin
    from mppoci.registry.transfer import fetch
    from mppoci.trust.gate import check_content

    store = context.store()
    if is_remote(reference):
        remote = parse_remote(reference)
        client = registry_opts.client(remote.registry, ca_file, insecure, timeout)
        with store.staging() as staging:
            try:
                staged = fetch(client, remote, staging, store)
                package, _ = check_content(staging, staged.digest)
            except UntrustedContentError as e:
                audit_refusal(context.locations(), reference, e, remote.registry)
                raise
            digest = staged.digest
    else:
        digest = context.resolve_local(reference)
        package = load_audited(store, context.locations(), digest)
    if package is not None:  # never write a pin that would be refused when used
        m = package.manifest
        check_pin(context.lock_file(), reference, digest, m.name, m.version)
    permissions = approval_digest(package.manifest) if package else None
    add_pin(context.lock_file(), reference, Pin(digest, permissions))
    echo(f"pinned {reference} to {digest} in {context.lock_file()}", err=True)


@app.command("list")
def list_(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the pins in the lock file."""
    from mppoci.lockfile import load_lock

    lock = load_lock(context.lock_file())
    rows = [
        {"reference": r, "digest": p.digest, "permissions": p.permissions}
        for r, p in sorted(lock.pins.items())
    ]
    if json_out:
        echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        echo(f"{terminal_safe(str(row['reference']))}  {row['digest']}")
