"""A Python host that embeds mppoci (no CLI) leaves the same audit trail as
the CLI: approvals it grants and revokes through mppoci.app are recorded,
and so is every refusal of a package at load, on every path that opens one
(a run, ``serve``, a Kubernetes render)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mppoci import app
from mppoci.app import ApprovalQuestion, Session, SignerAnswer, SignerQuestion
from mppoci.audit.log import records
from mppoci.errors import LimitExceededError, ManifestError, NotApprovedError
from tests.cli.test_signing_cli import _blob, _config_digest, _repackaged
from tests.conftest import CliRunner

PASSWORD = {"MPPOCI_PASSWORD": "pw"}


class Host:
    """A host's own prompter: it approves and records what it was asked."""

    how = "example host"

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked: list[ApprovalQuestion] = []

    def trust_signer(self, question: SignerQuestion) -> SignerAnswer:
        return SignerAnswer.NO

    def approve(self, question: ApprovalQuestion) -> bool:
        self.asked.append(question)
        return self.answer


def _events(session: Session, prefix: str) -> list[dict[str, Any]]:
    return [r for r in records(session.locations) if str(r.get("event", "")).startswith(prefix)]


@pytest.fixture
def built(cli: CliRunner, package_dir: Path) -> str:
    result = cli("build", str(package_dir))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def signed(cli: CliRunner, tmp_path: Path, built: str) -> str:
    """acme/word-count, signed by a key the trust policy holds."""
    key = str(tmp_path / "k")
    for args in (
        ("key", "generate", "--output-key-prefix", key),
        ("trust", "add", f"{key}.pub", "--publisher", "acme"),
        ("sign", "acme/word-count", "--key", f"{key}.key"),
    ):
        result = cli(*args, env=PASSWORD)
        assert result.returncode == 0, result.stderr
    return built


def test_a_host_approving_and_revoking_writes_the_audit_records(home: Path, signed: str) -> None:
    host = Host(answer=True)
    session = Session.open({"MPPOCI_HOME": str(home)}, prompter=host)
    verified = app.open_verified(session, "acme/word-count")
    package = verified.package
    assert package is not None
    with pytest.raises(NotApprovedError):
        app.require_approval(session, package, reference="acme/word-count")
    assert app.approve(session, app.review(session, verified))
    assert [q.package for q in host.asked] == ["acme/word-count"]
    [missing, grant] = _events(session, "approval.")
    assert missing["event"] == "approval.missing"
    assert grant["event"] == "approval.grant"
    assert grant["data"]["package"] == "acme/word-count"
    assert grant["data"]["digest"] == signed
    assert grant["data"]["how"] == "example host"
    assert grant["data"]["allows"] == list(host.asked[0].lines)
    assert [a.package for a in app.approvals(session)] == ["acme/word-count"]
    app.require_approval(session, package, reference="acme/word-count")

    assert app.revoke(session, "acme/word-count:1.0.0") == "acme/word-count"
    revoked = _events(session, "approval.")[-1]
    assert revoked["event"] == "approval.revoke"
    assert revoked["data"]["package"] == "acme/word-count"
    assert app.approvals(session) == ()


def test_a_host_that_says_no_records_no_grant(home: Path, signed: str) -> None:
    session = Session.open({"MPPOCI_HOME": str(home)}, prompter=Host(answer=False))
    verified = app.open_verified(session, "acme/word-count")
    assert not app.approve(session, app.review(session, verified))
    with pytest.raises(NotApprovedError):
        app.authorize(session, verified, reference="acme/word-count")
    assert [r["event"] for r in _events(session, "approval.")] == ["approval.missing"]


Damage = Callable[[dict[str, Any]], dict[str, Any]]
DAMAGES: list[Any] = [
    pytest.param(lambda doc: {**doc, "smuggled": True}, ManifestError, id="bad-manifest"),
    pytest.param(
        lambda doc: {**doc, "description": "x" * 300_000}, LimitExceededError, id="limit-exceeded"
    ),
]


def _damaged(home: Path, built: str, damage: Damage) -> str:
    config = json.loads(_blob(home, _config_digest(home, built)).read_bytes())
    return _repackaged(home, built, json.dumps(damage(config)).encode())


def _opens(session: Session, reference: str) -> list[Callable[[], object]]:
    """Every use case that opens a package of the store by reference."""
    return [
        lambda: app.open_verified(session, reference),
        lambda: app.run(session, reference),
        lambda: app.open_server(session, [reference], pool_size=0),
        lambda: app.render_for_cluster(
            session,
            reference,
            app.ClusterRequest(
                source="10.1.2.3:5000/acme/word-count", mppoci_image="x@sha256:" + "e" * 64
            ),
            registry=None,
            deliver=lambda _: None,
        ),
    ]


@pytest.mark.parametrize(("damage", "error"), DAMAGES)
def test_a_refusal_at_load_is_audited_on_every_path_of_a_host(
    home: Path, built: str, damage: Damage, error: type[Exception]
) -> None:
    digest = _damaged(home, built, damage)
    session = Session.open({"MPPOCI_HOME": str(home)})
    for count, open_it in enumerate(_opens(session, digest), start=1):
        with pytest.raises(error):
            open_it()
        refusals = [
            r["data"] for r in _events(session, "verify") if r["data"]["outcome"] == "refused"
        ]
        assert len(refusals) == count
        assert refusals[-1]["digest"] == digest
        assert refusals[-1]["detail"].startswith(error.__name__)
    assert _events(session, "approval.") == []
