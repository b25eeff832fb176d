"""cosign key files: the real ones load, ours are cosign's format, bad ones are
refused without leaking secrets or exhausting the machine."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import traceback
from collections.abc import Callable
from typing import Any

import nacl.secret
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from mppoci.errors import KeyFileError
from mppoci.signing.ecdsa import sign_payload, verify_signature
from mppoci.signing.keys import (
    COSIGN_PRIVATE_KEY_LABEL,
    MAX_KEY_FILE_BYTES,
    generate_key_pair,
    key_id,
    load_private_key,
    load_public_key,
    public_key_pem,
    short_id,
)

PASSWORD = b"hello"
# DER of PKCS#8's AlgorithmIdentifier for id-ecPublicKey on prime256v1.
P256_ALGORITHM = bytes.fromhex("301306072a8648ce3d020106082a8648ce3d030107")


def pem(label: str, body: bytes) -> bytes:
    text = base64.b64encode(body).decode()
    lines = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n".encode()


def envelope(params: dict[str, Any], salt: bytes, nonce: bytes, ciphertext: bytes) -> bytes:
    doc = {
        "kdf": {"name": "scrypt", "params": params, "salt": base64.b64encode(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }
    return pem(COSIGN_PRIVATE_KEY_LABEL, json.dumps(doc).encode())


def seal(der: bytes, password: bytes, n: int = 1024) -> bytes:
    """A cosign key file around ``der``, made independently of mppoci."""
    salt, nonce = os.urandom(32), os.urandom(24)
    secret = hashlib.scrypt(password, salt=salt, n=n, r=8, p=1, dklen=32)
    ciphertext = nacl.secret.SecretBox(secret).encrypt(der, nonce).ciphertext
    return envelope({"N": n, "r": 8, "p": 1}, salt, nonce, ciphertext)


def unseal(key_file: bytes, password: bytes) -> bytes:
    """Decrypt a cosign key file with nacl and hashlib alone."""
    body = re.sub(rb"-----[A-Z ]+-----|\s", b"", key_file)
    doc = json.loads(base64.b64decode(body))
    params = doc["kdf"]["params"]
    secret = hashlib.scrypt(
        password,
        salt=base64.b64decode(doc["kdf"]["salt"]),
        n=params["N"],
        r=params["r"],
        p=params["p"],
        maxmem=2**26,
        dklen=32,
    )
    return nacl.secret.SecretBox(secret).decrypt(
        base64.b64decode(doc["ciphertext"]), base64.b64decode(doc["cipher"]["nonce"])
    )


def pkcs8(key: Any) -> bytes:
    return key.private_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def spki_pem(key: Any) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize("name", ["cosign-label", "sigstore-label"])
def test_cosign_written_key_loads_and_matches_its_public_key(
    name: str, read_vector: Callable[[str], bytes]
) -> None:
    private = load_private_key(read_vector(f"keys/{name}.key"), PASSWORD)
    public = load_public_key(read_vector(f"keys/{name}.pub"))
    assert key_id(private.public_key()) == key_id(public)
    assert verify_signature(public, b"payload", sign_payload(private, b"payload"))


def test_key_id_is_sha256_of_the_der_public_key(read_vector: Callable[[str], bytes]) -> None:
    text = read_vector("keys/cosign-label.pub")
    der = base64.b64decode(b"".join(text.splitlines()[1:-1]))
    expected = hashlib.sha256(der).hexdigest()
    kid = key_id(load_public_key(text))
    assert kid == expected
    assert short_id(kid) == expected[:16]


def test_wrong_password_is_refused_without_revealing_any_password(
    read_vector: Callable[[str], bytes],
) -> None:
    wrong = b"correct-horse-battery"
    with pytest.raises(KeyFileError) as caught:
        load_private_key(read_vector("keys/cosign-label.key"), wrong, what="cosign.key")
    error = caught.value
    assert error.message == "wrong password for cosign.key, or the key file is damaged"
    everything = error.diagnostics() + "".join(traceback.format_exception(error))
    for secret in (wrong.decode(), PASSWORD.decode(), "ciphertext"):
        assert secret not in everything
    # No chained exception that could carry derived secrets.
    assert error.__cause__ is None and error.__suppress_context__


def test_tampered_key_file_is_refused_as_damaged(read_vector: Callable[[str], bytes]) -> None:
    key_file = read_vector("keys/cosign-label.key")
    body = re.sub(rb"-----[A-Z ]+-----|\s", b"", key_file)
    doc = json.loads(base64.b64decode(body))
    ciphertext = bytearray(base64.b64decode(doc["ciphertext"]))
    ciphertext[10] ^= 1
    doc["ciphertext"] = base64.b64encode(bytes(ciphertext)).decode()
    tampered = pem(COSIGN_PRIVATE_KEY_LABEL, json.dumps(doc).encode())
    with pytest.raises(KeyFileError, match=r"wrong password .* or the key file is damaged"):
        load_private_key(tampered, PASSWORD)


def test_sec1_inner_key_is_refused_as_cosign_refuses_it(
    read_vector: Callable[[str], bytes],
) -> None:
    with pytest.raises(KeyFileError) as caught:
        load_private_key(read_vector("keys/cosign-label-sec1-inner.key"), PASSWORD)
    assert "SEC1" in caught.value.message
    assert caught.value.hint is not None and "mppoci key generate" in caught.value.hint


def test_generated_pair_round_trips() -> None:
    private_pem, public_pem = generate_key_pair(b"s3cret")
    private = load_private_key(private_pem, b"s3cret")
    public = load_public_key(public_pem)
    assert key_id(private.public_key()) == key_id(public)
    assert public_key_pem(public) == public_pem
    payload = b'{"critical":{}}'
    assert verify_signature(public, payload, sign_payload(private, payload))
    with pytest.raises(KeyFileError):
        load_private_key(private_pem, b"s3cret ")


def test_generated_private_key_is_cosign_format_with_pkcs8_inside() -> None:
    private_pem, public_pem = generate_key_pair(b"pw")
    lines = private_pem.decode().splitlines()
    assert lines[0] == "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----"
    assert lines[-1] == "-----END ENCRYPTED COSIGN PRIVATE KEY-----"
    assert all(len(line) == 64 for line in lines[1:-2]) and 0 < len(lines[-2]) <= 64
    assert private_pem.endswith(b"-----\n")
    body = base64.b64decode("".join(lines[1:-1]))
    assert re.fullmatch(
        rb'\{"kdf":\{"name":"scrypt","params":\{"N":32768,"r":8,"p":1\},"salt":"[^"]+"\},'
        rb'"cipher":\{"name":"nacl/secretbox","nonce":"[^"]+"\},"ciphertext":"[^"]+"\}',
        body,
    )
    doc = json.loads(body)
    assert len(base64.b64decode(doc["kdf"]["salt"])) == 32
    assert len(base64.b64decode(doc["cipher"]["nonce"])) == 24

    der = unseal(private_pem, b"pw")
    # PKCS#8: SEQUENCE { INTEGER 0, SEQUENCE { ecPublicKey, prime256v1 }, ... },
    # not SEC1's SEQUENCE { INTEGER 1, OCTET STRING, ... } that cosign refuses.
    assert der[0] == 0x30
    start = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)
    assert der[start : start + 3] == b"\x02\x01\x00"
    assert der[start + 3 : start + 3 + len(P256_ALGORITHM)] == P256_ALGORITHM
    inner = serialization.load_der_private_key(der, password=None)
    assert isinstance(inner, ec.EllipticCurvePrivateKey)
    assert spki_pem(inner) == public_pem


def test_each_generated_key_has_its_own_salt_and_nonce() -> None:
    first, _ = generate_key_pair(b"pw")
    second, _ = generate_key_pair(b"pw")
    assert first != second


def test_empty_password_is_allowed_as_in_cosign() -> None:
    private_pem, public_pem = generate_key_pair(b"")
    assert key_id(load_private_key(private_pem, b"").public_key()) == key_id(
        load_public_key(public_pem)
    )


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "params",
    [
        {"N": 2**30, "r": 8, "p": 1},
        {"N": 2**21, "r": 8, "p": 1},
        {"N": 2**15, "r": 2**20, "p": 1},
        {"N": 2**15, "r": 8, "p": 2**20},
        {"N": 2**20, "r": 16, "p": 1},
        {"N": 3, "r": 8, "p": 1},
        {"N": 0, "r": 8, "p": 1},
        {"N": 1, "r": 8, "p": 1},
        {"N": True, "r": 8, "p": 1},
        {"N": 32768.0, "r": 8, "p": 1},
        {"N": "32768", "r": 8, "p": 1},
        {"N": 32768, "r": 0, "p": 1},
    ],
)
def test_hostile_scrypt_cost_is_refused_before_deriving(params: dict[str, Any]) -> None:
    key_file = envelope(params, os.urandom(32), os.urandom(24), os.urandom(140))
    with pytest.raises(KeyFileError, match="scrypt parameters"):
        load_private_key(key_file, PASSWORD)


def test_oversize_key_file_is_refused() -> None:
    key_file = b"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n" + b"A" * MAX_KEY_FILE_BYTES
    with pytest.raises(KeyFileError, match="too large"):
        load_private_key(key_file, PASSWORD)
    with pytest.raises(KeyFileError, match="too large"):
        load_public_key(key_file)


@pytest.mark.parametrize(
    ("cipher", "nonce_size", "message"),
    [
        ("nacl/secretbox", 23, "nonce"),
        ("aes-gcm", 24, "cipher 'aes-gcm' is not supported"),
    ],
)
def test_envelope_with_other_cipher_or_nonce_is_refused(
    cipher: str, nonce_size: int, message: str
) -> None:
    doc = json.loads(base64.b64decode(b"".join(seal(b"x" * 40, PASSWORD).splitlines()[1:-1])))
    doc["cipher"] = {"name": cipher, "nonce": base64.b64encode(b"n" * nonce_size).decode()}
    with pytest.raises(KeyFileError, match=message):
        load_private_key(pem(COSIGN_PRIVATE_KEY_LABEL, json.dumps(doc).encode()), PASSWORD)


@pytest.mark.parametrize(
    ("key", "found"),
    [
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "an RSA key"),
        (ec.generate_private_key(ec.SECP384R1()), "secp384r1"),
        (ed25519.Ed25519PrivateKey.generate(), "an Ed25519 key"),
    ],
    ids=["rsa", "p384", "ed25519"],
)
def test_key_of_another_kind_is_refused_naming_what_it_is(key: Any, found: str) -> None:
    with pytest.raises(KeyFileError, match=found) as caught:
        load_public_key(spki_pem(key))
    assert "P-256" in caught.value.diagnostics()
    with pytest.raises(KeyFileError, match=found):
        load_private_key(seal(pkcs8(key), PASSWORD), PASSWORD)


def test_private_key_given_as_public_key_is_refused(read_vector: Callable[[str], bytes]) -> None:
    with pytest.raises(KeyFileError) as caught:
        load_public_key(read_vector("keys/cosign-label.key"))
    assert caught.value.hint is not None and ".pub" in caught.value.hint


def test_public_key_given_as_private_key_is_refused(read_vector: Callable[[str], bytes]) -> None:
    with pytest.raises(KeyFileError, match="'PUBLIC KEY', not a cosign private key"):
        load_private_key(read_vector("keys/cosign-label.pub"), PASSWORD)


def test_unencrypted_pkcs8_private_key_is_refused() -> None:
    plain = pem("PRIVATE KEY", pkcs8(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(KeyFileError, match="'PRIVATE KEY', not a cosign private key"):
        load_private_key(plain, PASSWORD)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a key",
        b"-----BEGIN PUBLIC KEY-----\nMFkw\n",
        b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    ],
    ids=["empty", "text", "no-end", "not-base64", "not-der"],
)
def test_damaged_public_key_is_refused(data: bytes) -> None:
    with pytest.raises(KeyFileError):
        load_public_key(data)


def test_point_off_the_curve_is_refused(read_vector: Callable[[str], bytes]) -> None:
    text = read_vector("keys/cosign-label.pub")
    der = bytearray(base64.b64decode(b"".join(text.splitlines()[1:-1])))
    der[-1] ^= 1  # the y coordinate no longer matches x
    with pytest.raises(KeyFileError, match="cannot be read"):
        load_public_key(pem("PUBLIC KEY", bytes(der)))
