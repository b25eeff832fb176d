"""Fuzzing of `mppoci load`'s input: an OCI-layout tar from anywhere. A real
signed bundle is taken apart and put together again with members renamed,
dropped, duplicated or rewritten (index.json and manifests as mutated JSON,
blobs with damaged bytes); then it is opened and every package in it goes
through the verification gate, as `load` does. It loads verified or raises
our error; a bundle the mutations left as it was always verifies."""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from mppoci.oci import mediatypes as mt
from mppoci.package.artifact import build_into_store
from mppoci.package.bundle import open_bundle, write_bundle
from mppoci.signing.ecdsa import sign_payload
from mppoci.signing.keys import key_id, public_key_pem
from mppoci.signing.payload import make_payload
from mppoci.store.layout import Store
from mppoci.store.signatures import attach_signature
from mppoci.trust.gate import verify
from mppoci.trust.policy import TrustedKey, TrustPolicy
from mppoci.trust.rollback import RollbackState
from tests.conftest import write_package
from tests.fuzz.support import byte_edits, mutated, parsed_or_our_error, to_json_bytes

pytestmark = pytest.mark.fuzz

KEY = ec.generate_private_key(ec.SECP256R1())
PEM = public_key_pem(KEY.public_key()).decode()
POLICY = TrustPolicy(keys=(TrustedKey(key_id(KEY.public_key()), PEM, "acme", ("acme/*",)),))


def _no_resolve(runtime: object) -> object:
    raise AssertionError("the sample manifest pins its runtime")


def _make_bundle() -> list[tuple[tarfile.TarInfo, bytes]]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store")
        artifact, _ = build_into_store(
            write_package(Path(tmp) / "pkg"), store, resolve_runtime=_no_resolve
        )
        payload = make_payload(artifact.digest, "acme/word-count")
        attach_signature(store, artifact.digest, payload, sign_payload(KEY, payload), PEM)
        out = Path(tmp) / "bundle.tar"
        write_bundle(store, [(artifact.descriptor(), artifact.ref_name)], out)
        with tarfile.open(out) as tar:
            members = [
                (m, tar.extractfile(m).read() if m.isfile() else b"")  # type: ignore[union-attr]
                for m in tar.getmembers()
            ]
    return members


MEMBERS = _make_bundle()


def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info = tarfile.TarInfo(info.name) if info.isfile() else info
            if info.isfile() or info.type == tarfile.REGTYPE:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return out.getvalue()


def _is_json(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data), dict)
    except ValueError:
        return False


@st.composite
def bundles(draw: st.DrawFn) -> tuple[bool, bytes]:
    members = [(m, d) for m, d in MEMBERS]
    changed = False
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(members) - 1))
        info, data = members[at]
        op = draw(st.sampled_from(["json", "json", "bytes", "drop", "rename", "duplicate"]))
        if op == "json" and info.isfile() and _is_json(data):
            new = to_json_bytes(draw(mutated(json.loads(data))))
        elif op == "bytes" and info.isfile():
            new = draw(byte_edits(data, max_edits=2))
        elif op == "drop":
            del members[at]
            changed = True
            continue
        elif op == "rename":
            renamed = tarfile.TarInfo(
                draw(st.sampled_from(["index.json", "../x", "blobs/sha256/" + "0" * 64, "x/"]))
            )
            renamed.type = info.type
            members[at] = (renamed, data)
            changed = changed or renamed.name != info.name
            continue
        elif op == "duplicate":
            members.insert(at, (info, data))
            changed = True
            continue
        else:
            continue
        changed = changed or new != data
        members[at] = (info, new)
    return changed, _tar(members)


def test_the_untouched_bundle_loads_verified() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "b.tar"
        path.write_bytes(_tar(MEMBERS))
        with open_bundle(path, Store(Path(tmp) / "main")) as layout:
            (entry,) = [e for e in layout.entries() if e.artifact_type == mt.MPP_ARTIFACT]
            verified = verify(layout, entry.digest, policy=POLICY, rollback=RollbackState())
            assert verified.verdict.accepted is not None


@given(bundles())
def test_damaged_bundles_load_verified_or_raise_our_error(case: tuple[bool, bytes]) -> None:
    changed, data = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "b.tar"
        path.write_bytes(data)

        def load() -> int:
            accepted = 0
            with open_bundle(path, Store(Path(tmp) / "main")) as layout:
                for entry in layout.entries():
                    if entry.artifact_type == mt.MPP_ARTIFACT:
                        verify(layout, entry.digest, policy=POLICY, rollback=RollbackState())
                        accepted += 1
            return accepted

        accepted = parsed_or_our_error(load)
        if not changed:
            assert accepted == 1
