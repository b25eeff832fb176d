"""Commands that move packages through registries: login, push, pull, copy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mppoci.app import UserInputError
from mppoci.cli import context, registry_opts
from mppoci.cli.options import AllowDowngrade
from mppoci.cli.output import echo


def login(
    registry: Annotated[str, typer.Argument(help="Registry host[:port].")],
    username: registry_opts.Username = None,
    password_stdin: registry_opts.PasswordStdin = False,
    ca_file: registry_opts.CaFile = None,
    insecure: registry_opts.Insecure = False,
    timeout: registry_opts.Timeout = 30.0,
) -> None:
    """Check credentials against a registry, then store them as Docker does."""
    from mppoci.app.remote import login as check_and_store
    from mppoci.cli import prompts

    if username is None:
        raise UserInputError("login needs --username", hint="add --username NAME --password-stdin")
    if password_stdin:
        password = typer.get_text_stream("stdin").read().rstrip("\r\n")
    elif prompts.interactive():
        import getpass

        password = getpass.getpass(f"Password for {username}@{registry}: ")
    else:
        raise UserInputError("no password given", hint="pipe it in with --password-stdin")
    options = registry_opts.options(ca_file, insecure, timeout)
    where = check_and_store(context.session(), registry, username, password, options)
    echo(f"Login to {registry} succeeded; credentials saved in {where}", err=True)


def push(
    source: Annotated[str, typer.Argument(help="A package in the store, or a folder to build.")],
    destination: Annotated[str, typer.Argument(help="REGISTRY/REPOSITORY:TAG")],
    allow_unsigned: Annotated[
        bool, typer.Option("--allow-unsigned", help="Push even without a trusted signature.")
    ] = False,
    ca_file: registry_opts.CaFile = None,
    insecure: registry_opts.Insecure = False,
    timeout: registry_opts.Timeout = 30.0,
) -> None:
    """Upload a package and its signatures; print the pushed digest."""
    from mppoci.app import pinned, resolve_local
    from mppoci.app.references import names_folder
    from mppoci.app.remote import destination as push_destination
    from mppoci.app.remote import push as push_package
    from mppoci.cli.package_cmds import build_folder

    session = context.session()
    dest = push_destination(destination, digest_ok=True)
    digest = (
        build_folder(Path(source))
        if names_folder(source)
        else resolve_local(session, pinned(session, source))
    )
    pushed = push_package(
        session,
        digest,
        dest,
        registry_opts.options(ca_file, insecure, timeout, show_progress=True),
        allow_unsigned=allow_unsigned,
    )
    echo(f"pushed {dest.registry}/{dest.repository}:{dest.tag or ''}", err=True)
    echo(pushed)


def pull(
    reference: Annotated[str, typer.Argument(help="REGISTRY/REPOSITORY:TAG or @sha256:<digest>")],
    allow_downgrade: AllowDowngrade = False,
    ca_file: registry_opts.CaFile = None,
    insecure: registry_opts.Insecure = False,
    timeout: registry_opts.Timeout = 30.0,
) -> None:
    """Download, verify, and only then add a package to the store; print its digest."""
    from mppoci.app.remote import pull as pull_package

    pulled = pull_package(
        context.session(),
        reference,
        registry_opts.options(ca_file, insecure, timeout, show_progress=True),
        allow_downgrade=allow_downgrade,
    )
    echo(f"pulled {pulled.ref_name} from {pulled.registry}", err=True)
    echo(pulled.digest)


def copy(
    source: Annotated[str, typer.Argument(help="REGISTRY/REPOSITORY:TAG to copy from.")],
    destination: Annotated[str, typer.Argument(help="REGISTRY/REPOSITORY:TAG to copy to.")],
    ca_file: registry_opts.CaFile = None,
    insecure: registry_opts.Insecure = False,
    timeout: registry_opts.Timeout = 30.0,
) -> None:
    """Copy a verified package with its signatures between registries, digests unchanged."""
    from mppoci.app.remote import copy as copy_package

    pushed = copy_package(
        context.session(),
        source,
        destination,
        registry_opts.options(ca_file, insecure, timeout, show_progress=True),
    )
    echo(f"copied {source} to {destination}", err=True)
    echo(pushed)


def register(app: typer.Typer) -> None:
    app.command()(login)
    app.command()(push)
    app.command()(pull)
    app.command()(copy)
