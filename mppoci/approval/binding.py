"""What an approval is bound to: everything the user was shown. Pure.

The permission set (every field, each ``why`` included), every tool's name
and whether each of its calls needs the user's confirmation, and every
sentence of the approval screen. An update that changes any of it, a tool
that stops asking before each call included, needs a new approval.

A folder's ``required`` is left out: it changes when a run is refused, not
what a run is granted, and the screen does not show it (so an update that
only adds it needs no new approval, and could not say what changed).

Approvals and lock entries written before this binding (version 2) carry the
bare permission-set digest: they match nothing, so the user is asked again.
"""

from __future__ import annotations

from mppoci.approval.words import permission_lines
from mppoci.canonical import canonical_json
from mppoci.digest import Digest, sha256_digest
from mppoci.manifest import Manifest, to_document

BINDING_VERSION = 2


def approval_digest(manifest: Manifest) -> Digest:
    """sha256 of the canonical JSON of all that an approval of ``manifest`` grants."""
    permissions = to_document(manifest)["permissions"]
    for folder in permissions["filesystem"]:
        folder.pop("required", None)
    return sha256_digest(
        canonical_json(
            {
                "binding": BINDING_VERSION,
                "permissions": permissions,
                "tools": [
                    {"name": t.name, "requiresConfirmation": t.requires_confirmation}
                    for t in sorted(manifest.tools, key=lambda t: t.name)
                ],
                "shown": list(permission_lines(manifest)),
            }
        )
    )
