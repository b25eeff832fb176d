"""The audit log's head, kept outside the log: the last record's sequence
number and hash, rewritten (atomically) after every append while the log's
lock is held.

A chain cut at its end still links; what gives the cut away is a record the
head file saw that the log no longer holds. The head can only lag the log
(a crash between the log's fsync and the head's rename), never lead it, so a
head ahead of the log means records were removed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mppoci.fsutil import atomic_write, read_optional
from mppoci.locations import Locations


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    hash: str


class HeadDamagedError(ValueError):
    """The head file exists but is not a head (edited or damaged)."""


def head_path(locations: Locations) -> Path:
    return locations.state / "audit.head"


def parse_head(data: bytes) -> Head:
    """Raises HeadDamagedError."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise HeadDamagedError("not JSON") from None
    if not isinstance(doc, dict) or set(doc) != {"seq", "hash"}:
        raise HeadDamagedError("expected exactly the fields seq and hash")
    seq, digest = doc["seq"], doc["hash"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise HeadDamagedError("seq is not a positive integer")
    if not isinstance(digest, str) or not digest.startswith("sha256:"):
        raise HeadDamagedError("hash is not a sha256: digest")
    return Head(seq, digest)


def read_head(locations: Locations) -> Head | None:
    """The recorded head, or None when no head was ever written. Raises HeadDamagedError."""
    data = read_optional(head_path(locations))
    return None if data is None else parse_head(data)


def write_head(locations: Locations, head: Head) -> None:
    """Call only while holding the log's lock. Raises OSError, StoreError."""
    text = json.dumps({"seq": head.seq, "hash": head.hash}, sort_keys=True) + "\n"
    atomic_write(head_path(locations), text.encode(), mode=0o600)


def head_mismatch(
    head: Head | None,
    last_seq: int | None,
    last_hash: str | None,
    hash_at: Callable[[int], str | None],
) -> str | None:
    """Why the log, ending with a record of ``last_seq`` and ``last_hash``
    (Nones when empty), does not reach ``head``; None when it does.
    ``hash_at(seq)`` gives the hash of an earlier record in the log.

    The head may lag: each crash between a record's fsync and the head's
    rename leaves one record unnoted (the record the head names is then still
    in the log). It never leads. A log with records but no head is refused
    too: the head file could have been removed to hide a cut."""
    if head is None:
        if last_seq is None:
            return None
        return (
            f"the log holds records (up to {last_seq}) but there is no audit.head beside it "
            "(it was removed, or the log was last written by an mppoci older than the head file)"
        )
    if last_seq is None:
        return f"the log holds no record, but the head file saw record {head.seq}"
    if head.seq > last_seq:
        cut = head.seq - last_seq
        return (
            f"the log ends at record {last_seq}, but the head file saw record {head.seq}: "
            f"records were cut off the end ({cut} record{'s' if cut != 1 else ''} missing)"
        )
    if head.seq == last_seq:
        if head.hash != last_hash:
            return f"record {last_seq} differs from what the head file saw of it (replaced)"
        return None
    if hash_at(head.seq) == head.hash:
        return None
    return (
        f"the head file saw record {head.seq}, and the log's last record {last_seq} does not "
        "follow it (the head file was replaced by an older copy, or records were rewritten)"
    )
