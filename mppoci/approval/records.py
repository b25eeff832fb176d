"""Approval records and the decision whether a package may run. Pure.

An approval is bound to the package name, its publisher, the approved digest
and the digest of its permission set. An update whose permission set is the
same keeps the approval; one whose set differs needs a new approval, and the
difference is shown in words.

A revocation is remembered (package name and when), so that nothing but a
person's new approval brings the package back: a lock file never does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from mppoci.digest import Digest, is_digest
from mppoci.errors import UntrustedContentError


@dataclass(frozen=True, slots=True)
class Approval:
    package: str
    publisher: str
    digest: Digest
    permissions: Digest
    lines: tuple[str, ...]  # what the user saw and approved
    approved_at: str
    approved_by: str
    how: str  # "terminal", "--yes (scripted)"; a lock approves per invocation, never recorded here


class Status(StrEnum):
    APPROVED = "approved"
    NOT_APPROVED = "not-approved"
    CHANGED = "changed"  # approved before, but the permission set differs now


@dataclass(frozen=True, slots=True)
class Decision:
    status: Status
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    previous: Approval | None = None


@dataclass(frozen=True, slots=True)
class Approvals:
    by_package: MappingProxyType[str, Approval] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # package name -> when its approval was revoked (cleared by a new approval)
    revoked: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def decide(
        self, package: str, publisher: str, permissions: Digest, lines: tuple[str, ...]
    ) -> Decision:
        previous = self.by_package.get(package)
        if previous is None or previous.publisher != publisher:
            return Decision(Status.NOT_APPROVED)
        if previous.permissions == permissions:
            return Decision(Status.APPROVED, previous=previous)
        old, new = set(previous.lines), set(lines)
        return Decision(
            Status.CHANGED,
            added=tuple(line for line in lines if line not in old),
            removed=tuple(line for line in previous.lines if line not in new),
            previous=previous,
        )

    def with_approval(self, approval: Approval) -> Approvals:
        return replace(
            self,
            by_package=MappingProxyType({**self.by_package, approval.package: approval}),
            revoked=MappingProxyType(
                {k: v for k, v in self.revoked.items() if k != approval.package}
            ),
        )

    def without(self, package: str, revoked_at: str = "") -> Approvals:
        """Forget the approval of ``package``; with ``revoked_at``, remember
        the revocation (a lock file then cannot approve it)."""
        revoked = {**self.revoked, package: revoked_at} if revoked_at else dict(self.revoked)
        return replace(
            self,
            by_package=MappingProxyType({k: v for k, v in self.by_package.items() if k != package}),
            revoked=MappingProxyType(revoked),
        )


def _bad(why: str) -> UntrustedContentError:
    return UntrustedContentError(
        f"the approvals file is damaged: {why}",
        hint="move it away; every package then needs approving again",
    )


def parse_approvals(data: bytes) -> Approvals:
    try:
        doc: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _bad(str(e)) from None
    if (
        not isinstance(doc, dict)
        or doc.get("version") != 1
        or not isinstance(doc.get("approvals"), dict)
    ):
        raise _bad("unknown format")
    out: dict[str, Approval] = {}
    for package, entry in doc["approvals"].items():
        try:
            approval = Approval(
                package=package,
                publisher=str(entry["publisher"]),
                digest=Digest(entry["digest"]),
                permissions=Digest(entry["permissions"]),
                lines=tuple(str(x) for x in entry["lines"]),
                approved_at=str(entry["approvedAt"]),
                approved_by=str(entry["approvedBy"]),
                how=str(entry["how"]),
            )
        except (KeyError, TypeError) as e:
            raise _bad(f"entry {package!r}: {e}") from None
        if not all(
            isinstance(d, str) and is_digest(d) for d in (entry["digest"], entry["permissions"])
        ):
            raise _bad(f"entry {package!r} has a bad digest")
        out[package] = approval
    revoked = doc.get("revoked", {})
    if not isinstance(revoked, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in revoked.items()
    ):
        raise _bad("the revoked list is not an object of package names and times")
    return Approvals(MappingProxyType(out), MappingProxyType(dict(revoked)))


def approvals_bytes(approvals: Approvals) -> bytes:
    doc: dict[str, Any] = {
        "version": 1,
        "approvals": {
            a.package: {
                "publisher": a.publisher,
                "digest": a.digest,
                "permissions": a.permissions,
                "lines": list(a.lines),
                "approvedAt": a.approved_at,
                "approvedBy": a.approved_by,
                "how": a.how,
            }
            for a in sorted(approvals.by_package.values(), key=lambda a: a.package)
        },
    }
    if approvals.revoked:
        doc["revoked"] = dict(sorted(approvals.revoked.items()))
    return (json.dumps(doc, indent=2) + "\n").encode()
