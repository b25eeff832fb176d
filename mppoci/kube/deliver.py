"""Delivering verified content inside a cluster: the two steps mppoci's own
image runs (``mppoci k8s fetch`` and ``mppoci k8s unpack``).

fetch:  registry -> scratch store (verified: digest, every blob, signature
        against the rendered trust policy) -> an OCI-layout bundle on the claim.
unpack: bundle -> scratch store (verified again, offline: the claim is shared
        storage, so nothing on it is trusted) -> the pod-private content folder.

Neither step trusts the other: each re-hashes every byte and re-checks the
signature against the trust policy rendered from the user's own.
"""

from __future__ import annotations

import time
from pathlib import Path

from mppoci.digest import Digest
from mppoci.errors import NotFoundError, UserInputError, VerificationError
from mppoci.oci import mediatypes as mt
from mppoci.oci.model import Descriptor
from mppoci.package.bundle import open_bundle, write_bundle
from mppoci.reference import RemoteRef
from mppoci.registry.client import RegistryClient
from mppoci.sandbox.launch import unpack
from mppoci.store.layout import Store
from mppoci.trust.gate import Verified, verify
from mppoci.trust.policy import TrustPolicy, parse_policy
from mppoci.trust.rollback import RollbackState


def read_trust(path: Path) -> TrustPolicy:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise NotFoundError(f"cannot read the trust policy {path}: {e.strerror}") from None
    policy = parse_policy(data)
    if not policy.keys:
        raise VerificationError(
            f"the trust policy {path} trusts no key, so nothing can be verified",
            hint="render again with a key that covers this package (`mppoci trust add`)",
        )
    return policy


def _check(store: Store, digest: Digest, policy: TrustPolicy, origin: str) -> Verified:
    # Rollback was checked where the render pinned this digest; a pod has no history.
    verified = verify(store, digest, policy=policy, rollback=RollbackState(), origin=origin)
    if verified.package is None:
        raise VerificationError(f"{digest} is not an mppoci package")
    return verified


def fetch_bundle(
    client: RegistryClient, ref: RemoteRef, policy: TrustPolicy, scratch: Store, output: Path
) -> Verified:
    """Pull ``ref`` (pinned by digest), verify it, and write it as a bundle."""
    from mppoci.registry.transfer import adopt_package, fetch

    if ref.digest is None:
        raise UserInputError(f"{ref} is not pinned by digest")
    with scratch.staging() as staging:
        staged = fetch(client, ref, staging, scratch)
        if staged.digest != ref.digest:
            raise VerificationError(f"the registry served {staged.digest} for {ref}")
        verified = _check(staging, staged.digest, policy, ref.registry)
        assert verified.package is not None
        m = verified.package.manifest
        ref_name = f"{m.name}:{m.version}"
        adopt_package(staging, scratch, staged, ref_name=ref_name, origin=ref.registry)
    desc = Descriptor(
        mt.OCI_MANIFEST, staged.digest, staged.manifest.size, artifact_type=mt.MPP_ARTIFACT
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    write_bundle(scratch, [(desc, ref_name)], output)
    return verified


def wait_for(path: Path, seconds: float, *, poll: float = 1.0) -> None:
    """Wait until the fetch step has written ``path`` (written atomically)."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() >= deadline:
            raise NotFoundError(
                f"{path} did not appear within {seconds:g} s",
                hint="check the fetch Job: `kubectl logs job/<name>-fetch`",
            )
        time.sleep(poll)


def unpack_bundle(
    bundle: Path,
    digest: Digest,
    policy: TrustPolicy,
    scratch: Store,
    into: Path,
    *,
    origin: str,
) -> Verified:
    """Verify the pinned package in ``bundle`` offline and unpack its content into ``into``."""
    with open_bundle(bundle, scratch) as layout:
        if layout.find_digest(digest) is None:
            raise VerificationError(
                f"{bundle} does not hold the pinned package {digest}",
                hint="the bundle on the claim was replaced or is from another render",
            )
        verified = _check(layout, digest, policy, origin)
        assert verified.package is not None
        unpack(layout, verified.package, into)
    return verified
