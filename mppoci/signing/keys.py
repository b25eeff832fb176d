"""cosign-format ECDSA P-256 key files: reading, writing and naming them.

A public key is a PEM ``PUBLIC KEY`` (PKIX SubjectPublicKeyInfo). A private key
is cosign's own envelope: PEM ``ENCRYPTED COSIGN PRIVATE KEY`` (or the newer
``ENCRYPTED SIGSTORE PRIVATE KEY``) around JSON that names the scrypt
parameters and holds a NaCl secretbox of the PKCS#8 DER key.

Nothing derived from a password (the password itself, the scrypt key, the
decrypted key) ever reaches an exception message or chain: failures after
decryption starts are raised ``from None``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from typing import Any, Final, NewType

import nacl.exceptions
import nacl.secret
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from mppoci.errors import KeyFileError
from mppoci.limits import KiB

KeyId = NewType("KeyId", str)

COSIGN_PRIVATE_KEY_LABEL: Final = "ENCRYPTED COSIGN PRIVATE KEY"
SIGSTORE_PRIVATE_KEY_LABEL: Final = "ENCRYPTED SIGSTORE PRIVATE KEY"
PUBLIC_KEY_LABEL: Final = "PUBLIC KEY"
PRIVATE_KEY_LABELS: Final = (COSIGN_PRIVATE_KEY_LABEL, SIGSTORE_PRIVATE_KEY_LABEL)

# Key files are a few hundred bytes; the cap keeps a wrong or hostile file
# from costing memory before we know what it is.
MAX_KEY_FILE_BYTES: Final = 64 * KiB

# What we write: cosign's "widest compatibility" parameters (notes).
SCRYPT_N: Final = 32768
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
SALT_BYTES: Final = 32

# The file chooses its own scrypt cost, so a hostile file could ask for
# gigabytes of memory or hours of work. cosign's own keys use N = 2**15 or
# 2**16 with r = 8, p = 1; these caps leave room above that (1 GiB at most).
MAX_SCRYPT_N: Final = 2**20
MAX_SCRYPT_R: Final = 16
MAX_SCRYPT_P: Final = 16
MAX_SCRYPT_WORK: Final = 2**20 * 8  # N * r * p

_PEM_LINE: Final = 64  # Go's encoding/pem line width, as cosign writes
_PEM_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,64})-----")
_EXPECTED_PUBLIC = (
    "an ECDSA P-256 public key in PEM 'PUBLIC KEY' form, as cosign.pub from "
    "`mppoci key generate` or `cosign generate-key-pair`"
)
_EXPECTED_PRIVATE = (
    "an encrypted ECDSA P-256 private key in cosign's format "
    "(PEM 'ENCRYPTED COSIGN PRIVATE KEY' or 'ENCRYPTED SIGSTORE PRIVATE KEY'), "
    "as cosign.key from `mppoci key generate` or `cosign generate-key-pair`"
)
_REGENERATE = (
    "create a new key pair with `mppoci key generate` (or `cosign generate-key-pair`) "
    "and have the new public key trusted"
)


def key_id(public_key: ec.EllipticCurvePublicKey) -> KeyId:
    """The key's id: lowercase hex SHA-256 of its DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyId(hashlib.sha256(der).hexdigest())


def short_id(key: KeyId) -> str:
    """The part of a key id shown to people."""
    return key[:16]


