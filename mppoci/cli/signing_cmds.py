"""Commands for keys and signatures: key generate, sign, verify."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from mppoci.cli import context, prompts, registry_opts, verifying
from mppoci.cli.context import resolve_local
from mppoci.cli.options import AllowDowngrade, JsonFlag
from mppoci.cli.output import echo
from mppoci.errors import UserInputError
from mppoci.reference import is_remote

key_app = typer.Typer(help="Create signing keys (cosign's format).", no_args_is_help=True)


def _read_file(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(64 * 1024)
    except OSError as e:
        raise UserInputError(f"cannot read {what} {path}: {e.strerror}") from None


def _write_new(path: Path, data: bytes, mode: int) -> None:
    # O_EXCL: never overwrite a key; mode set at creation, so the private key
    # is never readable by others, not even for an instant.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise UserInputError(
            f"{path} already exists", hint="move it away or choose --output-key-prefix"
        ) from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


@key_app.command("generate")
def generate(
    output_key_prefix: Annotated[
        str, typer.Option("--output-key-prefix", help="Write PREFIX.key and PREFIX.pub.")
    ] = "cosign",
) -> None:
    """Write an ECDSA P-256 key pair that cosign accepts (PREFIX.key, PREFIX.pub)."""
    from mppoci.signing.keys import generate_key_pair, key_id, load_public_key

    private_path, public_path = Path(f"{output_key_prefix}.key"), Path(f"{output_key_prefix}.pub")
    for path in (private_path, public_path):
        if path.exists():
            raise UserInputError(
                f"{path} already exists", hint="move it away or choose --output-key-prefix"
            )
    secret = prompts.password(f"the new key {private_path}", confirm=True)
    if not secret:
        echo("warning: the private key is not protected by a password", err=True)
    private_pem, public_pem = generate_key_pair(secret)
    _write_new(private_path, private_pem, 0o600)
    _write_new(public_path, public_pem, 0o644)
    kid = key_id(load_public_key(public_pem))
    echo(f"Private key written to {private_path}", err=True)
    echo(f"Public key written to {public_path}", err=True)
    echo(f"key id: {kid}", err=True)


def sign(
    ref: Annotated[str, typer.Argument(help="A package in the local store.")],
    key: Annotated[Path, typer.Option("--key", help="The private key (cosign format).")],
) -> None:
    """Sign a package's manifest digest; the signature is kept beside it in the store."""
    from mppoci.signing.ecdsa import sign_payload
    from mppoci.signing.keys import key_id, load_private_key, public_key_pem, short_id
    from mppoci.signing.payload import make_payload
    from mppoci.store.signatures import attach_signature
    from mppoci.trust.gate import check_content

    store = context.store()
    digest = resolve_local(context.pinned(ref))
    # Never sign bytes that no longer match their digests.
    package, subject = check_content(store, digest)
    private = load_private_key(_read_file(key, "private key"), prompts.password(str(key)))
    public = private.public_key()
    reference = subject.package_name or ref
    payload = make_payload(digest, reference)
    signature = sign_payload(private, payload)
    attach_signature(store, digest, payload, signature, public_key_pem(public).decode("ascii"))
    what = f"{subject.package_name} {subject.version}" if package else digest
    echo(f"signed {what} ({digest}) with key {short_id(key_id(public))}", err=True)


def verify(
    ref: Annotated[str, typer.Argument(help="A package or OCI image, local or in a registry.")],
    key: Annotated[
        Path | None, typer.Option("--key", help="Verify with this public key, not the policy.")
    ] = None,
    allow_downgrade: AllowDowngrade = False,
    json_out: JsonFlag = False,
    ca_file: registry_opts.CaFile = None,
    insecure: registry_opts.Insecure = False,
    timeout: registry_opts.Timeout = 30.0,
) -> None:
    """Re-verify a package from its bytes: digests, a trusted signature, no rollback.

    A registry reference is downloaded into a private folder, verified there,
    and discarded: verify never changes the store."""
    from mppoci.signing.keys import load_public_key

    store = context.store()
    public = load_public_key(_read_file(key, "public key")) if key else None
    target = context.pinned(ref)
    if is_remote(target):
        from mppoci.reference import parse_remote
        from mppoci.registry.transfer import fetch

        remote = parse_remote(target)
        client = registry_opts.client(remote.registry, ca_file, insecure, timeout)
        with store.staging() as staging:
            staged = fetch(client, remote, staging, store)
            verified = verifying.verify_or_ask(
                staging,
                staged.digest,
                key=public,
                allow_downgrade=allow_downgrade,
                origin=remote.registry,
            )
    else:
        digest = resolve_local(target)
        verified = verifying.verify_or_ask(
            store, digest, key=public, allow_downgrade=allow_downgrade
        )
    verifying.remember(verified)
    accepted = verified.verdict.accepted
    assert accepted is not None  # the gate refuses verdicts without one
    if json_out:
        doc = {
            "digest": verified.digest,
            "verified": True,
            "subject": verified.verdict.subject.describe(),
            "signer": {"keyId": accepted.key_id, "publisher": accepted.publisher},
            "signatures": [
                {"outcome": r.outcome.value, "detail": r.detail, "keyId": r.key_id}
                for r in verified.verdict.results
            ],
        }
        echo(json.dumps(doc, indent=2))
        return
    echo(f"Verified {verified.verdict.subject.describe()}: {accepted.detail}")


def register(app: typer.Typer) -> None:
    app.add_typer(key_app, name="key")
    app.command()(sign)
    app.command()(verify)
