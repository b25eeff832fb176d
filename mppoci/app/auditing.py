"""The audit trail: read it, export it, check its chain, and the two
changes a person makes to it (acknowledge a cut, create the signing key)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mppoci.app.session import Session
from mppoci.errors import UntrustedContentError, UserInputError

if TYPE_CHECKING:
    from mppoci.audit.chain import Report


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which records: of one package, events starting with ``event``, from
    ``since`` (UTC, inclusive) until ``until`` (exclusive)."""

    package: str | None = None
    event: str | None = None
    since: str | None = None
    until: str | None = None

    def selects(self, record: dict[str, Any]) -> bool:
        raw = record.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        when = str(record.get("time", ""))
        if (
            self.package
            and data.get("package") != self.package
            and not str(data.get("subject", "")).startswith(self.package + " ")
        ):
            return False
        if self.event and not str(record.get("event", "")).startswith(self.event):
            return False
        if self.since and when < self.since:
            return False
        return not (self.until and when >= self.until)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The head of the log, to keep elsewhere: records cut off the end later show."""

    seq: int
    hash: str
    taken_at: str

    @property
    def text(self) -> str:
        doc = {"seq": self.seq, "hash": self.hash, "takenAt": self.taken_at}
        return json.dumps(doc, indent=2) + "\n"


@dataclass(frozen=True, slots=True)
class TrailCheck:
    """What ``verify_trail`` found: the chain's report, the log's path, and
    (for an intact log) the cuts acknowledged in it, as (record, reason)."""

    report: Report
    path: Path
    cuts: tuple[tuple[object, object], ...] = ()


def audit_records(session: Session, selection: AuditFilter = AuditFilter()) -> list[dict[str, Any]]:
    """The records ``selection`` selects, oldest first."""
    from mppoci.audit.log import records

    return [r for r in records(session.locations) if selection.selects(r)]


def export_lines(session: Session, selection: AuditFilter = AuditFilter()) -> list[str]:
    """The selected records as JSON lines (for a SIEM; fields: docs/audit.md)."""
    return [
        json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n"
        for r in audit_records(session, selection)
    ]


def export(session: Session, output: Path, selection: AuditFilter = AuditFilter()) -> int:
    """Write the selected records as JSON lines to ``output`` (whole or not
    at all). Returns how many."""
    from mppoci.fsutil import atomic_write

    lines = export_lines(session, selection)
    atomic_write(output, "".join(lines).encode())
    return len(lines)


def checkpoint(session: Session, output: Path | None = None) -> Checkpoint:
    """The head of an intact log (written to ``output`` when named).

    Raises UntrustedContentError when the log does not verify."""
    from mppoci.audit.log import verify_log
    from mppoci.fsutil import atomic_write

    report = verify_log(session.locations)
    if not report.intact:
        raise UntrustedContentError("the audit log does not verify; run `mppoci audit verify`")
    taken = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    point = Checkpoint(report.head_seq, report.head_hash, taken)
    if output is not None:
        atomic_write(output, point.text.encode())
    return point


def verify_trail(
    session: Session, *, checkpoint_file: Path | None = None, key_file: Path | None = None
) -> TrailCheck:
    """Check the hash chain, the head kept beside it, a checkpoint from
    :func:`checkpoint`, and the signatures (by the key in ``key_file``, else
    the local audit key). Raises UserInputError for a bad checkpoint or key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from mppoci.audit.log import log_path, records, verify_log

    cp: tuple[int, str] | None = None
    if checkpoint_file is not None:
        try:
            doc = json.loads(checkpoint_file.read_text())
            cp = (int(doc["seq"]), str(doc["hash"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserInputError(f"{checkpoint_file} is not a checkpoint: {e}") from None
    public = None
    if key_file is not None:
        loaded = serialization.load_pem_public_key(key_file.read_bytes())
        if not isinstance(loaded, ec.EllipticCurvePublicKey):
            raise UserInputError(f"{key_file} is not an ECDSA public key")
        public = loaded
    report = verify_log(session.locations, key=public, checkpoint=cp)
    where = log_path(session.locations)
    if not report.intact:
        return TrailCheck(report, where)
    cuts = tuple(
        (record.get("seq"), (record.get("data") or {}).get("reason"))
        for record in records(session.locations)
        if record.get("event") == "audit.cut"
    )
    return TrailCheck(report, where, cuts)


def acknowledge_cut(session: Session) -> tuple[int, str]:
    """Accept the log as it is after a cut (or a lost head): an ``audit.cut``
    record says where the head was and where the log ends, and recording
    starts again there. Returns the record's number and what it says."""
    from mppoci.audit.log import acknowledge_cut as record_cut

    return record_cut(session.locations)


def create_audit_key(session: Session) -> tuple[Path, bytes]:
    """Create the local audit key: from its first record (``audit.key``, signed
    by it) on, every record must be signed. Returns where it is kept and its
    public key (PEM), to keep a copy elsewhere."""
    from cryptography.hazmat.primitives import serialization

    from mppoci.audit.log import append, create_signing_key, load_signing_key
    from mppoci.signing.keys import key_id

    path = create_signing_key(session.locations)
    signer = load_signing_key(session.locations)
    assert signer is not None
    append(session.locations, "audit.key", {"keyId": key_id(signer.public_key())})
    public = signer.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return path, public
