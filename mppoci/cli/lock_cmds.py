"""``mppoci lock``: pin references to digests in mppoci.lock."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mppoci.app import terminal_safe
from mppoci.cli import context, registry_opts
from mppoci.cli.output import echo

app = typer.Typer(help="Pin references to digests (mppoci.lock).", no_args_is_help=True)


@app.command("add")
def add(
    reference: Annotated[str, typer.Argument(help="A package reference to pin.")],
    ca_file: registry_opts.CaFile = None,
    insecure: registry_opts.Insecure = False,
    timeout: registry_opts.Timeout = 30.0,
) -> None:
    """Pin REF to the digest it names now, with the digest of what approving it grants."""
    from mppoci.app.locking import add_pin

    options = registry_opts.options(ca_file, insecure, timeout)
    pinned = add_pin(context.session(), reference, options)
    echo(f"pinned {reference} to {pinned.digest} in {pinned.lock_file}", err=True)


@app.command("list")
def list_(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the pins in the lock file."""
    from mppoci.app.locking import pins

    rows = [
        {"reference": r, "digest": p.digest, "permissions": p.permissions}
        for r, p in pins(context.session())
    ]
    if json_out:
        echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        echo(f"{terminal_safe(str(row['reference']))}  {row['digest']}")
