"""``mppoci lock``: pin references to digests in mppoci.lock."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mppoci.cli import context, registry_opts
from mppoci.cli.output import echo
from mppoci.reference import is_remote, parse_remote

app = typer.Typer(help="Pin references to digests (mppoci.lock).", no_args_is_help=True)


@app.command("add")
def add(
    reference: Annotated[str, typer.Argument(help="A package reference to pin.")],
    ca_file: registry_opts.CaFile = None,
    insecure: registry_opts.Insecure = False,
    timeout: registry_opts.Timeout = 30.0,
) -> None:
    """Pin REF to the digest it names now, with its permission-set digest."""
    from mppoci.lockfile import Pin, add_pin
    from mppoci.manifest import permissions_digest
    from mppoci.package.stored import load
    from mppoci.registry.transfer import fetch
    from mppoci.trust.gate import check_content

    store = context.store()
    if is_remote(reference):
        remote = parse_remote(reference)
        client = registry_opts.client(remote.registry, ca_file, insecure, timeout)
        with store.staging() as staging:
            staged = fetch(client, remote, staging, store)
            package, _ = check_content(staging, staged.digest)
            digest = staged.digest
    else:
        digest = context.resolve_local(reference)
        package = load(store, digest)
    permissions = permissions_digest(package.manifest) if package else None
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
        echo(f"{row['reference']}  {row['digest']}")
