"""The audit trail through mppoci.app: select, export, checkpoint, verify,
and the audit key, for a host that keeps its own records."""

from __future__ import annotations

import json
from pathlib import Path

from mppoci.app import (
    AuditFilter,
    Session,
    add_trusted_key,
    audit_records,
    checkpoint,
    create_audit_key,
    export,
    verify_trail,
)


def test_select_export_checkpoint_and_verify(
    session: Session, tmp_path: Path, key_pair: tuple[Path, Path]
) -> None:
    path, public_pem = create_audit_key(session)
    assert path.exists() and public_pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    add_trusted_key(session, key_pair[1], publisher="acme")
    assert [r["event"] for r in audit_records(session)] == ["audit.key", "trust.add"]
    assert [r["event"] for r in audit_records(session, AuditFilter(event="trust"))] == ["trust.add"]
    assert export(session, tmp_path / "out.jsonl") == 2
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["audit.key", "trust.add"]

    point = checkpoint(session, tmp_path / "cp.json")
    assert json.loads((tmp_path / "cp.json").read_text())["seq"] == point.seq
    (tmp_path / "audit.pub").write_bytes(public_pem)
    check = verify_trail(
        session, checkpoint_file=tmp_path / "cp.json", key_file=tmp_path / "audit.pub"
    )
    assert check.report.intact and check.report.signed == 2 and check.cuts == ()
