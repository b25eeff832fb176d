"""The first release's Python API, kept for hosts that call it: one function,
:func:`run`, now a thin shim over :mod:`mppoci.app` (the public Python API:
docs/python-api.md). New code builds a :class:`mppoci.app.Session` and calls
the use cases there."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from mppoci.app.running import RunOutcome as Outcome
from mppoci.locations import Locations

__all__ = ["Outcome", "run"]

# The engine's address and TLS settings, and where the egress gateway reaches out.
_ENGINE_VARIABLES = ("DOCKER_", "MPPOCI_EGRESS_")


def run(
    reference: str,
    *,
    args: Sequence[str] = (),
    stdin: bytes = b"",
    mounts: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    locations: Locations | None = None,
    approved_by_lock: Path | None = None,
    lock_file: Path | None = None,
    record_args: bool = False,
) -> Outcome:
    """Run an approved package once and collect its output: ``mppoci.app.run``
    with a session that asks nobody (an unapproved package is refused).

    ``approved_by_lock``: a lock file you opt in to as the approval record
    (as `mppoci --lock FILE --approved-by-lock run`); none is used otherwise,
    whatever lies in the working folder. ``lock_file``: a lock file whose
    pins apply (default: none; pins never approve).
    Nothing from this process's environment reaches the tool: only ``env``."""
    from mppoci.app import running
    from mppoci.app.session import Session
    from mppoci.locations import locate

    session = Session(
        locations or locate(),
        # What reaches the engine and the egress gateway, as before; nothing
        # of this environment reaches the tool (only ``env``).
        environ={k: v for k, v in os.environ.items() if k.startswith(_ENGINE_VARIABLES)},
        lock_file=approved_by_lock or lock_file,
        approved_by_lock=approved_by_lock is not None,
    )
    return running.run(
        session, reference, args=args, stdin=stdin, mounts=mounts, env=env, record_args=record_args
    )
