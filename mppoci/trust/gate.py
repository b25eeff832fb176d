"""The gate every use of a package passes: re-verify from the bytes on disk.

Nothing is cached: each load re-hashes the manifest, the config and the
content layer, re-reads the signatures and judges them against the current
trust policy (so a key revoked a minute ago is refused now), then checks
rollback. Commands that run, serve, push or save a package go through
:func:`verify`; ``inspect`` goes through it too and reports instead of
refusing.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from mppoci.digest import Digest
from mppoci.errors import DigestMismatchError, VerificationError
from mppoci.oci import mediatypes as mt
from mppoci.oci.model import Descriptor, ImageManifest, parse_image_manifest
from mppoci.package.stored import StoredPackage, load
from mppoci.store.layout import Store
from mppoci.store.signatures import read_evidence
from mppoci.text import terminal_safe
from mppoci.trust.policy import TrustPolicy
from mppoci.trust.rollback import RollbackState
from mppoci.trust.verdict import SignatureCheck, Subject, Verdict, evaluate_key, evaluate_policy

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Verified:
    """A subject whose bytes and signature were checked just now."""

    digest: Digest
    verdict: Verdict
    package: StoredPackage | None  # None for a plain OCI image


def _check_blob(store: Store, desc: Descriptor, what: str) -> None:
    size = 0
    with store.open_verified(desc.digest, what=what) as f:
        while chunk := f.read(_CHUNK):
            size += len(chunk)
            if size > desc.size:
                break
    if size != desc.size:
        raise DigestMismatchError(
            f"{what} {desc.digest} has {size} bytes where its descriptor says {desc.size}",
            hint="the store was modified on disk; remove the package and pull or build it again",
        )


def check_content(store: Store, digest: Digest) -> tuple[StoredPackage | None, Subject]:
    """Re-hash the manifest and every blob it names; return what it is.

    Raises DigestMismatchError, NotFoundError, UntrustedContentError."""
    body = store.read_bytes(digest, max_bytes=store.limits.oci_manifest_bytes, what="manifest")
    oci: ImageManifest = parse_image_manifest(body, limits=store.limits)
    if oci.artifact_type == mt.MPP_ARTIFACT:
        package = load(store, digest)  # re-hashes and strictly parses the config
        _check_blob(store, package.oci.layers[0], "package content")
        m = package.manifest
        return package, Subject(digest, m.name, m.version)
    for i, desc in enumerate((oci.config, *oci.layers)):
        _check_blob(store, desc, "image config" if i == 0 else f"image layer {i}")
    return None, Subject(digest, None)


_HINTS = {
    SignatureCheck.UNKNOWN_SIGNER: "if you trust the signer, add their public key: "
    "`mppoci trust add KEY.pub --publisher NAME --scope 'NAME/*'` (compare the key id "
    "with the one the publisher gives you)",
    SignatureCheck.OUT_OF_SCOPE: "the key is trusted for other packages only; widen its scope with "
    "`mppoci trust add KEY.pub --publisher NAME --scope PATTERN` if that is intended",
    SignatureCheck.WRONG_ORIGIN: "the key is trusted only for other registries; add one with "
    "`mppoci trust add KEY.pub --publisher NAME --scope PATTERN --registry HOST`",
    SignatureCheck.REVOKED: "a revoked key is never accepted again; get the package re-signed "
    "with a trusted key",
    SignatureCheck.OTHER_DIGEST: "the signature belongs to other content: the package was "
    "changed after signing, or the signature was copied from another package",
    SignatureCheck.BAD_PAYLOAD: "the signature is damaged; get the package and its signatures "
    "again",
    SignatureCheck.NO_TRUSTED_KEY: "the package was changed after signing, or it was signed by a "
    "key you do not trust; `mppoci trust list` shows the keys you trust",
    SignatureCheck.WRONG_KEY: "the package was changed after signing, or it was signed with "
    "another key",
}


def refusal(verdict: Verdict) -> VerificationError:
    if not verdict.results:
        return VerificationError(
            verdict.explain(),
            hint="sign it with `mppoci sign REF --key cosign.key`, or get a signed copy "
            "from its publisher",
            verdict=verdict,
        )
    hints = list(dict.fromkeys(_HINTS[r.outcome] for r in verdict.results))
    return VerificationError(
        verdict.explain(),
        hint="\n  ".join(terminal_safe(h) for h in hints),
        verdict=verdict,
        multiline=True,
    )


def verify(
    store: Store,
    digest: Digest,
    *,
    policy: TrustPolicy,
    rollback: RollbackState,
    key: ec.EllipticCurvePublicKey | None = None,
    allow_downgrade: bool = False,
    origin: str | None = None,
) -> Verified:
    """Check bytes, signatures and rollback for ``digest``; refuse on any failure.

    Raises DigestMismatchError, VerificationError, RollbackError, NotFoundError,
    UntrustedContentError. The caller records the accepted version in the
    rollback state."""
    package, subject = check_content(store, digest)
    if origin is None:
        entry = store.find_digest(digest)
        origin = entry.annotations.get(mt.ANNOTATION_ORIGIN) if entry else None
    if origin is not None:
        subject = Subject(subject.digest, subject.package_name, subject.version, origin)
    evidence = read_evidence(store, digest)
    if key is not None:
        verdict = evaluate_key(subject, evidence, key, policy)
    else:
        verdict = evaluate_policy(subject, evidence, policy)
    if verdict.accepted is None:
        raise refusal(verdict)
    if package is not None:
        rollback.check(
            package.manifest.name, package.manifest.version, allow_downgrade=allow_downgrade
        )
    return Verified(digest, verdict, package)
