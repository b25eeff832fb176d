"""Content digests (``sha256:<hex>``): parsing, computing, streaming checks."""

from __future__ import annotations

import hashlib
import re
from typing import NewType

from mppoci.errors import DigestMismatchError, UserInputError

Digest = NewType("Digest", str)

_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


def parse_digest(text: str) -> Digest:
    """Return ``text`` as a :data:`Digest`.

    Raises:
        UserInputError: ``text`` is not ``sha256:`` followed by 64 lowercase hex digits.
    """
    if not _DIGEST_RE.fullmatch(text):
        raise UserInputError(
            f"{text!r} is not a digest",
            hint="write a digest as sha256: followed by 64 lowercase hex digits",
        )
    return Digest(text)


def is_digest(text: str) -> bool:
    return _DIGEST_RE.fullmatch(text) is not None


def sha256_digest(data: bytes) -> Digest:
    return Digest("sha256:" + hashlib.sha256(data).hexdigest())


def hex_part(digest: Digest) -> str:
    return digest.split(":", 1)[1]


def check_bytes(data: bytes, expected: Digest, *, what: str) -> None:
    """Raise :class:`DigestMismatchError` unless ``data`` hashes to ``expected``."""
    actual = sha256_digest(data)
    if actual != expected:
        raise DigestMismatchError(
            f"{what} does not match its digest: expected {expected}, got {actual}",
            hint="the content was changed or corrupted; fetch it again from a trusted source",
        )
