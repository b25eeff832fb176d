"""Offline transfer: save packages to an OCI-layout tar, load them back
verified as a pull is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mppoci.app.session import Session
from mppoci.errors import UserInputError

if TYPE_CHECKING:
    from mppoci.digest import Digest


@dataclass(frozen=True, slots=True)
class Saved:
    packages: int
    size: int  # bytes written


@dataclass(frozen=True, slots=True)
class Loaded:
    name: str  # publisher/tool:version, its tag in the store
    digest: Digest


def save_bundle(session: Session, references: Sequence[str], output: Path) -> Saved:
    """Write packages of the store, each verified first (the lock's pins
    applied), with their signatures into an OCI-layout tar at ``output``."""
    from mppoci.app.references import pinned, resolve_local
    from mppoci.app.verifying import verify_digest
    from mppoci.oci import mediatypes as mt
    from mppoci.oci.model import Descriptor
    from mppoci.package.bundle import write_bundle

    store = session.store
    entries = []
    for reference in references:
        verified = verify_digest(session, resolve_local(session, pinned(session, reference)))
        if verified.package is None:
            raise UserInputError(f"{reference} is not an mppoci package")
        m = verified.package.manifest
        body_size = store.blob_path(verified.digest).stat().st_size
        desc = Descriptor(
            mt.OCI_MANIFEST, verified.digest, body_size, artifact_type=mt.MPP_ARTIFACT
        )
        entries.append((desc, f"{m.name}:{m.version}"))
    return Saved(len(entries), write_bundle(store, entries, output))


def load_bundle(
    session: Session, bundle: Path, *, allow_downgrade: bool = False
) -> tuple[Loaded, ...]:
    """Load the packages of a tar written by :func:`save_bundle`: every one verified
    before any is added to the store; their versions remembered."""
    from mppoci.app.verifying import remember, verify_digest
    from mppoci.oci import mediatypes as mt
    from mppoci.package.bundle import open_bundle
    from mppoci.registry.transfer import Staged, adopt_package
    from mppoci.signing.cosign_manifest import signature_tag

    store = session.store
    loaded = []
    with open_bundle(bundle, store) as layout:
        packages = [e for e in layout.entries() if e.artifact_type == mt.MPP_ARTIFACT]
        if not packages:
            raise UserInputError(f"{bundle} holds no mppoci package")
        verified_all = [
            verify_digest(session, e.digest, allow_downgrade=allow_downgrade, store=layout)
            for e in packages
        ]
        for entry, verified in zip(packages, verified_all, strict=True):
            assert verified.package is not None
            m = verified.package.manifest
            staged = Staged(entry.digest, entry, layout.lookup(signature_tag(entry.digest)))
            adopt_package(layout, store, staged, ref_name=f"{m.name}:{m.version}", origin=None)
            loaded.append(Loaded(f"{m.name}:{m.version}", entry.digest))
    for verified in verified_all:
        remember(session, verified)
    return tuple(loaded)
