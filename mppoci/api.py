"""mppoci as a library, for hosts that embed it (agent frameworks, IDEs), and
the steps the CLI shares with it: verify (audited), require approval
(audited), execute (audited).

    from mppoci import api
    outcome = api.run("acme/word-count", stdin=b'{"text": "a b"}')
    outcome.exit_code, outcome.stdout

The same path as `mppoci run`, without a terminal: the package is verified
from its bytes, it must already be approved (or pinned with its permission
set in the lock file), and it runs in a fresh locked-down container.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from mppoci.audit import events
from mppoci.digest import Digest
from mppoci.errors import DigestMismatchError, Error, UserInputError, VerificationError
from mppoci.locations import Locations, locate
from mppoci.store import Store

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from mppoci.package.stored import StoredPackage
    from mppoci.sandbox.docker_runner import RunResult
    from mppoci.sandbox.launch import RunRequest
    from mppoci.trust.gate import Verified


@dataclass(frozen=True, slots=True)
class Outcome:
    digest: Digest
    exit_code: int
    stdout: bytes = field(repr=False)
    stderr: bytes = field(repr=False)
    timed_out: bool
    oom_killed: bool
    duration_seconds: float


def verify_audited(
    store: Store,
    locations: Locations,
    digest: Digest,
    *,
    key: ec.EllipticCurvePublicKey | None = None,
    allow_downgrade: bool = False,
    origin: str | None = None,
) -> Verified:
    """The gate, with its verdict (accepted or refused, and why) in the audit log."""
    from mppoci.trust import files
    from mppoci.trust.gate import verify
    from mppoci.trust.rollback import RollbackError

    try:
        verified = verify(
            store,
            digest,
            policy=files.load_policy(locations),
            rollback=files.load_rollback(locations),
            key=key,
            allow_downgrade=allow_downgrade,
            origin=origin,
        )
    except (VerificationError, DigestMismatchError, RollbackError) as e:
        events.verification(
            locations,
            digest=digest,
            subject=digest,
            accepted=False,
            detail=e.message,
            origin=origin,
        )
        raise
    accepted = verified.verdict.accepted
    events.verification(
        locations,
        digest=digest,
        subject=verified.verdict.subject.describe(),
        accepted=True,
        detail=accepted.detail if accepted else "",
        signer=accepted.key_id if accepted else None,
        origin=origin,
    )
    return verified


def remember(locations: Locations, verified: Verified) -> None:
    """Record the verified version for rollback protection."""
    from mppoci.trust import files

    if verified.package is None:
        return
    m = verified.package.manifest
    files.update_rollback(locations, lambda state: state.record(m.name, m.version, verified.digest))


def load_verified(
    store: Store, locations: Locations, digest: Digest, *, allow_downgrade: bool = False
) -> Verified:
    """Verify a package and record it for rollback protection."""
    verified = verify_audited(store, locations, digest, allow_downgrade=allow_downgrade)
    if verified.package is None:
        raise UserInputError(f"{digest} is an OCI image, not an mppoci package")
    remember(locations, verified)
    return verified


def require_approval(
    locations: Locations, package: StoredPackage, *, lock_file: Path, reference: str
) -> None:
    """Raise NotApprovedError (audited) unless the package may run."""
    from mppoci.approval.check import approved_by_lock, decide, refusal
    from mppoci.approval.records import Status
    from mppoci.lockfile import load_lock

    decision = decide(locations, package.manifest)
    if decision.status is Status.APPROVED:
        return
    if approved_by_lock(load_lock(lock_file), package.manifest, package.digest):
        return
    error = refusal(package.manifest, decision, reference)
    events.approval(
        locations,
        "missing",
        package.manifest.name,
        digest=package.digest,
        status=decision.status.value,
    )
    raise error


def execute(
    store: Store,
    locations: Locations,
    verified: Verified,
    request: RunRequest,
    *,
    stdin: IO[bytes] | None,
    stdout: IO[bytes],
    stderr: IO[bytes],
    environ: Mapping[str, str],
    record_args: bool = False,
) -> RunResult:
    """Run a verified, approved package once; the run is audited either way."""
    from mppoci.manifest import permissions_digest
    from mppoci.sandbox.docker_runner import interruption, signals_deferred, signals_raise
    from mppoci.sandbox.launch import launch

    package = verified.package
    assert package is not None
    m = package.manifest
    accepted = verified.verdict.accepted

    def audit(
        outcome: str, duration: float, result: RunResult | None = None, error: str = ""
    ) -> None:
        events.run(
            locations,
            package=m.name,
            version=m.version,
            digest=verified.digest,
            signer=accepted.key_id if accepted else None,
            permissions=permissions_digest(m),
            args=request.args,
            record_args=record_args,
            env_names=list(request.env),
            mounts=dict(request.mounts),
            outcome=outcome,
            exit_code=result.exit_code if result else None,
            duration_ms=int(duration * 1000),
            timed_out=bool(result and result.timed_out),
            oom_killed=bool(result and result.oom_killed),
            error=error or None,
        )

    started = time.monotonic()
    try:
        # SIGTERM and SIGHUP raise from here on (in the main thread), so that
        # the sandbox is removed and the run recorded, as with Ctrl-C.
        with signals_raise():
            result = launch(
                store,
                package,
                request,
                locations,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                environ=environ,
            )
    except Error as e:
        audit("failed", time.monotonic() - started, error=e.message)
        raise
    except BaseException as e:
        signal_name = interruption(e)
        if signal_name is None:
            raise
        with signals_deferred():  # a second Ctrl-C must not cost the record
            audit("interrupted", time.monotonic() - started, error=f"stopped by {signal_name}")
        raise
    for event in result.network_events:
        events.network(locations, package=m.name, digest=verified.digest, event=event)
    outcome = "timeout" if result.timed_out else "oom" if result.oom_killed else "exited"
    audit(outcome, result.duration_seconds, result)
    return result


def run(
    reference: str,
    *,
    args: Sequence[str] = (),
    stdin: bytes = b"",
    mounts: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    locations: Locations | None = None,
    lock_file: Path | None = None,
    record_args: bool = False,
) -> Outcome:
    """Run an approved package once and collect its output.

    Raises mppoci.errors.Error subclasses: NotFoundError, VerificationError,
    DigestMismatchError, NotApprovedError, PolicyError, RuntimeEngineError."""
    from mppoci.lockfile import LOCK_FILE
    from mppoci.package.stored import resolve
    from mppoci.reference import parse_local
    from mppoci.sandbox.launch import RunRequest

    where = locations or locate()
    store = Store(where.store)
    digest = resolve(store, parse_local(reference))
    verified = load_verified(store, where, digest)
    assert verified.package is not None
    require_approval(
        where, verified.package, lock_file=lock_file or Path.cwd() / LOCK_FILE, reference=reference
    )
    out, err = io.BytesIO(), io.BytesIO()
    result = execute(
        store,
        where,
        verified,
        RunRequest(mounts=dict(mounts or {}), env=dict(env or {}), args=tuple(args)),
        stdin=io.BytesIO(stdin),
        stdout=out,
        stderr=err,
        environ={},  # nothing from the host's environment unless passed in env
        record_args=record_args,
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
