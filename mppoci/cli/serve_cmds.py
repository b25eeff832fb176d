"""`mppoci serve` (an MCP server over stdio) and `mppoci mcp config` (its
registration with MCP clients)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mppoci.app import Error
from mppoci.cli import context, run_opts
from mppoci.cli.output import echo
from mppoci.cli.run_opts import EnvOpt, MountOpt

if TYPE_CHECKING:
    from types import FrameType

    from mppoci.app import Host

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

    from mppoci.app import open_server

    request = run_opts.request(mount, env, None)

    def report(message: str) -> None:
        echo(f"mppoci serve: {message}", err=True)

    host = open_server(
        # A lock approves only with --lock FILE --approved-by-lock on this
        # command line: a workspace's mppoci.lock never approves what an IDE
        # serves from it. Nobody is asked: stdio belongs to the client.
        context.session(),
        references,
        pool_size=pool,
        mounts=request.mounts,
        env=request.env,
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
    from mppoci.app import install_registration, registration

    registered = registration(
        context.session(),
        references,
        client=client,
        scope=scope,
        name=name,
        pool=pool,
        home=Path.home(),
        workspace=workspace or Path.cwd(),
    )
    if not write:
        echo(registered.snippet(), nl=False)
        if registered.path is None:
            echo(registered.no_location(), err=True)
        else:
            echo(f"merge this into {registered.path} (or run again with --write)", err=True)
        return
    if registered.path is None:
        echo(registered.snippet(), nl=False)
    installed = install_registration(registered)
    verb = "replaced" if installed.replaced else "added"
    echo(f"{verb} {registered.server_name!r} in {installed.path}", err=True)
    if installed.backup is not None:
        echo(f"the previous file is kept as {installed.backup}", err=True)
    echo(f"restart {registered.title} to pick it up", err=True)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(mcp_app, name="mcp")
