"""Serving packages to MCP clients: the server (``mppoci serve``), and its
registration in a client's configuration (``mppoci mcp config``).

The server is :mod:`mppoci.hosts.server`, on the same use cases as the CLI
(verify, require approval, run), with a session that asks nobody: stdio
belongs to the client, and a package that is not approved is refused, never
approved on the spot.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from mppoci.app.session import Session
from mppoci.errors import UserInputError

if TYPE_CHECKING:
    from mppoci.hosts.clients import ClientName, Installed, Scope
    from mppoci.hosts.server import Host

# MCP clients start servers with a minimal environment: what is carried over
# is where mppoci keeps its state and which engine it talks to, nothing else.
CARRIED_VARIABLES = ("MPPOCI_HOME", "DOCKER_HOST")


def open_server(
    session: Session,
    references: Sequence[str],
    *,
    pool_size: int,
    mounts: Mapping[str, str] | None = None,
    env: Mapping[str, str | None] | None = None,
    report: Callable[[str], None] = lambda _: None,
) -> Host:
    """Open the MCP server of approved packages: each verified (audited),
    its approval required (a lock approves only when the session says the
    person opted in to it), what every call needs checked, the pools started.
    Serve it with ``anyio.run(host.serve_stdio)``; ``host.close()`` removes
    every container it made.

    Raises NotFoundError, VerificationError, NotApprovedError, UserInputError,
    PolicyError, RuntimeEngineError."""
    from mppoci.hosts.server import open_host

    return open_host(
        session, references, pool_size=pool_size, mounts=mounts, env=env, report=report
    )


@dataclass(frozen=True, slots=True)
class Registration:
    """The entry that registers ``mppoci serve REF...`` with one MCP client,
    and where that client reads it (None where no location is documented)."""

    client: ClientName
    scope: Scope
    server_name: str
    entry: Mapping[str, Any] = field(repr=False)
    path: PurePath | None

    @property
    def title(self) -> str:
        """The client, as its makers name it."""
        from mppoci.hosts.clients import title

        return title(self.client)

    def snippet(self) -> str:
        """The client's configuration holding only this entry, as text."""
        from mppoci.hosts.clients import render, snippet

        return render(snippet(self.client, self.server_name, self.entry))

    def no_location(self) -> str:
        """Why there is no file to write it to (when ``path`` is None)."""
        from mppoci.hosts.clients import ClientName

        if self.client is ClientName.CLAUDE:
            if sys.platform == "win32":
                return "APPDATA is not set, so Claude Desktop's configuration folder is unknown"
            return (
                f"Claude Desktop documents no configuration file on {sys.platform} "
                "(only macOS and Windows)"
            )
        return f"{self.title} has no configuration file here"


def registration(
    session: Session,
    references: Sequence[str],
    *,
    client: str,
    scope: str = "global",
    name: str | None = None,
    pool: int | None = None,
    home: Path,
    workspace: Path,
) -> Registration:
    """The entry that starts ``mppoci serve REF...`` for ``client`` (claude,
    vscode or cursor), named ``name`` or after the packages; ``home`` and
    ``workspace`` locate the client's files. Each reference must name a
    package of the store (opened as ``inspect`` does, a refusal audited).

    Raises UserInputError (an unknown client or scope), NotFoundError,
    UntrustedContentError."""
    from mppoci.app.references import pinned, resolve_local
    from mppoci.app.verifying import load_audited
    from mppoci.hosts import clients
    from mppoci.hosts.naming import short_name

    try:
        which = clients.ClientName(client)
    except ValueError:
        raise UserInputError(f"--client {client!r}: use claude, vscode or cursor") from None
    try:
        where = clients.Scope(scope)
    except ValueError:
        raise UserInputError(f"--scope {scope!r}: use global or project") from None
    names = [
        load_audited(session, resolve_local(session, pinned(session, r))).manifest.name
        for r in references
    ]
    command, prefix = clients.default_command()
    args = [*prefix, "serve", *(["--pool", str(pool)] if pool is not None else []), *references]
    environ = session.environ
    env = {k: environ[k] for k in CARRIED_VARIABLES if environ.get(k)} or None
    return Registration(
        client=which,
        scope=where,
        server_name=name or "mppoci-" + "-".join(short_name(n) for n in names),
        entry=clients.server_entry(which, command, args, env),
        path=clients.config_path(
            which,
            platform=sys.platform,
            environ=environ,
            home=home,
            workspace=workspace.resolve(),
            scope=where,
        ),
    )


def install_registration(registered: Registration) -> Installed:
    """Merge the entry into the client's file (a backup of the file is kept).

    Raises UserInputError when the file is not the client's format, or when
    there is no file to write (``path`` None)."""
    from mppoci.hosts.clients import ClientName, Scope, install

    if registered.path is None:
        raise UserInputError(
            registered.no_location() + "; nothing was written",
            hint="add the entry printed above to the client's configuration by hand",
        )
    return install(
        Path(registered.path),
        registered.client,
        registered.server_name,
        registered.entry,
        create_folder=registered.client is ClientName.VSCODE or registered.scope is Scope.PROJECT,
    )
