"""Offline transfer: save packages to an OCI-layout tar, load them back verified."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mppoci.cli import context, verifying
from mppoci.cli.options import AllowDowngrade
from mppoci.cli.output import echo
from mppoci.errors import UserInputError


def save(
    references: Annotated[list[str], typer.Argument(help="Packages in the local store.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The .tar file to write.")],
) -> None:
    """Write verified packages with their signatures into an OCI-layout tar."""
    from mppoci.oci import mediatypes as mt
    from mppoci.oci.model import Descriptor
    from mppoci.package.bundle import write_bundle

    store = context.store()
    entries = []
    for reference in references:
        verified = verifying.verify_or_ask(store, context.resolve_local(context.pinned(reference)))
        if verified.package is None:
            raise UserInputError(f"{reference} is not an mppoci package")
        m = verified.package.manifest
        body_size = store.blob_path(verified.digest).stat().st_size
        desc = Descriptor(
            mt.OCI_MANIFEST, verified.digest, body_size, artifact_type=mt.MPP_ARTIFACT
        )
        entries.append((desc, f"{m.name}:{m.version}"))
    size = write_bundle(store, entries, output)
    echo(f"saved {len(entries)} package(s) to {output} ({size} bytes)", err=True)


def load(
    bundle: Annotated[Path, typer.Argument(help="A .tar written by `mppoci save`.")],
    allow_downgrade: AllowDowngrade = False,
) -> None:
    """Load packages from an OCI-layout tar, verified like a pull; print their digests."""
    from mppoci.oci import mediatypes as mt
    from mppoci.package.bundle import open_bundle
    from mppoci.registry.transfer import Staged, adopt_package
    from mppoci.signing.cosign_manifest import signature_tag

    store = context.store()
    loaded = []
    with open_bundle(bundle, store) as layout:
        packages = [e for e in layout.entries() if e.artifact_type == mt.MPP_ARTIFACT]
        if not packages:
            raise UserInputError(f"{bundle} holds no mppoci package")
        verified_all = [
            verifying.verify_or_ask(layout, e.digest, allow_downgrade=allow_downgrade)
            for e in packages
        ]
        for entry, verified in zip(packages, verified_all, strict=True):
            assert verified.package is not None
            m = verified.package.manifest
            staged = Staged(entry.digest, entry, layout.lookup(signature_tag(entry.digest)))
            adopt_package(layout, store, staged, ref_name=f"{m.name}:{m.version}", origin=None)
            loaded.append((f"{m.name}:{m.version}", entry.digest))
    for verified in verified_all:
        verifying.remember(verified)
    for name, digest in loaded:
        echo(f"loaded {name}", err=True)
        echo(digest)


def register(app: typer.Typer) -> None:
    app.command()(save)
    app.command()(load)
