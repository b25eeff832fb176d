"""Commands for keys and signatures: key generate, sign, verify."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from mppoci.cli import context, prompts
from mppoci.digest import Digest
from mppoci.errors import UserInputError, VerificationError
from mppoci.locations import Locations
from mppoci.reference import is_remote, parse_local

key_app = typer.Typer(help="Create signing keys (cosign's format).", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


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
        typer.echo("warning: the private key is not protected by a password", err=True)
    private_pem, public_pem = generate_key_pair(secret)
    _write_new(private_path, private_pem, 0o600)
    _write_new(public_path, public_pem, 0o644)
    kid = key_id(load_public_key(public_pem))
    typer.echo(f"Private key written to {private_path}", err=True)
    typer.echo(f"Public key written to {public_path}", err=True)
    typer.echo(f"key id: {kid}", err=True)


def _local_digest(ref: str) -> Digest:
    from mppoci.package.stored import resolve

    if is_remote(ref):
        raise UserInputError(
            f"{ref} is a registry reference; this version of mppoci works on the local store",
            hint="name publisher/tool[:version] or sha256:<digest>",
        )
    return resolve(context.store(), parse_local(ref))


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
    digest = _local_digest(ref)
    # Never sign bytes that no longer match their digests.
    package, subject = check_content(store, digest)
    private = load_private_key(_read_file(key, "private key"), prompts.password(str(key)))
    public = private.public_key()
    reference = subject.package_name or ref
    payload = make_payload(digest, reference)
    signature = sign_payload(private, payload)
    attach_signature(store, digest, payload, signature, public_key_pem(public).decode("ascii"))
    what = f"{subject.package_name} {subject.version}" if package else digest
    typer.echo(f"signed {what} ({digest}) with key {short_id(key_id(public))}", err=True)


def _ask_first_use(locations: Locations, err: VerificationError, package_name: str | None) -> bool:
    """Offer to trust unknown signers, on a terminal only. True if one was added."""
    from datetime import UTC, datetime
    from functools import partial

    from mppoci.signing.keys import short_id
    from mppoci.trust.files import update_policy
    from mppoci.trust.policy import TrustedKey, TrustPolicy
    from mppoci.trust.verdict import Verdict

    verdict = err.verdict
    if not isinstance(verdict, Verdict) or package_name is None or not prompts.interactive():
        return False
    publisher = package_name.split("/", 1)[0]
    added = False
    for signer in verdict.unknown_signers:
        assert signer.key_id is not None and signer.public_key_pem is not None
        typer.echo(
            f"\n{package_name} is signed by a key you have not trusted before:\n"
            f"  publisher:   {publisher}\n"
            f"  key id:      {signer.key_id}\n"
            f"  fingerprint: {short_id(signer.key_id)}\n"
            f"  package:     {verdict.subject.describe()}\n"
            "Compare the key id with the one the publisher gives you out of band.",
            err=True,
        )
        if prompts.confirm(f"Trust this key for {publisher}/* ?"):
            key = TrustedKey(
                key_id=signer.key_id,
                public_key_pem=signer.public_key_pem,
                publisher=publisher,
                scopes=(f"{publisher}/*",),
                added=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                note=f"trusted on first use for {package_name}",
            )
            update_policy(locations, partial(TrustPolicy.with_key, key=key))
            added = True
    return added


def verify(
    ref: Annotated[str, typer.Argument(help="A package or OCI image in the local store.")],
    key: Annotated[
        Path | None, typer.Option("--key", help="Verify with this public key, not the policy.")
    ] = None,
    allow_downgrade: Annotated[
        bool,
        typer.Option("--allow-downgrade", help="Accept a version older than one verified before."),
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Re-verify a package from its bytes: digests, a trusted signature, no rollback."""
    from mppoci.signing.keys import load_public_key
    from mppoci.trust import files
    from mppoci.trust.gate import Verified, check_content
    from mppoci.trust.gate import verify as gate_verify

    locations = context.locations()
    store = context.store()
    digest = _local_digest(ref)
    public = load_public_key(_read_file(key, "public key")) if key else None

    def attempt() -> Verified:
        return gate_verify(
            store,
            digest,
            policy=files.load_policy(locations),
            rollback=files.load_rollback(locations),
            key=public,
            allow_downgrade=allow_downgrade,
        )

    try:
        verified = attempt()
    except VerificationError as e:
        _, subject = check_content(store, digest)
        if public is not None or not _ask_first_use(locations, e, subject.package_name):
            raise
        verified = attempt()
    if verified.package is not None:
        m = verified.package.manifest
        files.update_rollback(locations, lambda s: s.record(m.name, m.version, digest))
    accepted = verified.verdict.accepted
    assert accepted is not None  # the gate refuses verdicts without one
    if json_out:
        doc = {
            "digest": digest,
            "verified": True,
            "subject": verified.verdict.subject.describe(),
            "signer": {"keyId": accepted.key_id, "publisher": accepted.publisher},
            "signatures": [
                {"outcome": r.outcome.value, "detail": r.detail, "keyId": r.key_id}
                for r in verified.verdict.results
            ],
        }
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(f"Verified {verified.verdict.subject.describe()}: {accepted.detail}")


def register(app: typer.Typer) -> None:
    app.add_typer(key_app, name="key")
    app.command()(sign)
    app.command()(verify)
