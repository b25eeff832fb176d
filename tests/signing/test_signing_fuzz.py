"""Hostile bytes into every parser of outside input raise only mppoci errors
(never a stray ValueError, KeyError or crash that would surface as a traceback)."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from mppoci.errors import Error
from mppoci.signing.containers_image import PREFIX, parse_sigstore_json_signature
from mppoci.signing.cosign_manifest import parse_signature_manifest
from mppoci.signing.ecdsa import verify_signature
from mppoci.signing.keys import load_private_key, load_public_key
from mppoci.signing.payload import SIGNATURE_TYPE, parse_payload

# A hang guard for the module: scrypt runs when an envelope passes the checks.
# The number of examples comes from the hypothesis profile (tests/conftest.py).
pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(120)]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def only_our_errors(parse: Any, data: bytes) -> None:
    with contextlib.suppress(Error):
        parse(data)


@given(st.binary(max_size=2048))
def test_random_bytes_raise_only_mppoci_errors(data: bytes) -> None:
    only_our_errors(parse_payload, data)
    only_our_errors(lambda d: load_private_key(d, b"pw"), data)
    only_our_errors(load_public_key, data)
    only_our_errors(parse_signature_manifest, data)
    only_our_errors(parse_sigstore_json_signature, data)
    only_our_errors(parse_sigstore_json_signature, PREFIX + data)


def pem(label: str, body: bytes) -> bytes:
    return b"-----BEGIN %s-----\n%s\n-----END %s-----\n" % (
        label.encode(),
        base64.b64encode(body),
        label.encode(),
    )


@given(
    st.sampled_from(["PUBLIC KEY", "ENCRYPTED COSIGN PRIVATE KEY", "EC PRIVATE KEY", "X"]),
    st.binary(max_size=300),
)
def test_random_pem_bodies_raise_only_mppoci_errors(label: str, body: bytes) -> None:
    only_our_errors(load_public_key, pem(label, body))
    only_our_errors(lambda d: load_private_key(d, b"pw"), pem(label, body))


b64 = st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode())
small_or_hostile = st.sampled_from([-1, 0, 1, 2, 3, 16, 1024, 2**31, 2**64, True, 1.5, "8", None])


@given(
    st.fixed_dictionaries(
        {
            "kdf": st.fixed_dictionaries(
                {
                    "name": st.sampled_from(["scrypt", "pbkdf2", ""]),
                    "params": st.fixed_dictionaries(
                        {"N": small_or_hostile, "r": small_or_hostile, "p": small_or_hostile}
                    )
                    | json_values,
                    "salt": b64 | json_values,
                }
            ),
            "cipher": st.fixed_dictionaries(
                {"name": st.sampled_from(["nacl/secretbox", "x"]), "nonce": b64 | json_values}
            ),
            "ciphertext": b64 | json_values,
        }
    )
    | json_values
)
def test_random_key_envelopes_raise_only_mppoci_errors(doc: Any) -> None:
    only_our_errors(
        lambda d: load_private_key(d, b"pw"),
        pem("ENCRYPTED SIGSTORE PRIVATE KEY", json.dumps(doc).encode()),
    )


@given(
    st.fixed_dictionaries(
        {
            "critical": st.fixed_dictionaries(
                {
                    "identity": st.fixed_dictionaries({"docker-reference": json_values})
                    | json_values,
                    "image": st.fixed_dictionaries(
                        {
                            "docker-manifest-digest": st.sampled_from(["sha256:" + "a" * 64])
                            | json_values
                        }
                    )
                    | json_values,
                    "type": st.just(SIGNATURE_TYPE) | json_values,
                }
            )
            | json_values,
            "optional": json_values,
        }
    )
    | json_values
)
def test_random_payload_documents_raise_only_mppoci_errors(doc: Any) -> None:
    only_our_errors(parse_payload, json.dumps(doc).encode())


layer = st.fixed_dictionaries(
    {
        "mediaType": st.just("application/vnd.dev.cosign.simplesigning.v1+json") | json_values,
        "digest": st.just("sha256:" + "b" * 64) | json_values,
        "size": st.integers() | json_values,
        "annotations": st.dictionaries(st.text(max_size=5), st.text(max_size=5) | json_values)
        | json_values,
    }
)


@given(
    st.dictionaries(st.sampled_from(["schemaVersion", "config", "layers"]), json_values),
    st.lists(layer | json_values, max_size=4),
)
def test_random_signature_manifests_raise_only_mppoci_errors(
    doc: dict[str, Any], layers: list[Any]
) -> None:
    doc = {"schemaVersion": 2, "config": layers[0] if layers else {}, **doc, "layers": layers}
    only_our_errors(parse_signature_manifest, json.dumps(doc).encode())


KEY = ec.generate_private_key(ec.SECP256R1()).public_key()


@given(st.text(max_size=200), st.binary(max_size=64))
def test_verify_signature_never_raises(signature: str, payload: bytes) -> None:
    assert verify_signature(KEY, payload, signature) is False
