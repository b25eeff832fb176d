"""mppoci as a library, for hosts that embed it (agent frameworks, IDEs), and
the steps the CLI shares with it: verify (audited), require approval
(audited), execute (audited).

    from mppoci import api
    outcome = api.run("acme/word-count", stdin=b'{"text": "a b"}')
    outcome.exit_code, outcome.stdout

The same path as `mppoci run`, without a terminal: the package is verified
from its bytes, it must already be approved (or pinned with its permission
set in a lock file the caller names as the approval record), and it runs in a
fresh locked-down container.
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
from mppoci.errors import (
    Error,
    UntrustedContentError,
    UserInputError,
)
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
    except UntrustedContentError as e:
        # Every refusal of what was loaded: a bad signature, and as much a bad
        # manifest, a limit exceeded or damaged content.
        audit_refusal(locations, digest, e, origin)
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


def audit_refusal(
    locations: Locations, subject: str, error: Error, origin: str | None = None
) -> None:
    """Record that what was loaded (a digest, or a registry reference not
    yet fetched whole) was refused, and why."""
    events.verification(
        locations,
        digest=subject,
        subject=subject,
        accepted=False,
        detail=f"{type(error).__name__}: {error.message}",
        origin=origin,
    )


def load_audited(store: Store, locations: Locations, digest: Digest) -> StoredPackage:
    """Open a stored package without checking signatures (``inspect``, ``lock
    add``, a lock pin's name); a refusal of its content is audited as the
    gate's are.

    Raises NotFoundError, DigestMismatchError, UntrustedContentError, ManifestError."""
    from mppoci.package.stored import load

    try:
        return load(store, digest)
    except UntrustedContentError as e:
        audit_refusal(locations, digest, e)
        raise


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
    locations: Locations,
    package: StoredPackage,
    *,
    approving_lock: Path | None,
    reference: str,
) -> None:
    """Raise NotApprovedError (audited) unless the package may run.

    ``approving_lock`` is a lock file the user opted in to as the approval
    record for this invocation (``--lock FILE --approved-by-lock``); None
    (the default everywhere else) means no lock file approves anything. An
    approval taken from a lock is audited with the file and the entry; a
    package whose approval was revoked is never approved by a lock."""
    from mppoci.approval.binding import approval_digest
    from mppoci.approval.check import decide, lock_entry_approving, refusal, revoked_refusal
    from mppoci.approval.files import load_approvals
    from mppoci.approval.records import Status
    from mppoci.lockfile import load_lock

    m = package.manifest
    decision = decide(locations, m)
    if decision.status is Status.APPROVED:
        return
    error = refusal(m, decision, reference)
    if approving_lock is not None:
        entry = lock_entry_approving(load_lock(approving_lock), m, package.digest)
        if entry is not None:
            details = {
                "digest": package.digest,
                "permissions": approval_digest(m),
                "lockFile": str(approving_lock.absolute()),
                "entry": entry,
            }
            if m.name not in load_approvals(locations).revoked:
                events.approval(locations, "lock", m.name, **details)
                return
            error = revoked_refusal(m, reference, approving_lock)
            events.approval(locations, "missing", m.name, status="revoked", **details)
            raise error
    events.approval(
        locations,
        "missing",
        m.name,
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
    from mppoci.audit.log import ensure_appendable
    from mppoci.manifest import permissions_digest
    from mppoci.sandbox.launch import launch
    from mppoci.signals import interruption, signals_deferred, signals_raise

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

    # A run must be recorded: refuse before the sandbox starts what the
    # record's append would refuse after the tool ran.
    ensure_appendable(locations)

    def record(result: RunResult) -> None:
        for event in result.network_events:
            events.network(locations, package=m.name, digest=verified.digest, event=event)
        outcome = "timeout" if result.timed_out else "oom" if result.oom_killed else "exited"
        audit(outcome, result.duration_seconds, result)

    started = time.monotonic()
    result: RunResult | None = None
    recorded = False
    try:
        # SIGTERM and SIGHUP raise from here on (in the main thread), so that
        # the sandbox is removed and the run recorded, as with Ctrl-C; they
        # keep raising until the record is written.
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
            with signals_deferred():  # held while the record is written
                record(result)
                recorded = True
    except Error as e:
        if not recorded:
            with signals_deferred():
                audit("failed", time.monotonic() - started, error=e.message)
        raise
    except BaseException as e:
        signal_name = interruption(e)
        if signal_name is None or recorded:
            raise
        with signals_deferred():  # a second Ctrl-C must not cost the record
            if result is not None:
                # The tool had finished: record how, then stop.
                record(result)
            else:
                audit("interrupted", time.monotonic() - started, error=f"stopped by {signal_name}")
        raise
    return result


def run(
    reference: str,
    *,
    args: Sequence[str] = (),
    stdin: bytes = b"",
    mounts: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    locations: Locations | None = None,
    approved_by_lock: Path | None = None,
    record_args: bool = False,
) -> Outcome:
    """Run an approved package once and collect its output.

    ``approved_by_lock``: a lock file you opt in to as the approval record
    (as `mppoci --lock FILE --approved-by-lock run`); none is used otherwise,
    whatever lies in the working folder.

    Raises mppoci.errors.Error subclasses: NotFoundError, VerificationError,
    DigestMismatchError, NotApprovedError, PolicyError, RuntimeEngineError."""
    from mppoci.package.stored import resolve
    from mppoci.reference import parse_local
    from mppoci.sandbox.launch import RunRequest

    where = locations or locate()
    store = Store(where.store)
    digest = resolve(store, parse_local(reference))
    verified = load_verified(store, where, digest)
    assert verified.package is not None
    require_approval(where, verified.package, approving_lock=approved_by_lock, reference=reference)
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
