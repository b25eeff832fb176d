"""Options every registry command shares (mppoci.app.remote.RegistryOptions)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from mppoci.app.remote import RegistryOptions

CaFile = Annotated[
    Path | None, typer.Option("--ca-file", help="CA certificate (PEM) for a registry's TLS.")
]
Insecure = Annotated[
    bool,
    typer.Option("--insecure", help="Allow plain HTTP to a registry that is not on loopback."),
]
Timeout = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait on each network call.", min=0.1)
]
Username = Annotated[str | None, typer.Option("--username", help="Registry user name.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the registry password from stdin.")
]


def options(
    ca_file: Path | None, insecure: bool, timeout: float, *, show_progress: bool = False
) -> RegistryOptions:
    """The options as typed; ``show_progress``: progress bars on a terminal."""
    from mppoci.app.remote import RegistryOptions
    from mppoci.cli import progress

    if not show_progress:
        return RegistryOptions(ca_file=ca_file, insecure=insecure, timeout=timeout)
    return RegistryOptions(
        ca_file=ca_file, insecure=insecure, timeout=timeout, progress=progress.factory()
    )
