"""Keys and signatures: generate a key pair, sign a package, verify one
(from the store or from a registry)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mppoci.app.remote import DEFAULT_OPTIONS, RegistryOptions
from mppoci.app.session import Session
from mppoci.errors import UserInputError

if TYPE_CHECKING:
    from mppoci.digest import Digest
    from mppoci.signing.keys import KeyId
    from mppoci.trust.gate import Verified


@dataclass(frozen=True, slots=True)
class Signed:
    digest: Digest
    what: str  # "publisher/tool version", or the digest of an OCI image
    key_id: KeyId


def read_key_file(path: Path, what: str) -> bytes:
    """A key file's bytes (at most 64 KiB). Raises UserInputError."""
    try:
        with path.open("rb") as f:
            return f.read(64 * 1024)
    except OSError as e:
        raise UserInputError(f"cannot read {what} {path}: {e.strerror}") from None


def _exists(path: Path) -> UserInputError:
    return UserInputError(
        f"{path} already exists", hint="move it away or choose --output-key-prefix"
    )


def _write_new(path: Path, data: bytes, mode: int) -> None:
    # O_EXCL: never overwrite a key; mode set at creation, so the private key
    # is never readable by others, not even for an instant.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise _exists(path) from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def key_pair_paths(prefix: str) -> tuple[Path, Path]:
    """``PREFIX.key`` and ``PREFIX.pub``, neither of which may exist yet.
    Raises UserInputError."""
    paths = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    for path in paths:
        if path.exists():
            raise _exists(path)
    return paths


def generate_key_pair(private_path: Path, public_path: Path, password: bytes) -> KeyId:
    """Write an ECDSA P-256 key pair that cosign accepts (the private key
    encrypted with ``password``, readable by its owner only); never
    overwrites a file. Returns the key id."""
    from mppoci.signing.keys import generate_key_pair as new_pair
    from mppoci.signing.keys import key_id, load_public_key

    private_pem, public_pem = new_pair(password)
    _write_new(private_path, private_pem, 0o600)
    _write_new(public_path, public_pem, 0o644)
    return key_id(load_public_key(public_pem))


def sign(session: Session, reference: str, key: Path, password: Callable[[str], bytes]) -> Signed:
    """Sign a package's manifest digest with the private key in ``key``
    (cosign's format; ``password`` is asked for it, by name, once its content
    checked); the signature is kept beside it in the store."""
    from mppoci.app.references import pinned, resolve_local
    from mppoci.signing.ecdsa import sign_payload
    from mppoci.signing.keys import key_id, load_private_key, public_key_pem
    from mppoci.signing.payload import make_payload
    from mppoci.store.signatures import attach_signature
    from mppoci.trust.gate import check_content

    store = session.store
    digest = resolve_local(session, pinned(session, reference))
    # Never sign bytes that no longer match their digests.
    package, subject = check_content(store, digest)
    private = load_private_key(read_key_file(key, "private key"), password(str(key)))
    public = private.public_key()
    payload = make_payload(digest, subject.package_name or reference)
    signature = sign_payload(private, payload)
    attach_signature(store, digest, payload, signature, public_key_pem(public).decode("ascii"))
    what = f"{subject.package_name} {subject.version}" if package else digest
    return Signed(digest, what, key_id(public))


def verify(
    session: Session,
    reference: str,
    *,
    key: Path | None = None,
    allow_downgrade: bool = False,
    options: RegistryOptions = DEFAULT_OPTIONS,
) -> Verified:
    """Re-verify a package from its bytes (digests, a trusted signature, or
    one by ``key``; no rollback), the lock's pins applied, and remember its
    version. A registry reference is downloaded into staging, verified there
    and discarded: the store is not changed."""
    from mppoci.app.references import pinned, resolve_local
    from mppoci.app.remote import verify_remote
    from mppoci.app.verifying import remember, verify_digest
    from mppoci.reference import is_remote, parse_remote
    from mppoci.signing.keys import load_public_key

    public = load_public_key(read_key_file(key, "public key")) if key else None
    target = pinned(session, reference)
    if is_remote(target):
        return verify_remote(
            session, parse_remote(target), options, key=public, allow_downgrade=allow_downgrade
        )
    verified = verify_digest(
        session, resolve_local(session, target), key=public, allow_downgrade=allow_downgrade
    )
    remember(session, verified)
    return verified
