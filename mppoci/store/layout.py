"""A standard OCI image layout (oci-layout, index.json, blobs/sha256/<hex>).

Guarantees:
- Blobs are written to ``ingest/`` first, fsynced, then renamed to their
  content address, so no partial blob is ever visible under a digest name.
- Every read re-hashes the blob; a changed byte is an error, never content.
- ``index.json`` is rewritten atomically under an exclusive lock, so
  concurrent writers never lose each other's entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, BinaryIO

from mppoci.canonical import canonical_json
from mppoci.digest import Digest, hex_part, is_digest
from mppoci.errors import DigestMismatchError, LimitExceededError, NotFoundError, StoreError
from mppoci.fsutil import atomic_write, disk_full, fsync_dir, is_disk_full, locked
from mppoci.limits import DEFAULT_LIMITS, Limits
from mppoci.oci.mediatypes import ANNOTATION_REF_NAME, OCI_INDEX, OCI_LAYOUT_VERSION
from mppoci.oci.model import Descriptor, load_json_object, parse_descriptor

_CHUNK = 1024 * 1024


class BlobWriter:
    """Streams one blob into the store's ingest area, hashing as it goes.

    ``commit()`` checks the expected digest and size (when given) and only then
    moves the blob to its content address. Leaving the ``with`` block without
    committing discards it."""

    def __init__(self, store: Store, *, max_bytes: int) -> None:
        self._store = store
        self._max = max_bytes
        self._hash = hashlib.sha256()
        self.size = 0
        store.ensure()
        fd, name = tempfile.mkstemp(prefix="blob-", dir=store.root / "ingest")
        self._tmp = Path(name)
        self._file: IO[bytes] = os.fdopen(fd, "wb")
        self._done = False

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self._max:
            raise LimitExceededError(
                f"blob is larger than the limit of {self._max} bytes",
                hint="the content is larger than mppoci accepts; check its source",
            )
        self._hash.update(data)
        try:
            self._file.write(data)
        except OSError as e:
            if is_disk_full(e):
                raise disk_full("a blob", self._store.root) from None
            raise
        return len(data)

    def copy_from(self, stream: BinaryIO) -> None:
        while chunk := stream.read(_CHUNK):
            self.write(chunk)

    @property
    def digest(self) -> Digest:
        return Digest("sha256:" + self._hash.hexdigest())

    def commit(self, expected: Digest | None = None, expected_size: int | None = None) -> Digest:
        digest = self.digest
        if expected is not None and digest != expected:
            raise DigestMismatchError(
                f"received content does not match its digest: expected {expected}, got {digest}",
                hint="the content was changed or corrupted in transit; nothing was stored",
            )
        if expected_size is not None and self.size != expected_size:
            raise DigestMismatchError(
                f"received {self.size} bytes where {expected_size} were declared",
                hint="the content was truncated or padded in transit; nothing was stored",
            )
        try:
            self._file.flush()
            os.fchmod(self._file.fileno(), 0o644)
            os.fsync(self._file.fileno())
            self._file.close()
        except OSError as e:
            if is_disk_full(e):
                raise disk_full("a blob", self._store.root) from None
            raise
        blobs = self._store.root / "blobs" / "sha256"
        os.replace(self._tmp, blobs / hex_part(digest))
        fsync_dir(blobs)
        self._done = True
        return digest

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        if not self._done:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()


class Store:
    """An OCI image layout at ``root``. Created on first write."""

    def __init__(self, root: Path, *, limits: Limits = DEFAULT_LIMITS) -> None:
        self.root = root
        self.limits = limits

    # --- layout -----------------------------------------------------------

    def exists(self) -> bool:
        return (self.root / "oci-layout").is_file()

    def ensure(self) -> None:
        """Create the layout if it is missing (idempotent, safe to race)."""
        if self.exists() and (self.root / "ingest").is_dir():
            return
        try:
            (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
            (self.root / "ingest").mkdir(exist_ok=True)
            with locked(self._lock_path):
                if not (self.root / "index.json").exists():
                    empty = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
                    atomic_write(self.root / "index.json", canonical_json(empty))
                if not (self.root / "oci-layout").exists():
                    layout = {"imageLayoutVersion": OCI_LAYOUT_VERSION}
                    atomic_write(self.root / "oci-layout", canonical_json(layout))
        except OSError as e:
            raise StoreError(
                f"cannot create the store at {self.root}: {e.strerror}",
                hint="check that the folder is writable, or point MPPOCI_HOME elsewhere",
            ) from e

    @property
    def _lock_path(self) -> Path:
        return self.root / "index.lock"

    def blob_path(self, digest: Digest) -> Path:
        return self.root / "blobs" / "sha256" / hex_part(digest)

    # --- blobs ------------------------------------------------------------

    def has_blob(self, digest: Digest) -> bool:
        return self.blob_path(digest).is_file()

    def writer(self, *, max_bytes: int | None = None) -> BlobWriter:
        return BlobWriter(
            self, max_bytes=self.limits.layer_bytes if max_bytes is None else max_bytes
        )

    def put_bytes(self, data: bytes, expected: Digest | None = None) -> Digest:
        with self.writer(max_bytes=max(len(data), 1)) as w:
            w.write(data)
            return w.commit(expected)

    def read_bytes(self, digest: Digest, *, max_bytes: int, what: str = "blob") -> bytes:
        """Read a whole blob, re-hashing it. Raises NotFoundError, LimitExceededError,
        DigestMismatchError."""
        with self.open_verified(digest, what=what) as f:
            data = f.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise LimitExceededError(
                    f"{what} {digest} is larger than the limit of {max_bytes} bytes",
                    hint="the store holds content mppoci does not accept; remove it",
                )
            f.read()  # reach EOF so the digest is checked
        return data

    @contextlib.contextmanager
    def open_verified(self, digest: Digest, *, what: str = "blob") -> Iterator[BinaryIO]:
        """Open a blob for streaming; reaching EOF checks the digest.

        A consumer that stops early (an error of its own) never sees unchecked
        bytes as valid: callers must read to EOF before trusting what they read
        (``read_bytes`` does; extraction stages into a temporary folder)."""
        path = self.blob_path(digest)
        try:
            f = path.open("rb")
        except FileNotFoundError as e:
            raise NotFoundError(
                f"{what} {digest} is not in the store at {self.root}",
                hint="the store is incomplete; pull or build the package again",
            ) from e
        with f:
            yield io.BufferedReader(_VerifyingRaw(f, digest, what), _CHUNK)

    def adopt(self, source: Store, digest: Digest) -> None:
        """Make ``source``'s blob ``digest`` part of this store. Blobs are
        complete and fsynced in ``source``, so a hard link gives the final name
        in one atomic step; across filesystems the blob is copied and re-hashed."""
        if self.has_blob(digest):
            return
        self.ensure()
        target = self.blob_path(digest)
        try:
            os.link(source.blob_path(digest), target)
        except FileExistsError:
            return
        except OSError:
            with self.writer() as w, source.open_verified(digest) as f:
                w.copy_from(f)
                w.commit(digest)
            return
        fsync_dir(target.parent)

    @contextlib.contextmanager
    def staging(self) -> Iterator[Store]:
        """A private, empty OCI layout inside ``ingest/`` (same filesystem, so
        blobs move into this store by hard link). Removed on exit: what was
        not adopted is never visible here."""
        self.ensure()
        folder = Path(tempfile.mkdtemp(prefix="stage-", dir=self.root / "ingest"))
        try:
            yield Store(folder, limits=self.limits)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def blob_digests(self) -> tuple[Digest, ...]:
        folder = self.root / "blobs" / "sha256"
        if not folder.is_dir():
            return ()
        return tuple(
            Digest(f"sha256:{p.name}")
            for p in sorted(folder.iterdir())
            if is_digest(f"sha256:{p.name}")
        )

    # --- index ------------------------------------------------------------

    def _read_index(self) -> dict[str, Any]:
        path = self.root / "index.json"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        except OSError as e:  # a folder, a socket, unreadable: not an index
            raise StoreError(
                f"store index {path} cannot be read: {e.strerror}",
                hint="the store is damaged; move it away and build or pull again",
            ) from None
        doc = load_json_object(
            data, what=f"store index {path}", max_bytes=self.limits.oci_manifest_bytes * 16
        )
        manifests = doc.get("manifests")
        if not isinstance(manifests, list):
            raise StoreError(
                f"store index {path} has no manifests list",
                hint="the store is damaged; move it away and build or pull again",
            )
        return doc

    def entries(self) -> tuple[Descriptor, ...]:
        doc = self._read_index()
        return tuple(parse_descriptor(m, "store index entry") for m in doc["manifests"])

    def tag(self, descriptor: Descriptor, ref_name: str) -> Descriptor | None:
        """Point ``ref_name`` at ``descriptor`` in index.json; return the entry it
        replaced, if any. The manifest blob must already be in the store."""
        if not self.has_blob(descriptor.digest):
            raise StoreError(f"cannot tag {descriptor.digest}: its manifest is not in the store")
        self.ensure()
        with locked(self._lock_path):
            doc = self._read_index()
            kept: list[Any] = []
            replaced: Descriptor | None = None
            for raw in doc["manifests"]:
                entry = parse_descriptor(raw, "store index entry")
                if entry.annotations.get(ANNOTATION_REF_NAME) == ref_name:
                    replaced = entry
                else:
                    kept.append(raw)
            if len(kept) >= self.limits.index_entries:
                raise LimitExceededError(f"the store index has {len(kept)} entries, the limit")
            annotations = {**descriptor.annotations, ANNOTATION_REF_NAME: ref_name}
            entry = Descriptor(
                media_type=descriptor.media_type,
                digest=descriptor.digest,
                size=descriptor.size,
                annotations=annotations,
                artifact_type=descriptor.artifact_type,
            )
            kept.append(entry.to_json())
            doc["manifests"] = kept
            atomic_write(self.root / "index.json", canonical_json(doc))
        return replaced

    def untag(self, ref_name: str) -> Descriptor | None:
        """Remove ``ref_name`` from index.json; return the entry it named.

        Blobs stay: they are content-addressed, and a later pull or build of
        the same content reuses them."""
        if not self.exists():
            return None
        with locked(self._lock_path):
            doc = self._read_index()
            kept, removed = [], None
            for raw in doc["manifests"]:
                entry = parse_descriptor(raw, "store index entry")
                if entry.annotations.get(ANNOTATION_REF_NAME) == ref_name:
                    removed = entry
                else:
                    kept.append(raw)
            if removed is not None:
                doc["manifests"] = kept
                atomic_write(self.root / "index.json", canonical_json(doc))
        return removed

    def lookup(self, ref_name: str) -> Descriptor | None:
        for entry in self.entries():
            if entry.annotations.get(ANNOTATION_REF_NAME) == ref_name:
                return entry
        return None

    def find_digest(self, digest: Digest) -> Descriptor | None:
        if not is_digest(digest):
            return None
        for entry in self.entries():
            if entry.digest == digest:
                return entry
        return None


class _VerifyingRaw(io.RawIOBase):
    """Reads a blob file and checks its digest when EOF is reached."""

    def __init__(self, f: BinaryIO, digest: Digest, what: str) -> None:
        self._f = f
        self._digest = digest
        self._what = what
        self._hash = hashlib.sha256()
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._f.read(len(view))
        n = len(data)
        view[:n] = data
        self._hash.update(data)
        if n == 0 and not self._checked:
            self._checked = True
            actual = "sha256:" + self._hash.hexdigest()
            if actual != self._digest:
                raise DigestMismatchError(
                    f"{self._what} {self._digest} in the store does not match its digest "
                    f"(got {actual})",
                    hint="the store was modified on disk; remove the package and pull or "
                    "build it again",
                )
        return n
