"""The local OCI store: atomic writes, digest checks on read, concurrent writers."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from mppoci.digest import Digest, sha256_digest
from mppoci.errors import DigestMismatchError, LimitExceededError, NotFoundError
from mppoci.oci.mediatypes import ANNOTATION_REF_NAME, OCI_MANIFEST
from mppoci.oci.model import Descriptor
from mppoci.store import Store


def _every_blob_matches_its_name(root: Path) -> int:
    count = 0
    for blob in (root / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name, blob
        count += 1
    return count


def test_new_store_is_a_standard_oci_layout(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.put_bytes(b"hello")
    assert json.loads((tmp_path / "s" / "oci-layout").read_text()) == {
        "imageLayoutVersion": "1.0.0"
    }
    index = json.loads((tmp_path / "s" / "index.json").read_text())
    assert index["schemaVersion"] == 2 and index["manifests"] == []
    assert (tmp_path / "s" / "blobs" / "sha256" / hashlib.sha256(b"hello").hexdigest()).is_file()


def test_blob_round_trip_is_verified(tmp_path: Path) -> None:
    store = Store(tmp_path)
    digest = store.put_bytes(b"content")
    assert digest == sha256_digest(b"content")
    assert store.read_bytes(digest, max_bytes=100) == b"content"


def test_tampered_blob_on_disk_is_refused_on_read(tmp_path: Path) -> None:
    store = Store(tmp_path)
    digest = store.put_bytes(b"the original bytes")
    path = store.blob_path(digest)
    data = bytearray(path.read_bytes())
    data[3] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DigestMismatchError, match="does not match its digest"):
        store.read_bytes(digest, max_bytes=100)
    with pytest.raises(DigestMismatchError), store.open_verified(digest) as f:
        while f.read(4):
            pass


def test_blob_with_wrong_expected_digest_is_never_stored(tmp_path: Path) -> None:
    store = Store(tmp_path)
    wrong = Digest("sha256:" + "0" * 64)
    with pytest.raises(DigestMismatchError):
        store.put_bytes(b"some bytes", expected=wrong)
    assert list((tmp_path / "blobs" / "sha256").iterdir()) == []
    assert list((tmp_path / "ingest").iterdir()) == []


def test_oversize_blob_is_refused_while_streaming(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.writer(max_bytes=10) as w, pytest.raises(LimitExceededError):
        w.write(b"x" * 11)
    assert list((tmp_path / "blobs" / "sha256").iterdir()) == []
    assert list((tmp_path / "ingest").iterdir()) == []


def test_missing_blob_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="not in the store"):
        Store(tmp_path).read_bytes(Digest("sha256:" + "1" * 64), max_bytes=10)


def _manifest_descriptor(store: Store, body: bytes) -> Descriptor:
    digest = store.put_bytes(body)
    return Descriptor(media_type=OCI_MANIFEST, digest=digest, size=len(body))


def test_tag_replaces_only_the_same_ref_name(tmp_path: Path) -> None:
    store = Store(tmp_path)
    a = _manifest_descriptor(store, b'{"a":1}')
    b = _manifest_descriptor(store, b'{"b":1}')
    assert store.tag(a, "x/y:1.0.0") is None
    store.tag(a, "x/y:2.0.0")
    replaced = store.tag(b, "x/y:1.0.0")
    assert replaced is not None and replaced.digest == a.digest
    names = {e.annotations[ANNOTATION_REF_NAME]: e.digest for e in store.entries()}
    assert names == {"x/y:1.0.0": b.digest, "x/y:2.0.0": a.digest}


def _tag_many(root: str, worker: int, count: int) -> None:
    store = Store(Path(root))
    for i in range(count):
        desc = _manifest_descriptor(store, f'{{"w":{worker},"i":{i}}}'.encode())
        store.tag(desc, f"w{worker}/pkg:1.0.{i}")


def test_concurrent_writers_lose_no_index_entry(tmp_path: Path) -> None:
    workers, per_worker = 6, 25
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_tag_many, str(tmp_path), w, per_worker) for w in range(workers)]
        for f in futures:
            f.result()
    entries = Store(tmp_path).entries()
    names = {e.annotations[ANNOTATION_REF_NAME] for e in entries}
    assert len(entries) == workers * per_worker
    assert names == {f"w{w}/pkg:1.0.{i}" for w in range(workers) for i in range(per_worker)}
    assert _every_blob_matches_its_name(tmp_path) == workers * per_worker


_WRITER = """
import sys, time
from pathlib import Path
from mppoci.store import Store
store = Store(Path(sys.argv[1]))
store.put_bytes(b"settled")
with store.writer(max_bytes=1 << 40) as w:
    w.write(b"x" * (1 << 20))
    print("writing", flush=True)
    while True:
        w.write(b"y" * (1 << 16))
        time.sleep(0.001)
"""

_TAGGER = """
import sys
from pathlib import Path
from mppoci.oci.model import Descriptor
from mppoci.store import Store
store = Store(Path(sys.argv[1]))
i = 0
print("tagging", flush=True)
while True:
    body = ('{"i":%d}' % i).encode()
    digest = store.put_bytes(body)
    desc = Descriptor("application/vnd.oci.image.manifest.v1+json", digest, len(body))
    store.tag(desc, "t/t:1.0.%d" % (i % 50))
    i += 1
"""


def _start_and_kill(script: str, root: Path, delay: float) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(root)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() in ("writing", "tagging")
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_sigkill_during_blob_write_leaves_no_partial_blob_visible(tmp_path: Path) -> None:
    _start_and_kill(_WRITER, tmp_path, 0.2)
    # Only the settled blob is visible; the interrupted one never got a digest name.
    assert _every_blob_matches_its_name(tmp_path) == 1
    store = Store(tmp_path)
    assert store.read_bytes(sha256_digest(b"settled"), max_bytes=10) == b"settled"


@pytest.mark.parametrize("delay", [0.05, 0.13, 0.21, 0.34, 0.55])
def test_sigkill_during_index_update_leaves_a_valid_index(tmp_path: Path, delay: float) -> None:
    _start_and_kill(_TAGGER, tmp_path, delay)
    store = Store(tmp_path)
    entries = store.entries()  # parses: never half-written
    assert entries, "the tagger made progress before it was killed"
    for entry in entries:
        store.read_bytes(entry.digest, max_bytes=1000)
    _every_blob_matches_its_name(tmp_path)
