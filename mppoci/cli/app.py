"""The ``mppoci`` command: wiring, and the mapping of errors to exit codes.

Exit codes (conventions: CLI): 0 success, 1 a refused or failed operation,
2 a usage error. Expected failures print their diagnostics, never a
traceback; unexpected ones print a one-line summary unless MPPOCI_DEBUG=1.

Commands load lazily: a command's module is imported, and its Click command
built, only when that command runs or shows its own help. ``mppoci --help``
lists the summaries below and imports none of them.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from mppoci.app import Error, Terminated, __version__, terminal_safe
from mppoci.cli.output import echo

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter

# Every command `mppoci --help` lists, in its order: the module of mppoci.cli
# that defines it, and the summary the listing shows (the first paragraph of the
# command's own help; tests/cli/test_lazy_cli.py checks that they agree).
# A module with a ``register(app)`` function adds its commands itself; any
# other module is a Typer group, its ``app``, added under the name.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("package_cmds", "Scaffold a working sample package (a Python tool)."),
    "build": ("package_cmds", "Build a package folder into the local store and print its digest."),
    "inspect": (
        "package_cmds",
        "Show a package's identity, digest, runtime, tools and permissions.",
    ),
    "list": ("package_cmds", "List the packages in the local store."),
    "remove": ("package_cmds", "Remove a package and its signatures from the local store's index."),
    "sign": (
        "signing_cmds",
        "Sign a package's manifest digest; the signature is kept beside it in the store.",
    ),
    "verify": (
        "signing_cmds",
        "Re-verify a package from its bytes: digests, a trusted signature, no rollback.",
    ),
    "login": (
        "registry_cmds",
        "Check credentials against a registry, then store them as Docker does.",
    ),
    "push": ("registry_cmds", "Upload a package and its signatures; print the pushed digest."),
    "pull": (
        "registry_cmds",
        "Download, verify, and only then add a package to the store; print its digest.",
    ),
    "copy": (
        "registry_cmds",
        "Copy a verified package with its signatures between registries, digests unchanged.",
    ),
    "save": (
        "bundle_cmds",
        "Write verified packages with their signatures into an OCI-layout tar.",
    ),
    "load": (
        "bundle_cmds",
        "Load packages from an OCI-layout tar, verified like a pull; print their digests.",
    ),
    "approve": (
        "sandbox_cmds",
        "Show what a package may do, and approve it to run with exactly that.",
    ),
    "run": (
        "sandbox_cmds",
        "Verify, check approval, and run a package in a fresh locked-down container.",
    ),
    "serve": ("serve_cmds", "Serve the tools of approved packages to an MCP client over stdio."),
    "key": ("signing_cmds", "Create signing keys (cosign's format)."),
    "approvals": ("sandbox_cmds", "List and revoke approvals."),
    "policy": ("sandbox_cmds", "Show what a sandbox enforces."),
    "mcp": ("serve_cmds", "Register `mppoci serve` with MCP clients."),
    "lock": ("lock_cmds", "Pin references to digests (mppoci.lock)."),
    "audit": ("audit_cmds", "Show, verify and export the audit trail."),
    "trust": ("trust_cmds", "Manage the trust policy (trusted keys and their scopes)."),
    "runtime": ("runtime_cmds", "Build and list runtime images (recipes in runtimes/)."),
    "k8s": ("k8s_cmds", "Run packages on Kubernetes."),
}


def build_module(module_name: str) -> dict[str, Command]:
    """Import one command module and build the Click commands it defines."""
    module = importlib.import_module(f"mppoci.cli.{module_name}")
    holder = typer.Typer()
    register = getattr(module, "register", None)
    if register is not None:
        register(holder)
    else:
        for name, (owner, _) in COMMANDS.items():
            if owner == module_name:
                holder.add_typer(module.app, name=name)
    return dict(typer.main.get_group(holder).commands)


class _LazyCommands(MutableMapping[str, "Command"]):
    """The root group's commands: names and order from COMMANDS, each module
    imported on first use."""

    def __init__(self) -> None:
        self._built: dict[str, Command] = {}
        self._extra: dict[str, Command] = {}

    def built(self, name: str) -> bool:
        return name in self._built or name in self._extra

    def __getitem__(self, name: str) -> Command:
        if name in self._extra:
            return self._extra[name]
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built.update(build_module(COMMANDS[name][0]))
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._extra[name] = command

    def __delitem__(self, name: str) -> None:
        del self._extra[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._extra if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(1 for name in self._extra if name not in COMMANDS)


class LazyGroup(TyperGroup):
    """The root group: commands built on first use; help lists the summaries."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        lazy = _LazyCommands()
        lazy.update(self.commands)
        self.commands = lazy
        self._listing = False

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        commands = self.commands
        if (
            self._listing
            and cmd_name in COMMANDS
            and isinstance(commands, _LazyCommands)
            and not commands.built(cmd_name)
        ):
            return TyperCommand(name=cmd_name, help=COMMANDS[cmd_name][1])
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)  # the names only: TyperGroup's builds every command

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="mppoci",
    cls=LazyGroup,
    help="Signed, sandboxed MPP tools shipped as OCI artifacts.",
    no_args_is_help=True,
    add_completion=False,
    # Locals may hold passwords and tokens: never print them.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        echo(f"mppoci {__version__}")
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
    approved_by_lock: Annotated[
        bool,
        typer.Option(
            "--approved-by-lock",
            help="Take the --lock FILE's reviewed entries as approvals for this command (CI). "
            "Without it a lock file only pins digests and never approves.",
        ),
    ] = False,
) -> None:
    """Signed, sandboxed MPP tools shipped as OCI artifacts."""
    from mppoci.cli import context

    if approved_by_lock and lock is None:
        # Naming the file is the opt-in: a lock that lies in the working
        # folder (a cloned repository, an IDE workspace) never approves.
        raise typer.BadParameter(
            "--approved-by-lock needs --lock FILE: name the reviewed lock file explicitly",
            param_hint="--approved-by-lock",
        )
    context.set_lock_file(lock, approved_by_lock)


def main() -> None:
    try:
        app()
    except Error as e:
        # Diagnostics quote registry answers, manifests and file contents.
        print(f"mppoci: error: {terminal_safe(e.diagnostics(), multiline=True)}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("mppoci: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:
        if os.environ.get("MPPOCI_DEBUG") == "1":
            raise
        from mppoci.app import disk_full, is_disk_full

        if is_disk_full(e):  # a write anywhere; the store's own writes say which
            where = Path(getattr(e, "filename", None) or ".")
            full = terminal_safe(disk_full("a file", where).diagnostics(), multiline=True)
            print(f"mppoci: error: {full}", file=sys.stderr)
            sys.exit(1)
        # The type only: an exception's text may carry secrets it was handed.
        print(
            f"mppoci: internal error ({type(e).__name__}); this is a bug in mppoci.\n"
            "Run again with MPPOCI_DEBUG=1 for a traceback and report it.",
            file=sys.stderr,
        )
        sys.exit(1)
    except Terminated as e:
        print("mppoci: stopped by a signal; the sandbox was removed", file=sys.stderr)
        sys.exit(128 + e.signum)
