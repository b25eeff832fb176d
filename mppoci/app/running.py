"""Running a package: once, in a fresh locked-down container, audited.

    from mppoci.app import Session, run
    outcome = run(Session.open(), "acme/word-count", stdin=b'{"text": "a b"}')
    outcome.exit_code, outcome.stdout

The same path as `mppoci run`: the package is verified from its bytes, it
must be approved (by a person earlier, by the session's prompter now, or by
a lock file the person opted in to for this session), and it runs in a
fresh container with only what it declared and was granted.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from mppoci.app.session import Session
from mppoci.audit import events
from mppoci.digest import Digest
from mppoci.errors import Error
from mppoci.sandbox.exit_status import SECCOMP_TEXT, Stopped, stopped_by

if TYPE_CHECKING:
    from mppoci.sandbox.docker_runner import RunResult
    from mppoci.sandbox.launch import RunRequest
    from mppoci.trust.gate import Verified


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How one run ended, with everything the tool wrote."""

    package: str  # publisher/tool
    version: str
    digest: Digest
    exit_code: int
    stdout: bytes = field(repr=False)
    stderr: bytes = field(repr=False)
    timed_out: bool
    oom_killed: bool
    duration_seconds: float
    # The signal that ended the tool, if one did (SIGSYS: the seccomp filter).
    stopped: Stopped | None = None


def execute(
    session: Session,
    verified: Verified,
    request: RunRequest,
    *,
    stdin: IO[bytes] | None,
    stdout: IO[bytes],
    stderr: IO[bytes],
    record_args: bool = False,
) -> RunResult:
    """Run a verified, approved package once in a fresh sandbox, streaming
    its input and output; the run is audited either way (also when mppoci is
    stopped by a signal while it runs). ``--env NAME`` values without one are
    taken from the session's environment."""
    from mppoci.audit.log import ensure_appendable
    from mppoci.manifest import permissions_digest
    from mppoci.sandbox.launch import launch, refuse_at_start
    from mppoci.signals import interruption, signals_deferred, signals_raise

    locations = session.locations
    package = verified.package
    assert package is not None
    m = package.manifest
    accepted = verified.verdict.accepted

    def audit(
        outcome: str, duration: float, result: RunResult | None = None, error: str = ""
    ) -> None:
        stopped = stopped_by(result.exit_code) if result and not result.timed_out else None
        if stopped is not None and stopped.by_seccomp and not error:
            error = SECCOMP_TEXT
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
            signal=stopped.signal if stopped is not None else None,
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
        # What no host could give (a required folder unbound, a fixed
        # variable given) is refused before the engine is asked anything.
        refuse_at_start(m, request)
        # SIGTERM and SIGHUP raise from here on (in the main thread), so that
        # the sandbox is removed and the run recorded, as with Ctrl-C; they
        # keep raising until the record is written.
        with signals_raise():
            result = launch(
                session.store,
                package,
                request,
                locations,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                environ=session.environ,
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
    session: Session,
    reference: str,
    *,
    args: Sequence[str] = (),
    stdin: bytes = b"",
    mounts: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    record_args: bool = False,
) -> RunOutcome:
    """Verify, authorize and run a package once; collect its output.

    Raises mppoci.errors.Error subclasses: NotFoundError, VerificationError,
    DigestMismatchError, NotApprovedError, PolicyError, RuntimeEngineError."""
    from mppoci.app.approving import authorize
    from mppoci.app.verifying import open_verified
    from mppoci.sandbox.launch import RunRequest

    verified = open_verified(session, reference)
    authorize(session, verified, reference=reference)
    out, err = io.BytesIO(), io.BytesIO()
    result = execute(
        session,
        verified,
        RunRequest(mounts=dict(mounts or {}), env=dict(env or {}), args=tuple(args)),
        stdin=io.BytesIO(stdin),
        stdout=out,
        stderr=err,
        record_args=record_args,
    )
    assert verified.package is not None
    return RunOutcome(
        package=verified.package.manifest.name,
        version=verified.package.manifest.version,
        digest=verified.digest,
        exit_code=result.exit_code,
        stdout=out.getvalue(),
        stderr=err.getvalue(),
        timed_out=result.timed_out,
        oom_killed=result.oom_killed,
        duration_seconds=result.duration_seconds,
        stopped=None if result.timed_out else stopped_by(result.exit_code),
    )
