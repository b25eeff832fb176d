"""Audit records and the hash chain that links them. Pure.

One record per line: compact JSON with sorted keys. Each record carries
``seq`` (1, 2, 3, ...) and ``prev``: the SHA-256 of the previous line's exact
bytes (the first record's ``prev`` is all zeros). Editing, deleting, inserting
or reordering any record breaks the link after it; with a signing key, each
record also carries ``sig``, an ECDSA signature over the line without it, so
the last record cannot be edited unnoticed and forging needs the key. Cutting
records off the end is detected against a head (seq and hash of the last
record) kept elsewhere: the ``audit.head`` file that every append rewrites,
and any checkpoint the user keeps.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from mppoci.canonical import canonical_json

GENESIS = "sha256:" + "0" * 64
MAX_RECORD_BYTES = 64 * 1024
_FIELDS = {"seq", "time", "event", "actor", "data", "prev", "sig"}


def line_hash(line: bytes) -> str:
    return "sha256:" + hashlib.sha256(line).hexdigest()


def make_line(
    *,
    seq: int,
    prev: str,
    time: str,
    event: str,
    actor: dict[str, Any],
    data: dict[str, Any],
    key: ec.EllipticCurvePrivateKey | None = None,
) -> bytes:
    record: dict[str, Any] = {
        "seq": seq,
        "time": time,
        "event": event,
        "actor": actor,
        "data": data,
        "prev": prev,
    }
    if key is not None:
        signature = key.sign(canonical_json(record), ec.ECDSA(hashes.SHA256()))
        record["sig"] = base64.b64encode(signature).decode("ascii")
    line = canonical_json(record)
    if len(line) > MAX_RECORD_BYTES:
        raise ValueError("an audit record is larger than 64 KiB")
    return line


@dataclass(frozen=True, slots=True)
class Problem:
    line: int  # 1-based line number in the file
    seq: int | None
    what: str


@dataclass(frozen=True, slots=True)
class Report:
    records: int
    head_seq: int
    head_hash: str
    problems: tuple[Problem, ...]
    signed: int
    # A crash during an append can leave a last line without its newline: it
    # was never a complete record, and everything before it still verifies.
    torn_tail: bool = False
    # Whether a head kept outside the log was compared (absent on logs last
    # written before the head file existed).
    head_checked: bool = False

    @property
    def intact(self) -> bool:
        return not self.problems


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or set(record) - _FIELDS or not {"seq", "prev"} <= set(record):
        return None
    if not isinstance(record["seq"], int) or not isinstance(record["prev"], str):
        return None
    return record


def _signature_ok(record: dict[str, Any], key: ec.EllipticCurvePublicKey) -> bool:
    sig = record.get("sig")
    if not isinstance(sig, str):
        return False
    unsigned = {k: v for k, v in record.items() if k != "sig"}
    try:
        key.verify(
            base64.b64decode(sig, validate=True),
            canonical_json(unsigned),
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_lines(
    lines: Sequence[bytes],
    *,
    key: ec.EllipticCurvePublicKey | None = None,
    checkpoint: tuple[int, str] | None = None,
    torn_tail: bool = False,
    head: tuple[int, str] | str | None = None,
) -> Report:
    """Check every link (and signature, with ``key``); say exactly what broke where.

    ``checkpoint`` is a head the user kept; ``head`` the one mppoci keeps
    beside the log (or the text of why it could not be read)."""
    problems: list[Problem] = []
    prev_hash, expected_seq, count, signed = GENESIS, 1, 0, 0
    seen: dict[int, str] = {}
    # Records written before the key was made (its "audit.key" record) are
    # only chained; from that record on, every record must carry a signature.
    signing = key is not None and not any(b'"event":"audit.key"' in line for line in lines)
    for number, line in enumerate(lines, 1):
        count += 1
        record = _parse(line)
        if record is None:
            problems.append(Problem(number, None, "not a valid audit record (edited or damaged)"))
            prev_hash = line_hash(line)
            expected_seq += 1
            continue
        seq = record["seq"]
        if key is not None and record.get("event") == "audit.key" and _signature_ok(record, key):
            signing = True
        if key is not None and signing:
            if _signature_ok(record, key):
                signed += 1
            else:
                problems.append(
                    Problem(
                        number,
                        seq,
                        "its signature does not verify: the record was edited or forged",
                    )
                )
        if seq != expected_seq:
            if seq > expected_seq:
                what = f"records {expected_seq}..{seq - 1} are missing before it (deleted)"
            elif seq in seen:
                what = f"it repeats record {seq}: records were inserted or reordered"
            else:
                what = f"expected record {expected_seq} here: records were reordered"
            problems.append(Problem(number, seq, what))
        elif record["prev"] != prev_hash:
            problems.append(
                Problem(
                    number,
                    seq,
                    f"it does not follow record {seq - 1}: record {seq - 1} (line {number - 1}) "
                    "was edited, or this record's link was",
                )
            )
        seen[seq] = line_hash(line)
        prev_hash = line_hash(line)
        expected_seq = seq + 1
    head_seq = expected_seq - 1
    if checkpoint is not None:
        problems.extend(_against(checkpoint, "a checkpoint", count, head_seq, seen))
    if isinstance(head, str):
        problems.append(Problem(count, None, head + ": a cut at the end cannot be ruled out"))
    elif head is not None:
        problems.extend(_against(head, "the head file", count, head_seq, seen))
    return Report(
        count,
        head_seq,
        prev_hash,
        tuple(problems),
        signed,
        torn_tail,
        head_checked=head is not None,
    )


def _against(
    kept: tuple[int, str], what: str, count: int, head_seq: int, seen: dict[int, str]
) -> list[Problem]:
    """Compare the log with a head kept elsewhere (``what`` names where)."""
    kept_seq, kept_hash = kept
    if kept_seq > head_seq:
        cut = kept_seq - head_seq
        ends = f"the log ends at record {head_seq}" if head_seq else "the log holds no record"
        return [
            Problem(
                count,
                head_seq,
                f"{ends}, but {what} saw record {kept_seq}: records were cut off the end "
                f"({cut} record{'s' if cut != 1 else ''} missing, "
                f"{head_seq + 1}..{kept_seq})",
            )
        ]
    if seen.get(kept_seq) != kept_hash:
        return [Problem(count, kept_seq, f"record {kept_seq} differs from what {what} saw of it")]
    return []