def public_key_pem(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The public key as cosign writes ``cosign.pub``."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key(pem: bytes, *, what: str = "the public key") -> ec.EllipticCurvePublicKey:
    """Read a PEM ``PUBLIC KEY`` that must hold an ECDSA P-256 key.

    Raises:
        KeyFileError: the bytes are not such a key; the message says what they are.
    """
    label, der = _read_pem(pem, what=what, expected=_EXPECTED_PUBLIC)
    if label != PUBLIC_KEY_LABEL:
        hint = f"use {_EXPECTED_PUBLIC}"
        if "PRIVATE KEY" in label:
            hint = "this is a private key: pass the matching .pub file, never the private key"
        raise KeyFileError(f"{what} is a PEM {label!r}, not a public key", hint=hint)
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyFileError(
            f"{what} is a PEM 'PUBLIC KEY' that cannot be read (damaged, or an unknown key type)",
            hint=f"use {_EXPECTED_PUBLIC}",
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyFileError(
            f"{what} is {_describe(key)}; only ECDSA P-256 keys are supported",
            hint=f"use {_EXPECTED_PUBLIC}",
        )
    return key


def load_private_key(
    pem: bytes, password: bytes, *, what: str = "the private key"
) -> ec.EllipticCurvePrivateKey:
    """Decrypt a cosign private key file (either PEM label) with ``password``.

    Raises:
        KeyFileError: not a cosign key file, scrypt parameters over the caps,
            a wrong password or damaged file, or an inner key that is not a
            PKCS#8 ECDSA P-256 key.
    """
    label, body = _read_pem(pem, what=what, expected=_EXPECTED_PRIVATE)
    if label not in PRIVATE_KEY_LABELS:
        raise KeyFileError(
            f"{what} is a PEM {label!r}, not a cosign private key", hint=f"use {_EXPECTED_PRIVATE}"
        )
    salt, n, r, p, nonce, ciphertext = _read_envelope(body, what=what)
    try:
        secret = hashlib.scrypt(
            password, salt=salt, n=n, r=r, p=p, maxmem=_scrypt_maxmem(n, r, p), dklen=32
        )
    except (ValueError, MemoryError):
        raise KeyFileError(
            f"{what} could not be decrypted: this system refused its scrypt parameters "
            f"(N={n}, r={r}, p={p})",
            hint=_REGENERATE,
        ) from None
    try:
        plaintext = nacl.secret.SecretBox(secret).decrypt(ciphertext, nonce)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise KeyFileError(
            f"wrong password for {what}, or the key file is damaged",
            hint="give the password this key was created with; a key file that was edited "
            "or truncated cannot be decrypted with any password",
        ) from None
    return _private_key_from_der(plaintext, what=what)


def generate_key_pair(password: bytes) -> tuple[bytes, bytes]:
    """A new ECDSA P-256 key pair as (private key file, public key file) bytes.

    The private key is written as cosign writes ``cosign.key`` with the older
    ``ENCRYPTED COSIGN PRIVATE KEY`` label and N=32768, which every cosign
    version and containers/image read. An empty password is allowed, as in
    cosign; warning about it is the caller's job.
    """
    private_key = ec.generate_private_key(ec.SECP256R1())
    der = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    salt = os.urandom(SALT_BYTES)
    nonce = os.urandom(nacl.secret.SecretBox.NONCE_SIZE)
    secret = hashlib.scrypt(
        password,
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        maxmem=_scrypt_maxmem(SCRYPT_N, SCRYPT_R, SCRYPT_P),
        dklen=32,
    )
    ciphertext = nacl.secret.SecretBox(secret).encrypt(der, nonce).ciphertext
    # Field order as cosign's Go structs marshal them, so our files look like its own.
    envelope = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
            "salt": _b64(salt),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": _b64(nonce)},
        "ciphertext": _b64(ciphertext),
    }
    body = json.dumps(envelope, separators=(",", ":")).encode("ascii")
    return _pem(COSIGN_PRIVATE_KEY_LABEL, body), public_key_pem(private_key.public_key())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _pem(label: str, body: bytes) -> bytes:
    text = base64.b64encode(body).decode("ascii")
    lines = [text[i : i + _PEM_LINE] for i in range(0, len(text), _PEM_LINE)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode(
        "ascii"
    )


def _read_pem(data: bytes, *, what: str, expected: str) -> tuple[str, bytes]:
    """The first PEM block's label and decoded body. Text before and after
    the block is ignored, as Go's pem.Decode does."""
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(
            f"{what} is {len(data)} bytes, too large for a key file (limit {MAX_KEY_FILE_BYTES})",
            hint=f"use {expected}",
        )
    begin = _PEM_BEGIN.search(data)
    if begin is None:
        raise KeyFileError(
            f"{what} is not a PEM file (no '-----BEGIN' line)", hint=f"use {expected}"
        )
    label = begin.group(1).decode("ascii")
    end = data.find(b"-----END " + begin.group(1) + b"-----", begin.end())
    if end < 0:
        raise KeyFileError(
            f"{what} is a damaged PEM {label!r}: its '-----END' line is missing",
            hint=f"use {expected}",
        )
    text = re.sub(rb"\s+", b"", data[begin.end() : end])
    try:
        body = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(
            f"{what} is a damaged PEM {label!r}: its body is not base64 (PEM headers are "
            "not supported)",
            hint=f"use {expected}",
        ) from None
    return label, body


def _read_envelope(body: bytes, *, what: str) -> tuple[bytes, int, int, int, bytes, bytes]:
    """(salt, N, r, p, nonce, ciphertext) from cosign's JSON envelope, checked."""

    def damaged(why: str) -> KeyFileError:
        return KeyFileError(f"{what} is not a usable cosign key file: {why}", hint=_REGENERATE)

    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise damaged("its content is not JSON") from None
    kdf = _field(doc, "kdf", dict)
    cipher = _field(doc, "cipher", dict)
    params = _field(kdf, "params", dict) if kdf is not None else None
    if kdf is None or cipher is None or params is None:
        raise damaged("the 'kdf' or 'cipher' section is missing")
    if kdf.get("name") != "scrypt":
        raise damaged(f"key derivation {kdf.get('name')!r} is not supported (expected 'scrypt')")
    if cipher.get("name") != "nacl/secretbox":
        raise damaged(f"cipher {cipher.get('name')!r} is not supported (expected 'nacl/secretbox')")
    n, r, p = (_field(params, name, int) for name in ("N", "r", "p"))
    if n is None or r is None or p is None:
        raise damaged("the scrypt parameters N, r and p must be integers")
    if not (
        2 <= n <= MAX_SCRYPT_N
        and n & (n - 1) == 0
        and 1 <= r <= MAX_SCRYPT_R
        and 1 <= p <= MAX_SCRYPT_P
        and n * r * p <= MAX_SCRYPT_WORK
    ):
        raise damaged(
            f"its scrypt parameters N={n}, r={r}, p={p} are invalid or would cost more memory "
            f"or time than allowed (N a power of two up to {MAX_SCRYPT_N}, r up to "
            f"{MAX_SCRYPT_R}, p up to {MAX_SCRYPT_P})"
        )
    salt = _b64_field(kdf, "salt")
    nonce = _b64_field(cipher, "nonce")
    ciphertext = _b64_field(doc, "ciphertext")
    if not salt or nonce is None or ciphertext is None:
        raise damaged("the salt, nonce or ciphertext is missing or not base64")
    if len(nonce) != nacl.secret.SecretBox.NONCE_SIZE:
        raise damaged(f"the nonce is {len(nonce)} bytes, not {nacl.secret.SecretBox.NONCE_SIZE}")
    if len(ciphertext) <= nacl.secret.SecretBox.MACBYTES:
        raise damaged("the ciphertext is too short to hold a key")
    return salt, n, r, p, nonce, ciphertext


def _field(doc: Any, name: str, kind: type[Any]) -> Any:
    """``doc[name]`` when ``doc`` is an object and the value has type ``kind``, else None."""
    if not isinstance(doc, dict):
        return None
    value = doc.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        return None
    return value


def _b64_field(doc: Any, name: str) -> bytes | None:
    text = _field(doc, name, str)
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _scrypt_maxmem(n: int, r: int, p: int) -> int:
    # OpenSSL needs 128*r*(N+2) for V plus 128*r*p for B; the slack covers its bookkeeping.
    return 128 * r * (n + p + 2) + 1024 * KiB


def _private_key_from_der(der: bytes, *, what: str) -> ec.EllipticCurvePrivateKey:
    # cryptography would also accept a SEC1 "EC PRIVATE KEY" here, but cosign
    # (x509.ParsePKCS8PrivateKey) refuses one, so a key we accepted could not
    # be used by cosign itself: refuse it the same way.
    shape = _der_key_shape(der)
    if shape == "sec1":
        raise KeyFileError(
            f"{what} holds its key in the SEC1 'EC PRIVATE KEY' form, which cosign refuses "
            "(it reads only PKCS#8 keys)",
            hint=_REGENERATE,
        )
    if shape != "pkcs8":
        raise KeyFileError(
            f"wrong password for {what}, or the key file is damaged: the decrypted key is "
            "not a PKCS#8 key",
            hint=_REGENERATE,
        )
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyFileError(
            f"{what} decrypts, but the key inside cannot be read (damaged or an unknown type)",
            hint=_REGENERATE,
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyFileError(
            f"{what} holds {_describe(key)}; only ECDSA P-256 keys are supported",
            hint=_REGENERATE,
        )
    return key


def _der_key_shape(der: bytes) -> str:
    """``"pkcs8"``, ``"sec1"`` or ``"unknown"``, from the DER structure alone.

    PKCS#8 is SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING key };
    SEC1 is SEQUENCE { INTEGER 1, OCTET STRING key, ... }. The element after
    the leading INTEGER tells them apart.
    """
    outer = _der_header(der, 0)
    if outer is None or outer[0] != 0x30:
        return "unknown"
    version = _der_header(der, outer[1])
    if version is None or version[0] != 0x02:
        return "unknown"
    following = _der_header(der, version[1] + version[2])
    if following is None:
        return "unknown"
    return {0x30: "pkcs8", 0x04: "sec1"}.get(following[0], "unknown")


def _der_header(der: bytes, pos: int) -> tuple[int, int, int] | None:
    """(tag, content start, content length) of the DER element at ``pos``."""
    if pos + 2 > len(der):
        return None
    tag, first = der[pos], der[pos + 1]
    if first < 0x80:
        return tag, pos + 2, first
    count = first & 0x7F
    if count == 0 or count > 4 or pos + 2 + count > len(der):
        return None
    length = int.from_bytes(der[pos + 2 : pos + 2 + count], "big")
    start = pos + 2 + count
    return (tag, start, length) if start + length <= len(der) else None


def _describe(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return f"an ECDSA key on the {key.curve.name} curve"
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return f"an RSA key ({key.key_size} bits)"
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "an Ed25519 key"
    if isinstance(key, ed448.Ed448PublicKey | ed448.Ed448PrivateKey):
        return "an Ed448 key"
    return f"a {type(key).__name__.lstrip('_')} key"
