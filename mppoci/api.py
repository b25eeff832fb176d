"""mppoci as a library, for hosts that embed it (agent frameworks, IDEs).

The same path as `mppoci run`, without a terminal: the package is verified
from its bytes, it must already be approved (or pinned with its permission
set in the lock file), and it runs in a fresh locked-down container.

    from mppoci import api
    outcome = api.run("acme/word-count", stdin=b'{"text": "a b"}')
    outcome.exit_code, outcome.stdout
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mppoci.approval.check import approved_by_lock, decide, refusal
from mppoci.approval.records import Status
from mppoci.digest import Digest
from mppoci.errors import UserInputError
from mppoci.locations import Locations, locate
from mppoci.lockfile import LOCK_FILE, load_lock
from mppoci.package.stored import StoredPackage, resolve
from mppoci.reference import parse_local
from mppoci.sandbox.launch import RunRequest, launch
from mppoci.store import Store
from mppoci.trust import files
from mppoci.trust.gate import Verified, verify


@dataclass(frozen=True, slots=True)
class Outcome:
    digest: Digest
    exit_code: int
    stdout: bytes = field(repr=False)
    stderr: bytes = field(repr=False)
    timed_out: bool
    oom_killed: bool
    duration_seconds: float


def load_verified(
    store: Store, locations: Locations, digest: Digest, *, allow_downgrade: bool = False
) -> Verified:
    """Verify a package from its bytes against the trust policy and record it
    for rollback protection. Raises the gate's errors."""
    verified = verify(
        store,
        digest,
        policy=files.load_policy(locations),
        rollback=files.load_rollback(locations),
        allow_downgrade=allow_downgrade,
    )
    if verified.package is None:
        raise UserInputError(f"{digest} is an OCI image, not an mppoci package")
    m = verified.package.manifest
    files.update_rollback(locations, lambda state: state.record(m.name, m.version, digest))
    return verified


def require_approval(
    locations: Locations, package: StoredPackage, *, lock_file: Path, reference: str
) -> None:
    """Raise NotApprovedError unless the package may run."""
    decision = decide(locations, package.manifest)
    if decision.status is Status.APPROVED:
        return
    if approved_by_lock(load_lock(lock_file), package.manifest, package.digest):
        return
    raise refusal(package.manifest, decision, reference)


def run(
    reference: str,
    *,
    args: Sequence[str] = (),
    stdin: bytes = b"",
    mounts: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    locations: Locations | None = None,
    lock_file: Path | None = None,
) -> Outcome:
    """Run an approved package once and collect its output.

    Raises mppoci.errors.Error subclasses: NotFoundError, VerificationError,
    DigestMismatchError, NotApprovedError, PolicyError, RuntimeEngineError."""
    where = locations or locate()
    store = Store(where.store)
    digest = resolve(store, parse_local(reference))
    verified = load_verified(store, where, digest)
    assert verified.package is not None
    require_approval(
        where, verified.package, lock_file=lock_file or Path.cwd() / LOCK_FILE, reference=reference
    )
    out, err = io.BytesIO(), io.BytesIO()
    result = launch(
        store,
        verified.package,
        RunRequest(mounts=dict(mounts or {}), env=dict(env or {}), args=tuple(args)),
        where,
        stdin=io.BytesIO(stdin),
        stdout=out,
        stderr=err,
        environ={},  # nothing from the host's environment unless passed in env
    )
    return Outcome(
        digest=digest,
        exit_code=result.exit_code,
        stdout=out.getvalue(),
        stderr=err.getvalue(),
        timed_out=result.timed_out,
        oom_killed=result.oom_killed,
        duration_seconds=result.duration_seconds,
    )
