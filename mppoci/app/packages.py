"""Packages in the local store: scaffold, build, assess, list, remove.

``assess`` is what ``inspect`` shows: a package's identity and where it
stands against the trust policy, reported rather than refused.
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mppoci.app.session import Session
from mppoci.errors import NotFoundError

if TYPE_CHECKING:
    from collections.abc import Callable

    from mppoci.digest import Digest
    from mppoci.manifest import Manifest, RuntimeRef


@dataclass(frozen=True, slots=True)
class PackageView:
    """What ``inspect`` shows: the manifest, where it came from, and its status."""

    manifest: Manifest
    digest: Digest | None
    source: str  # "store" or "folder"
    # verified, unsigned, untrusted, tampered, rollback, or not-built (a folder)
    verification: str
    verification_detail: str

    @property
    def permissions_digest(self) -> str:
        from mppoci.manifest import permissions_digest

        return permissions_digest(self.manifest)

    def document(self) -> dict[str, Any]:
        """The manifest as its JSON document."""
        from mppoci.manifest import to_document

        return to_document(self.manifest)


@dataclass(frozen=True, slots=True)
class Built:
    """A folder built into the store. ``replaced``: the digest its tag named
    before, when that was another build."""

    digest: Digest
    ref_name: str
    replaced: Digest | None


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One package of the store's listing."""

    name: str
    version: str
    digest: Digest
    signed: bool


@dataclass(frozen=True, slots=True)
class Removed:
    digest: Digest
    names: tuple[str, ...]  # the tags that named it


def _resolver(session: Session) -> Callable[[RuntimeRef], RuntimeRef]:
    """Pins a runtime name to its local image ID, asking the session's engine
    (connected only when a name needs pinning)."""

    def resolve(ref: RuntimeRef) -> RuntimeRef:
        # Imported here: docker-py is slow to import and most commands never need it.
        from mppoci.runtimes.images import resolve_runtime

        return resolve_runtime(ref, None if ref.digest is not None else session.engine())

    return resolve


def scaffold(session: Session, folder: Path, *, name: str | None = None) -> tuple[Path, ...]:
    """Write a working sample package (a Python tool) into ``folder`` (new or
    empty), named ``name`` (default ``local/<folder>``). Returns the files written.

    Raises UserInputError for a bad name or a folder with files in it."""
    from mppoci.package.scaffold import default_name
    from mppoci.package.scaffold import scaffold as write_sample
    from mppoci.reference import parse_local

    package_name = name or default_name(folder)
    parse_local(package_name)  # the same grammar as references, checked before writing
    author = f"{getpass.getuser()} <{getpass.getuser()}@{socket.gethostname()}>"
    return tuple(write_sample(folder, name=package_name, author=author))


def build(session: Session, folder: Path) -> Built:
    """Build a package folder into the store (unsigned), its runtime pinned
    to a digest. SOURCE_DATE_EPOCH from the session makes it reproducible."""
    from mppoci.package.artifact import build_into_store

    artifact, replaced = build_into_store(
        folder,
        session.store,
        resolve_runtime=_resolver(session),
        source_date_epoch=session.source_date_epoch(),
    )
    was = replaced.digest if replaced is not None and replaced.digest != artifact.digest else None
    return Built(artifact.digest, artifact.ref_name, was)


def verification_status(session: Session, digest: Digest) -> tuple[str, str]:
    """Re-verify as every load does, but report instead of refusing: the
    status (verified, unsigned, untrusted, tampered, rollback) and why."""
    from mppoci.errors import DigestMismatchError, RollbackError, VerificationError
    from mppoci.trust import files
    from mppoci.trust.gate import verify

    try:
        verified = verify(
            session.store,
            digest,
            policy=files.load_policy(session.locations),
            rollback=files.load_rollback(session.locations),
        )
    except DigestMismatchError as e:
        return "tampered", e.message
    except RollbackError as e:
        return "rollback", e.message
    except VerificationError as e:
        if e.verdict is not None and not e.verdict.results:
            return "unsigned", "no signature; sign it with `mppoci sign` before you share it"
        return "untrusted", e.message
    accepted = verified.verdict.accepted
    return "verified", accepted.detail if accepted else ""


def assess(session: Session, reference: str) -> PackageView:
    """A package of the store (the lock's pins applied) and where it stands.
    Its content is checked (a refusal audited); its signatures are reported.

    Raises NotFoundError, UntrustedContentError, PinMismatchError."""
    from mppoci.app.references import pinned, resolve_local
    from mppoci.app.verifying import load_audited

    package = load_audited(session, resolve_local(session, pinned(session, reference)))
    status, detail = verification_status(session, package.digest)
    return PackageView(package.manifest, package.digest, "store", status, detail)


def assess_folder(session: Session, folder: Path) -> PackageView:
    """A package folder as it would build now (nothing is stored), or its
    source manifest when it cannot be built yet."""
    from mppoci.package.artifact import preview, read_source_manifest

    try:
        artifact = preview(
            folder,
            resolve_runtime=_resolver(session),
            source_date_epoch=session.source_date_epoch(),
        )
    except NotFoundError as e:
        if not (folder / "mpp.yaml").is_file():
            raise
        manifest = read_source_manifest(folder)
        return PackageView(manifest, None, "folder", "not-built", e.message)
    detail = "a fresh build from a folder, never signed; `mppoci build` stores it"
    return PackageView(artifact.manifest, artifact.digest, "folder", "unsigned", detail)


def list_packages(session: Session) -> tuple[StoredEntry, ...]:
    """Every package in the store, by tag, and whether a signature is kept beside it."""
    from mppoci.package.stored import package_tags
    from mppoci.signing.cosign_manifest import signature_tag

    store = session.store
    tagged = {
        entry.annotations.get("org.opencontainers.image.ref.name") for entry in store.entries()
    }
    rows = []
    for tag, digest in sorted(package_tags(store).items()):
        name, _, version = tag.partition(":")
        rows.append(StoredEntry(name, version, digest, signature_tag(digest) in tagged))
    return tuple(rows)


def remove(session: Session, reference: str) -> Removed:
    """Remove a package and its signatures from the store's index."""
    from mppoci.app.references import resolve_local
    from mppoci.package.stored import package_tags
    from mppoci.signing.cosign_manifest import signature_tag

    store = session.store
    digest = resolve_local(session, reference)
    names = tuple(tag for tag, d in package_tags(store).items() if d == digest)
    for name in names:
        store.untag(name)
    store.untag(signature_tag(digest))
    return Removed(digest, names)
