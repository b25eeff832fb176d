"""The ``mppoci`` command: wiring, and the mapping of errors to exit codes.

Exit codes (conventions: CLI): 0 success, 1 a refused or failed operation,
2 a usage error. Expected failures print their diagnostics, never a
traceback; unexpected ones print a one-line summary unless MPPOCI_DEBUG=1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mppoci import __version__
from mppoci.cli import (
    audit_cmds,
    bundle_cmds,
    context,
    k8s_cmds,
    lock_cmds,
    package_cmds,
    registry_cmds,
    runtime_cmds,
    sandbox_cmds,
    serve_cmds,
    signing_cmds,
    trust_cmds,
)
from mppoci.errors import Error

app = typer.Typer(
    name="mppoci",
    help="Signed, sandboxed MPP tools shipped as OCI artifacts.",
    no_args_is_help=True,
    add_completion=False,
    # Locals may hold passwords and tokens: never print them.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)
package_cmds.register(app)
signing_cmds.register(app)
registry_cmds.register(app)
bundle_cmds.register(app)
sandbox_cmds.register(app)
serve_cmds.register(app)
app.add_typer(lock_cmds.app, name="lock")
app.add_typer(audit_cmds.app, name="audit")
app.add_typer(trust_cmds.app, name="trust")
app.add_typer(runtime_cmds.app, name="runtime")
app.add_typer(k8s_cmds.app, name="k8s")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mppoci {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    lock: Annotated[
        Path | None,
        typer.Option("--lock", help="The lock file (default: mppoci.lock in the current folder)."),
    ] = None,
) -> None:
    """Signed, sandboxed MPP tools shipped as OCI artifacts."""
    context.set_lock_file(lock)


def main() -> None:
    try:
        app()
    except Error as e:
        print(f"mppoci: error: {e.diagnostics()}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("mppoci: interrupted", file=sys.stderr)
        sys.exit(130)
    except BaseException as e:
        from mppoci.sandbox.docker_runner import Terminated

        if isinstance(e, Terminated):
            print("mppoci: stopped by a signal; the sandbox was removed", file=sys.stderr)
            sys.exit(128 + int(e.args[0]) if e.args else 143)
        raise
    except Exception as e:
        if os.environ.get("MPPOCI_DEBUG") == "1":
            raise
        # The type only: an exception's text may carry secrets it was handed.
        print(
            f"mppoci: internal error ({type(e).__name__}); this is a bug in mppoci.\n"
            "Run again with MPPOCI_DEBUG=1 for a traceback and report it.",
            file=sys.stderr,
        )
        sys.exit(1)
