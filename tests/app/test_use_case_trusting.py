"""Trust changes made through mppoci.app write their audit records, with no CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from mppoci.app import (
    NotFoundError,
    Session,
    UserInputError,
    add_trusted_key,
    remove_trusted_key,
    revoke_key,
    trust_listing,
)
from tests.app.conftest import events


def test_adding_a_key_records_it_with_its_audit_record(
    session: Session, key_pair: tuple[Path, Path]
) -> None:
    _, public = key_pair
    key = add_trusted_key(session, public.read_bytes(), publisher="acme", registries=["r.test"])
    assert key.scopes == ("acme/*",) and key.registries == ("r.test",)
    assert trust_listing(session).policy.key(key.key_id) == key
    [record] = events(session, "trust.")
    assert record["event"] == "trust.add"
    assert record["data"] == {
        "keyId": key.key_id,
        "publisher": "acme",
        "scopes": ["acme/*"],
        "registries": ["r.test"],
    }


def test_a_key_file_is_read_and_a_foreign_scope_is_noted(
    home: Path, tmp_path: Path, key_pair: tuple[Path, Path]
) -> None:
    notes: list[str] = []
    session = Session.open({"MPPOCI_HOME": str(home)}, notify=notes.append)
    key = add_trusted_key(session, key_pair[1], publisher="acme", scopes=["beta/tool"])
    assert key.scopes == ("beta/tool",)
    assert notes == ["warning: scope beta/tool lets acme's key sign another publisher's packages"]
    with pytest.raises(UserInputError, match="cannot read"):
        add_trusted_key(session, tmp_path / "missing.pub", publisher="acme")
    with pytest.raises(UserInputError, match="is not a publisher name"):
        add_trusted_key(session, key_pair[1], publisher="Acme!")
    assert [r["event"] for r in events(session, "trust.")] == ["trust.add"]


def test_removing_and_revoking_are_audited(session: Session, key_pair: tuple[Path, Path]) -> None:
    key = add_trusted_key(session, key_pair[1], publisher="acme")
    assert remove_trusted_key(session, key.key_id[:16]) == key.key_id
    assert trust_listing(session).policy.key(key.key_id) is None
    with pytest.raises(NotFoundError, match="is not a trusted key"):
        remove_trusted_key(session, key.key_id)
    assert revoke_key(session, key.key_id, reason="leaked") == key.key_id
    assert trust_listing(session).policy.is_revoked(key.key_id)
    recorded = [(r["event"], r["data"]) for r in events(session, "trust.")]
    assert recorded[1:] == [
        ("trust.remove", {"keyId": key.key_id}),
        ("trust.revoke", {"keyId": key.key_id, "reason": "leaked"}),
    ]
