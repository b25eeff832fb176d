"""Use cases called as a Python host calls them: a session, no CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from mppoci.app import Session
from mppoci.audit.log import records


@pytest.fixture
def session(home: Path, tmp_path: Path) -> Session:
    return Session.open({"MPPOCI_HOME": str(home)}, lock_file=tmp_path / "mppoci.lock")


@pytest.fixture
def key_pair(tmp_path: Path) -> tuple[Path, Path]:
    from mppoci.signing.keys import generate_key_pair

    private_pem, public_pem = generate_key_pair(b"")
    private, public = tmp_path / "acme.key", tmp_path / "acme.pub"
    private.write_bytes(private_pem)
    public.write_bytes(public_pem)
    return private, public


def events(session: Session, prefix: str = "") -> list[dict[str, object]]:
    return [r for r in records(session.locations) if str(r.get("event", "")).startswith(prefix)]


def no_password(what: str) -> bytes:
    return b""
