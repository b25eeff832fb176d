"""Moving packages with their signatures between the store and registries.

Pull stages everything in a private layout, verifies it there (digests while
streaming, then the signature against the trust policy), and only then adopts
it into the store: a failure at any step leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mppoci.digest import Digest
from mppoci.errors import LimitExceededError, UserInputError
from mppoci.oci import mediatypes as mt
from mppoci.oci.model import Descriptor, parse_image_manifest
from mppoci.reference import RemoteRef
from mppoci.registry.client import RegistryClient
from mppoci.signing.cosign_manifest import append_signature, parse_signature_manifest, signature_tag
from mppoci.store.layout import Store

_MAX_SIGNATURE_BLOB = 64 * 1024

# Called with (what, bytes done so far, total bytes) as blobs move.
ProgressFactory = Callable[[str, int], Callable[[int], None]]


def _no_progress(what: str, total: int) -> Callable[[int], None]:
    return lambda n: None


def reference_of(ref: RemoteRef) -> str:
    if ref.digest:
        return ref.digest
    if ref.tag:
        return ref.tag
    raise UserInputError(
        f"{ref} names no tag or digest",
        hint="add :TAG or @sha256:<digest>; mppoci never guesses :latest",
    )


@dataclass(frozen=True, slots=True)
class Staged:
    digest: Digest
    manifest: Descriptor
    signatures: Descriptor | None


def _fetch_blob(
    client: RegistryClient,
    repository: str,
    desc: Descriptor,
    staging: Store,
    main: Store,
    progress: ProgressFactory,
    max_bytes: int,
) -> None:
    if desc.size > max_bytes:
        raise LimitExceededError(
            f"blob {desc.digest} declares {desc.size} bytes, over the limit of {max_bytes}",
            hint="the package is larger than mppoci accepts; nothing was stored",
        )
    if main.has_blob(desc.digest):
        staging.adopt(main, desc.digest)  # re-hashed by the verification that follows
        return
    with staging.writer(max_bytes=max(desc.size, 1)) as writer:
        client.fetch_blob(repository, desc, writer, progress(desc.digest[:19], desc.size))


def fetch(
    client: RegistryClient,
    ref: RemoteRef,
    staging: Store,
    main: Store,
    *,
    progress: ProgressFactory = _no_progress,
) -> Staged:
    """Download a manifest, its blobs and its signatures into ``staging``.

    Blobs the main store already has are linked, not downloaded. Raises
    TransportError, AuthError, NotFoundError, DigestMismatchError,
    LimitExceededError."""
    limits = main.limits
    repository = ref.repository
    if ref.digest and main.has_blob(ref.digest):
        staging.adopt(main, ref.digest)
        body = staging.read_bytes(ref.digest, max_bytes=limits.oci_manifest_bytes)
        digest = ref.digest
    else:
        body, _, digest = client.get_manifest(
            repository, reference_of(ref), max_bytes=limits.oci_manifest_bytes
        )
        staging.put_bytes(body, expected=digest)
    oci = parse_image_manifest(body, limits=limits)
    for desc in (oci.config, *oci.layers):
        _fetch_blob(client, repository, desc, staging, main, progress, limits.layer_bytes)
    manifest = Descriptor(mt.OCI_MANIFEST, digest, len(body), artifact_type=oci.artifact_type)
    staging.tag(manifest, "subject")

    tag = signature_tag(digest)
    local = main.lookup(tag)
    remote = client.get_manifest_or_none(repository, tag, max_bytes=limits.oci_manifest_bytes)
    sig_body: bytes | None = None
    if remote is not None:
        sig_body = remote[0]
        staging.put_bytes(sig_body, expected=remote[2])
        sig_oci = parse_image_manifest(sig_body, limits=limits)
        for desc in (sig_oci.config, *sig_oci.layers):
            _fetch_blob(client, repository, desc, staging, main, progress, _MAX_SIGNATURE_BLOB)
    if local is not None:
        # Keep signatures this store already had (e.g. added here with `sign`).
        local_body = main.read_bytes(local.digest, max_bytes=limits.oci_manifest_bytes)
        for layer in parse_signature_manifest(local_body):
            staging.adopt(main, layer.payload_digest)
            config, sig_body = append_signature(sig_body, layer)
            staging.put_bytes(config)
    signatures = None
    if sig_body is not None:
        sig_digest = staging.put_bytes(sig_body)
        signatures = Descriptor(mt.OCI_MANIFEST, sig_digest, len(sig_body))
        staging.tag(signatures, tag)
    return Staged(digest, manifest, signatures)


def adopt_package(
    staging: Store, main: Store, staged: Staged, *, ref_name: str | None, origin: str | None
) -> None:
    """Move a verified staged package (and its signatures) into ``main``."""
    for digest in staging.blob_digests():
        main.adopt(staging, digest)
    if ref_name is not None:
        annotations = {mt.ANNOTATION_ORIGIN: origin} if origin else {}
        main.tag(
            Descriptor(
                staged.manifest.media_type,
                staged.digest,
                staged.manifest.size,
                annotations=annotations,
                artifact_type=staged.manifest.artifact_type,
            ),
            ref_name,
        )
    if staged.signatures is not None:
        main.tag(staged.signatures, signature_tag(staged.digest))


def push(
    client: RegistryClient,
    store: Store,
    digest: Digest,
    dest: RemoteRef,
    *,
    progress: ProgressFactory = _no_progress,
) -> Digest:
    """Upload a manifest, its blobs and its signatures. The caller verified it.

    Blobs the registry has are skipped. Returns the pushed digest."""
    limits = store.limits
    repository = dest.repository
    if dest.digest and dest.digest != digest:
        raise UserInputError(f"{dest} names another digest than the package's {digest}")
    body = store.read_bytes(digest, max_bytes=limits.oci_manifest_bytes)
    _push_blobs(client, store, repository, body, progress)
    client.put_manifest(repository, dest.tag or digest, body, mt.OCI_MANIFEST)
    sig = store.lookup(signature_tag(digest))
    if sig is not None:
        sig_body = store.read_bytes(sig.digest, max_bytes=limits.oci_manifest_bytes)
        _push_blobs(client, store, repository, sig_body, progress)
        client.put_manifest(repository, signature_tag(digest), sig_body, mt.OCI_MANIFEST)
    return digest


def _push_blobs(
    client: RegistryClient, store: Store, repository: str, body: bytes, progress: ProgressFactory
) -> None:
    oci = parse_image_manifest(body, limits=store.limits)
    for desc in (oci.config, *oci.layers):
        if client.blob_exists(repository, desc.digest):
            continue
        # The store re-hashes it first; the registry checks the digest again on upload.
        with store.open_verified(desc.digest) as f:
            while f.read(1 << 20):
                pass
        with store.blob_path(desc.digest).open("rb") as f:
            client.push_blob(repository, desc, f)
        progress(desc.digest[:19], desc.size)(desc.size)
