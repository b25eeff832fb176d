"""Commands that move packages through registries: login, push, pull, copy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mppoci.cli import context, progress, registry_opts, verifying
from mppoci.cli.options import AllowDowngrade
from mppoci.cli.output import echo
from mppoci.errors import UntrustedContentError, UserInputError
from mppoci.reference import RemoteRef, parse_remote

if TYPE_CHECKING:
    from mppoci.registry.client import RegistryClient
    from mppoci.registry.transfer import Staged
    from mppoci.store import Store


def login(
    registry: Annotated[str, typer.Argument(help="Registry host[:port].")],
    username: registry_opts.Username = None,
    password_stdin: registry_opts.PasswordStdin = False,
    ca_file: registry_opts.CaFile = None,
    insecure: registry_opts.Insecure = False,
    timeout: registry_opts.Timeout = 30.0,
) -> None:
    """Check credentials against a registry, then store them as Docker does."""
    import os

    from mppoci.cli import prompts
    from mppoci.registry.credentials import Credentials, store

    if username is None:
        raise UserInputError("login needs --username", hint="add --username NAME --password-stdin")
    if password_stdin:
        password = typer.get_text_stream("stdin").read().rstrip("\r\n")
    elif prompts.interactive():
        import getpass

        password = getpass.getpass(f"Password for {username}@{registry}: ")
    else:
        raise UserInputError("no password given", hint="pipe it in with --password-stdin")
    creds = Credentials(username, password, "login")
    registry_opts.client(registry, ca_file, insecure, timeout, creds).ping()
    where = store(registry, creds, os.environ)
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
    from mppoci.cli.package_cmds import build_folder, is_folder_arg
    from mppoci.registry.transfer import push as push_package
    from mppoci.trust.gate import check_content

    store = context.store()
    dest = parse_remote(destination)
    if not dest.tag and not dest.digest:
        raise UserInputError(f"{destination} names no tag", hint="add :TAG to the destination")
    digest = (
        build_folder(Path(source))
        if is_folder_arg(source)
        else context.resolve_local(context.pinned(source))
    )
    if allow_unsigned:
        check_content(store, digest)  # tampered bytes are never pushed, signed or not
        echo("warning: --allow-unsigned: pushing without checking signatures", err=True)
    else:
        verifying.verify_or_ask(store, digest)
    client = registry_opts.client(dest.registry, ca_file, insecure, timeout)
    pushed = push_package(client, store, digest, dest, progress=progress.factory())
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
    from mppoci.registry.transfer import adopt_package

    store = context.store()
    remote = parse_remote(context.pinned(reference))
    client = registry_opts.client(remote.registry, ca_file, insecure, timeout)
    with store.staging() as staging:
        staged = _fetch_audited(client, remote, staging, store)
        verified = verifying.verify_or_ask(
            staging, staged.digest, allow_downgrade=allow_downgrade, origin=remote.registry
        )
        m = verified.package.manifest if verified.package else None
        if m is not None:
            context.check_remote_pin(reference, staged.digest, m.name, m.version)
        ref_name = f"{m.name}:{m.version}" if m else f"{remote.registry}/{remote.repository}"
        adopt_package(staging, store, staged, ref_name=ref_name, origin=remote.registry)
    verifying.remember(verified)
    echo(f"pulled {ref_name} from {remote.registry}", err=True)
    echo(staged.digest)


def _fetch_audited(
    client: RegistryClient, remote: RemoteRef, staging: Store, store: Store
) -> Staged:
    """Fetch into staging; a refusal of what the registry sent (a limit
    exceeded, a bad manifest, damaged bytes) is audited like the gate's."""
    from mppoci.api import audit_refusal
    from mppoci.registry.transfer import fetch

    try:
        return fetch(client, remote, staging, store, progress=progress.factory())
    except UntrustedContentError as e:
        audit_refusal(context.locations(), str(remote), e, remote.registry)
        raise


def copy(
    source: Annotated[str, typer.Argument(help="REGISTRY/REPOSITORY:TAG to copy from.")],
    destination: Annotated[str, typer.Argument(help="REGISTRY/REPOSITORY:TAG to copy to.")],
    ca_file: registry_opts.CaFile = None,
    insecure: registry_opts.Insecure = False,
    timeout: registry_opts.Timeout = 30.0,
) -> None:
    """Copy a verified package with its signatures between registries, digests unchanged."""
    from mppoci.registry.transfer import push as push_package

    store = context.store()
    src = parse_remote(context.pinned(source))
    dest = parse_remote(destination)
    if not dest.tag:
        raise UserInputError(f"{destination} names no tag", hint="add :TAG to the destination")
    src_client = registry_opts.client(src.registry, ca_file, insecure, timeout)
    dest_client = registry_opts.client(dest.registry, ca_file, insecure, timeout)
    with store.staging() as staging:
        staged = _fetch_audited(src_client, src, staging, store)
        verified = verifying.verify_or_ask(staging, staged.digest, origin=src.registry)
        if verified.package is not None:
            m = verified.package.manifest
            context.check_remote_pin(source, staged.digest, m.name, m.version)
        pushed = push_package(
            dest_client, staging, staged.digest, dest, progress=progress.factory()
        )
    echo(f"copied {source} to {destination}", err=True)
    echo(pushed)


def register(app: typer.Typer) -> None:
    app.command()(login)
    app.command()(push)
    app.command()(pull)
    app.command()(copy)
