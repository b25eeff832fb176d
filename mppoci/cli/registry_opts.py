"""Options every registry command shares, and the client they configure."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mppoci.cli.output import echo

if TYPE_CHECKING:
    from mppoci.registry.client import RegistryClient
    from mppoci.registry.credentials import Credentials

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


def credentials(
    registry: str, username: str | None = None, password_stdin: bool = False
) -> Credentials | None:
    from mppoci.registry.credentials import resolve

    password = typer.get_text_stream("stdin").read().rstrip("\r\n") if password_stdin else None
    return resolve(registry, os.environ, username=username, password=password)


def client(
    registry: str,
    ca_file: Path | None,
    insecure: bool,
    timeout: float,
    creds: Credentials | None = None,
) -> RegistryClient:
    from mppoci.registry.client import RegistryClient
    from mppoci.registry.transport import TransportOptions

    if insecure:
        echo(f"warning: --insecure: talking to {registry} without TLS", err=True)
    options = TransportOptions(ca_file=ca_file, insecure=insecure, timeout=timeout)
    return RegistryClient(registry, options=options, credentials=creds or credentials(registry))
