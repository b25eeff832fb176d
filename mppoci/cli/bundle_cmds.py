"""Offline transfer: save packages to an OCI-layout tar, load them back verified."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mppoci.cli import context
from mppoci.cli.options import AllowDowngrade
from mppoci.cli.output import echo


def save(
    references: Annotated[list[str], typer.Argument(help="Packages in the local store.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The .tar file to write.")],
) -> None:
    """Write verified packages with their signatures into an OCI-layout tar."""
    from mppoci.app.bundles import save_bundle

    saved = save_bundle(context.session(), references, output)
    echo(f"saved {saved.packages} package(s) to {output} ({saved.size} bytes)", err=True)


def load(
    bundle: Annotated[Path, typer.Argument(help="A .tar written by `mppoci save`.")],
    allow_downgrade: AllowDowngrade = False,
) -> None:
    """Load packages from an OCI-layout tar, verified like a pull; print their digests."""
    from mppoci.app.bundles import load_bundle

    for package in load_bundle(context.session(), bundle, allow_downgrade=allow_downgrade):
        echo(f"loaded {package.name}", err=True)
        echo(package.digest)


def register(app: typer.Typer) -> None:
    app.command()(save)
    app.command()(load)
