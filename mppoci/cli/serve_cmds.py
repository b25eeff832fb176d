"""`mppoci serve` (an MCP server over stdio) and `mppoci mcp config` (its
registration with MCP clients)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mppoci.cli import context
from mppoci.cli.output import echo
from mppoci.cli.sandbox_cmds import EnvOpt, MountOpt, _request
from mppoci.errors import Error, UserInputError

if TYPE_CHECKING:
    from types import FrameType

    from mppoci.hosts.clients import ClientName
    from mppoci.hosts.server import Host

mcp_app = typer.Typer(help="Register `mppoci serve` with MCP clients.", no_args_is_help=True)

PoolOpt = Annotated[
    int,
    typer.Option(
        "--pool", help="Prepared sandboxes kept ready per package (0: create one per call)."
    ),
]
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def serve(
    references: Annotated[
        list[str], typer.Argument(help="Approved packages in the local store.", show_default=False)
    ],
    pool: PoolOpt = 2,
    mount: MountOpt = None,
    env: EnvOpt = None,
) -> None:
    """Serve the tools of approved packages to an MCP client over stdio.

    Each call runs in a fresh sandbox; tools that may change things ask the
    client's user to confirm. With several packages, tool names get the
    package's short name and "_" in front (acme/echo: echo_say)."""
    import anyio

    from mppoci.hosts.server import Wanted, open_host

    request = _request(mount, env, None)
    wanted = [Wanted(ref, context.resolve_local(context.pinned(ref))) for ref in references]

    def report(message: str) -> None:
        echo(f"mppoci serve: {message}", err=True)

    host = open_host(
        wanted,
        store=context.store(),
        locations=context.locations(),
        # Only with --lock FILE --approved-by-lock on this command line: a
        # workspace's mppoci.lock never approves what an IDE serves from it.
        approving_lock=context.approving_lock(),
        pool_size=pool,
        mounts=request.mounts,
        env=request.env,
        environ=os.environ,
        report=report,
    )
    _stop_on_signals(host)
    report(
        f"{len(host.tools)} tool(s) from {len(host.served)} package(s): "
        + ", ".join(host.tools)
        + "; serving MCP on stdio"
    )
    try:
        anyio.run(host.serve_stdio)
    finally:
        # The client closed stdin; it sends SIGTERM if we take long. Finish
        # removing the containers first.
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        host.close()


def _stop_on_signals(host: Host) -> None:
    """On SIGTERM, SIGHUP or Ctrl-C: remove every container, then exit.

    The stdio transport reads stdin in a worker thread that nothing can
    interrupt, so an orderly return could wait forever for a client that
    neither writes nor closes; exiting at once after the cleanup cannot."""

    def stop(signum: int, frame: FrameType | None) -> None:
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        try:
            # Before close() ends the calls, so that each is recorded as
            # interrupted (their own records would never be written).
            try:
                host.interrupted(signal.Signals(signum).name)
            except Error as e:  # the containers must go even if the log cannot be written
                sys.stderr.write(f"mppoci serve: {e.diagnostics()}\n")
            host.close()
        finally:
            sys.stderr.write(f"mppoci serve: stopped by signal {signum}; sandboxes removed\n")
            sys.stderr.flush()
            os._exit(128 + signum)

    for sig in _STOP_SIGNALS:
        signal.signal(sig, stop)


@mcp_app.command("config")
def mcp_config(
    references: Annotated[
        list[str], typer.Argument(help="Packages the client should be served.", show_default=False)
    ],
    client: Annotated[
        str, typer.Option("--client", help="claude (Claude Desktop), vscode or cursor.")
    ],
    write: Annotated[
        bool,
        typer.Option("--write", help="Merge it into the client's file (a backup is kept)."),
    ] = False,
    name: Annotated[
        str | None, typer.Option("--name", help="The server's name in the client's file.")
    ] = None,
    scope: Annotated[
        str, typer.Option("--scope", help="Cursor: global (~/.cursor) or project (.cursor).")
    ] = "global",
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", help="VS Code or Cursor project folder (default: here)."),
    ] = None,
    pool: Annotated[
        int | None, typer.Option("--pool", help="Passed on to `mppoci serve --pool`.")
    ] = None,
) -> None:
    """Print (or with --write install) the entry that registers
    `mppoci serve REF...` with an MCP client."""
    from mppoci.api import load_audited
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
        load_audited(
            context.store(), context.locations(), context.resolve_local(context.pinned(r))
        ).manifest.name
        for r in references
    ]
    server_name = name or "mppoci-" + "-".join(short_name(n) for n in names)
    command, prefix = clients.default_command()
    args = [*prefix, "serve", *(["--pool", str(pool)] if pool is not None else []), *references]
    # MCP clients start servers with a minimal environment: carry over where
    # mppoci keeps its state and which engine it talks to, nothing else.
    env = {k: os.environ[k] for k in ("MPPOCI_HOME", "DOCKER_HOST") if os.environ.get(k)} or None
    entry = clients.server_entry(which, command, args, env)
    path = clients.config_path(
        which,
        platform=sys.platform,
        environ=os.environ,
        home=Path.home(),
        workspace=(workspace or Path.cwd()).resolve(),
        scope=where,
    )
    if not write:
        echo(clients.render(clients.snippet(which, server_name, entry)), nl=False)
        if path is None:
            echo(_no_location(which), err=True)
        else:
            echo(f"merge this into {path} (or run again with --write)", err=True)
        return
    if path is None:
        echo(clients.render(clients.snippet(which, server_name, entry)), nl=False)
        raise UserInputError(
            _no_location(which) + "; nothing was written",
            hint="add the entry printed above to the client's configuration by hand",
        )
    installed = clients.install(
        Path(path),
        which,
        server_name,
        entry,
        create_folder=which is clients.ClientName.VSCODE or where is clients.Scope.PROJECT,
    )
    verb = "replaced" if installed.replaced else "added"
    echo(f"{verb} {server_name!r} in {installed.path}", err=True)
    if installed.backup is not None:
        echo(f"the previous file is kept as {installed.backup}", err=True)
    echo(f"restart {clients.title(which)} to pick it up", err=True)


def _no_location(client: ClientName) -> str:
    from mppoci.hosts import clients

    if client is clients.ClientName.CLAUDE:
        if sys.platform == "win32":
            return "APPDATA is not set, so Claude Desktop's configuration folder is unknown"
        return (
            f"Claude Desktop documents no configuration file on {sys.platform} "
            "(only macOS and Windows)"
        )
    return f"{clients.title(client)} has no configuration file here"


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(mcp_app, name="mcp")
