"""Approval: what a package asks for, the person's answer, and the record.

Only a person approves: through the session's prompter, or by a scripted
``approve --yes`` they typed, or (for one invocation they opted in to) a
lock entry they reviewed. Each grant, refusal and revocation is written
together with its audit record.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from mppoci.app.prompter import ApprovalQuestion
from mppoci.app.session import Session
from mppoci.audit import events
from mppoci.errors import NotApprovedError, NotFoundError

if TYPE_CHECKING:
    from mppoci.approval.records import Approval, Decision
    from mppoci.manifest import Manifest
    from mppoci.package.stored import StoredPackage
    from mppoci.trust.gate import Verified

SCRIPTED = "--yes (scripted)"


@dataclass(frozen=True, slots=True)
class Review:
    """A verified package, and how it stands against what was approved."""

    verified: Verified
    decision: Decision
    question: ApprovalQuestion

    @property
    def package(self) -> StoredPackage:
        assert self.verified.package is not None
        return self.verified.package

    @property
    def approved(self) -> bool:
        from mppoci.approval.records import Status

        return self.decision.status is Status.APPROVED


def review(session: Session, verified: Verified) -> Review:
    """Where a verified package stands: approved, never approved, or asking
    for other permissions than were approved (with the difference)."""
    from mppoci.approval.check import decide

    assert verified.package is not None
    m = verified.package.manifest
    decision = decide(session.locations, m)
    return Review(verified, decision, approval_question(m, decision))


def approval_question(manifest: Manifest, decision: Decision) -> ApprovalQuestion:
    """The question a person answers to approve ``manifest``, given how it
    stands (``decision``) against what they approved before."""
    from mppoci.approval.records import Status
    from mppoci.approval.words import permission_lines

    return ApprovalQuestion(
        package=manifest.name,
        version=manifest.version,
        publisher=manifest.publisher,
        lines=permission_lines(manifest),
        changed=decision.status is Status.CHANGED,
        added=decision.added,
        removed=decision.removed,
    )


def record(session: Session, reviewed: Review, how: str) -> Approval:
    """Record the approval of what ``reviewed`` showed, with its audit record."""
    from mppoci.approval.binding import approval_digest
    from mppoci.approval.files import update_approvals
    from mppoci.approval.records import Approval, Approvals

    m = reviewed.package.manifest
    approval = Approval(
        package=m.name,
        publisher=m.publisher,
        digest=reviewed.verified.digest,
        permissions=approval_digest(m),
        lines=reviewed.question.lines,
        approved_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        approved_by=getpass.getuser(),
        how=how,
    )
    with events.change(session.locations):
        update_approvals(session.locations, partial(Approvals.with_approval, approval=approval))
        events.approval(
            session.locations,
            "grant",
            m.name,
            digest=reviewed.verified.digest,
            permissions=approval.permissions,
            how=how,
            allows=list(approval.lines),
        )
    return approval


def ask(session: Session, reviewed: Review) -> bool:
    """Ask the session's prompter; record the approval if it says yes (only
    ``True`` is a yes: anything else a host returns is a "no")."""
    if session.prompter.approve(reviewed.question) is not True:
        return False
    record(session, reviewed, session.prompter.how)
    return True


def approve(session: Session, reviewed: Review, *, scripted: bool = False) -> bool:
    """Approve a reviewed package: ``scripted`` records the approval the
    person typed as ``--yes`` (the front end has shown the question);
    otherwise the prompter is asked. False if it said no. Nothing is
    recorded for a package that is already approved."""
    if reviewed.approved:
        return True
    if scripted:
        record(session, reviewed, SCRIPTED)
        return True
    return ask(session, reviewed)


def require_approval(session: Session, package: StoredPackage, *, reference: str) -> None:
    """Raise NotApprovedError (audited) unless the package may run.

    A lock file approves only when the session says the user opted in to it
    for this invocation (:attr:`Session.approving_lock`). An approval taken
    from a lock is audited with the file and the entry; a package whose
    approval was revoked is never approved by a lock."""
    from mppoci.approval.binding import approval_digest
    from mppoci.approval.check import decide, lock_entry_approving, refusal, revoked_refusal
    from mppoci.approval.files import load_approvals
    from mppoci.approval.records import Status
    from mppoci.lockfile import load_lock

    m = package.manifest
    decision = decide(session.locations, m)
    if decision.status is Status.APPROVED:
        return
    error = refusal(m, decision, reference)
    lock = session.approving_lock
    if lock is not None:
        entry = lock_entry_approving(load_lock(lock, limits=session.limits), m, package.digest)
        if entry is not None:
            details = {
                "digest": package.digest,
                "permissions": approval_digest(m),
                "lockFile": str(lock.absolute()),
                "entry": entry,
            }
            if m.name not in load_approvals(session.locations).revoked:
                events.approval(session.locations, "lock", m.name, **details)
                return
            error = revoked_refusal(m, reference, lock)
            events.approval(session.locations, "missing", m.name, status="revoked", **details)
            raise error
    events.approval(
        session.locations,
        "missing",
        m.name,
        digest=package.digest,
        status=decision.status.value,
    )
    raise error


def authorize(session: Session, verified: Verified, *, reference: str) -> None:
    """Let a verified package run: approved already (or by the opted-in
    lock), or approved now by the prompter. Raises NotApprovedError."""
    assert verified.package is not None
    try:
        require_approval(session, verified.package, reference=reference)
    except NotApprovedError:
        if not ask(session, review(session, verified)):
            raise


def approvals(session: Session) -> tuple[Approval, ...]:
    """Every approval on record, by package name."""
    from mppoci.approval.files import load_approvals

    return tuple(
        sorted(load_approvals(session.locations).by_package.values(), key=lambda a: a.package)
    )


def revoke(session: Session, reference: str) -> str:
    """Withdraw a package's approval (audited); it is remembered, so that a
    lock file can never approve it again. Returns the package name.

    Raises NotFoundError when it has none."""
    from mppoci.approval.files import load_approvals, update_approvals
    from mppoci.approval.records import Approvals

    name = reference.split(":", 1)[0]
    if name not in load_approvals(session.locations).by_package:
        raise NotFoundError(f"{name} has no approval", hint="see `mppoci approvals list`")
    revoked_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with events.change(session.locations):
        update_approvals(
            session.locations, partial(Approvals.without, package=name, revoked_at=revoked_at)
        )
        events.approval(session.locations, "revoke", name)
    return name
