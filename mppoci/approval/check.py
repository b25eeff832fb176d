"""Whether a verified package may run: an approval on record, or a reviewed
lock-file entry that carries the same permission-set digest."""

from __future__ import annotations

from mppoci.approval.files import load_approvals
from mppoci.approval.records import Decision, Status
from mppoci.approval.words import permission_lines
from mppoci.digest import Digest
from mppoci.errors import UserInputError
from mppoci.locations import Locations
from mppoci.lockfile import Lock
from mppoci.manifest import Manifest, permissions_digest


class NotApprovedError(UserInputError):
    """The package's permissions have not been approved (or changed since)."""


def decide(locations: Locations, manifest: Manifest) -> Decision:
    return load_approvals(locations).decide(
        manifest.name, manifest.publisher, permissions_digest(manifest), permission_lines(manifest)
    )


def approved_by_lock(lock: Lock, manifest: Manifest, digest: Digest) -> bool:
    """CI's approval: the lock pins this digest with this permission set."""
    wanted = permissions_digest(manifest)
    return any(pin.digest == digest and pin.permissions == wanted for pin in lock.pins.values())


def refusal(manifest: Manifest, decision: Decision, reference: str) -> NotApprovedError:
    if decision.status is Status.CHANGED:
        changes = [f"  + {line}" for line in decision.added] + [
            f"  - {line}" for line in decision.removed
        ]
        return NotApprovedError(
            f"{manifest.name} {manifest.version} asks for other permissions than you approved:\n"
            + "\n".join(changes),
            hint=f"review them and run `mppoci approve {reference}`",
        )
    return NotApprovedError(
        f"{manifest.name} {manifest.version} has not been approved on this machine",
        hint=f"review its permissions and run `mppoci approve {reference}` (or, in CI, pin it "
        "with its permission set in mppoci.lock: `mppoci lock add REF`)",
    )
