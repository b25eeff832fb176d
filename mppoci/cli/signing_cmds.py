"""Commands for keys and signatures: key generate, sign, verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mppoci.cli import context, prompts, registry_opts
from mppoci.cli.options import AllowDowngrade, JsonFlag
from mppoci.cli.output import echo

key_app = typer.Typer(help="Create signing keys (cosign's format).", no_args_is_help=True)


@key_app.command("generate")
def generate(
    output_key_prefix: Annotated[
        str, typer.Option("--output-key-prefix", help="Write PREFIX.key and PREFIX.pub.")
    ] = "cosign",
) -> None:
    """Write an ECDSA P-256 key pair that cosign accepts (PREFIX.key, PREFIX.pub)."""
    from mppoci.app.signing import generate_key_pair, key_pair_paths

    private_path, public_path = key_pair_paths(output_key_prefix)
    secret = prompts.password(f"the new key {private_path}", confirm=True)
    if not secret:
        echo("warning: the private key is not protected by a password", err=True)
    kid = generate_key_pair(private_path, public_path, secret)
    echo(f"Private key written to {private_path}", err=True)
    echo(f"Public key written to {public_path}", err=True)
    echo(f"key id: {kid}", err=True)


def sign(
    ref: Annotated[str, typer.Argument(help="A package in the local store.")],
    key: Annotated[Path, typer.Option("--key", help="The private key (cosign format).")],
) -> None:
    """Sign a package's manifest digest; the signature is kept beside it in the store."""
    from mppoci.app import short_id
    from mppoci.app.signing import sign as sign_package

    signed = sign_package(context.session(), ref, key, prompts.password)
    echo(f"signed {signed.what} ({signed.digest}) with key {short_id(signed.key_id)}", err=True)


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
    from mppoci.app.signing import verify as verify_package

    verified = verify_package(
        context.session(),
        ref,
        key=key,
        allow_downgrade=allow_downgrade,
        options=registry_opts.options(ca_file, insecure, timeout),
    )
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
