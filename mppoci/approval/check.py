"""Whether a verified package may run: an approval on record, or (only when
the user opted in for this invocation) a reviewed lock-file entry that pins
this digest under the package's own name with the same approval digest
(mppoci.approval.binding: the permission set and every sentence shown).

A lock file found in the working folder is never an approval: a cloned
repository or an IDE workspace would otherwise approve tools for the user.
"""

from __future__ import annotations

from pathlib import Path

from mppoci.approval.binding import approval_digest
from mppoci.approval.files import load_approvals
from mppoci.approval.records import Decision, Status
from mppoci.approval.words import permission_lines
from mppoci.digest import Digest
from mppoci.errors import NotApprovedError
from mppoci.locations import Locations
from mppoci.lockfile import Lock, pin_mismatch
from mppoci.manifest import Manifest
from mppoci.text import terminal_safe


def decide(locations: Locations, manifest: Manifest) -> Decision:
    return load_approvals(locations).decide(
        manifest.name, manifest.publisher, approval_digest(manifest), permission_lines(manifest)
    )


def lock_entry_approving(lock: Lock, manifest: Manifest, digest: Digest) -> str | None:
    """The lock entry (its reference) that approves this package, or None. Pure.

    The entry must pin this digest with this permission set, under a
    reference that names this package (and version, when it names one)."""
    wanted = approval_digest(manifest)
    for reference, pin in sorted(lock.pins.items()):
        if pin.digest != digest or pin.permissions != wanted:
            continue
        if pin_mismatch(reference, digest, manifest.name, manifest.version) is None:
            return reference
    return None


def revoked_refusal(manifest: Manifest, reference: str, lock: Path) -> NotApprovedError:
    return NotApprovedError(
        f"you revoked the approval of {manifest.name}; the lock file {lock} does not approve "
        "it again",
        hint=f"if it should run, review it and run `mppoci approve {reference}`",
    )


def refusal(manifest: Manifest, decision: Decision, reference: str) -> NotApprovedError:
    if decision.status is Status.CHANGED:
        changes = [f"  + {terminal_safe(line)}" for line in decision.added] + [
            f"  - {terminal_safe(line)}" for line in decision.removed
        ]
        if not changes:
            # Same sentences, other digest: recorded before the approval bound
            # everything shown (tools' confirmation included). Ask again.
            changes = [
                "  (your approval was recorded by an older mppoci and does not cover all of it)"
            ]
        return NotApprovedError(
            f"{manifest.name} {manifest.version} asks for other permissions than you approved:\n"
            + "\n".join(changes),
            hint=f"review them and run `mppoci approve {terminal_safe(reference)}`",
            multiline=True,
        )
    return NotApprovedError(
        f"{manifest.name} {manifest.version} has not been approved on this machine",
        hint=f"review its permissions and run `mppoci approve {reference}` (or, in CI, pin it "
        "with its permission set, `mppoci --lock FILE lock add REF`, and run with "
        "`mppoci --lock FILE --approved-by-lock ...`)",
    )
