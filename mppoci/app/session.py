"""The session: what every use case needs from its surroundings, read once.

A front end (the CLI, ``mppoci serve``, a Python host) builds one
:class:`Session` and hands it to every use case in :mod:`mppoci.app`. Nothing
below the application layer reads the process environment, the working
folder or a terminal on its own: what they may use comes from here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from mppoci.app.prompter import FAIL_CLOSED, Prompter
from mppoci.errors import UserInputError
from mppoci.limits import DEFAULT_LIMITS, Limits
from mppoci.locations import Locations, locate
from mppoci.store import Store

if TYPE_CHECKING:
    from mppoci.engine.protocol import Engine


def _ignore(_: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Session:
    """One invocation's surroundings.

    ``lock_file``: where pins are read (None: nowhere; the CLI names
    ``mppoci.lock`` in the working folder unless the user named another). A
    lock only narrows references to digests; it approves packages only when
    ``approved_by_lock`` is set, which a person does for one invocation
    (``--lock FILE --approved-by-lock``).

    ``prompter`` answers the two questions a person answers (trust a new
    signer, approve permissions); the default answers "no" to both.

    ``notify`` receives one-line notes for the person (a lock pinned a
    reference, a tag was replaced); the default drops them. Notes quote
    outside text as it came: a terminal front end escapes them.

    ``environ`` is the environment the session may read (engine address,
    registry credentials, SOURCE_DATE_EPOCH, egress settings, values of
    ``--env NAME``); a library host passes only what it means to."""

    locations: Locations
    environ: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    lock_file: Path | None = None
    approved_by_lock: bool = False
    prompter: Prompter = FAIL_CLOSED
    notify: Callable[[str], None] = _ignore
    limits: Limits = DEFAULT_LIMITS

    @classmethod
    def open(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        lock_file: Path | None = None,
        approved_by_lock: bool = False,
        prompter: Prompter = FAIL_CLOSED,
        notify: Callable[[str], None] = _ignore,
        limits: Limits = DEFAULT_LIMITS,
    ) -> Session:
        """The session for ``environ`` (default: this process's environment):
        mppoci's folders from MPPOCI_HOME or the XDG variables.

        Raises UserInputError for ``approved_by_lock`` without a lock file."""
        if approved_by_lock and lock_file is None:
            raise UserInputError(
                "--approved-by-lock needs the lock file named with --lock FILE",
                hint="name the lock file you reviewed: `mppoci --lock FILE --approved-by-lock ...`",
            )
        env = MappingProxyType(dict(os.environ if environ is None else environ))
        return cls(
            locations=locate(env),
            environ=env,
            lock_file=lock_file,
            approved_by_lock=approved_by_lock,
            prompter=prompter,
            notify=notify,
            limits=limits,
        )

    def engine(self) -> Engine:
        """A connection to the container engine the session's environment
        names (DOCKER_HOST, else the default socket).

        Raises RuntimeEngineError when none answers."""
        from mppoci.engine.docker_engine import connect

        return connect(environ=self.environ)

    @property
    def store(self) -> Store:
        return Store(self.locations.store, limits=self.limits)

    @property
    def approving_lock(self) -> Path | None:
        """The lock file the user opted in to as the approval record, else None."""
        return self.lock_file if self.approved_by_lock else None

    def source_date_epoch(self) -> int | None:
        """SOURCE_DATE_EPOCH (reproducible-builds.org), if set.

        Raises UserInputError when it is not a number of seconds."""
        value = self.environ.get("SOURCE_DATE_EPOCH")
        if value is None or value == "":
            return None
        if not value.isdigit():
            raise UserInputError(
                f"SOURCE_DATE_EPOCH={value!r} is not a number of seconds",
                hint="set it to a Unix time, e.g. $(git log -1 --format=%ct), or unset it",
            )
        return int(value)
