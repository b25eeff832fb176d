"""A host's prompter that answers anything but the protocol's own "yes"
values gets "no": a Python host is often untyped, and an answer it meant as
a refusal (``"no"``, ``None``, ``False``, a forgotten ``return``) must never
trust a key or approve a package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mppoci import app
from mppoci.app import ApprovalQuestion, Session, SignerAnswer, SignerQuestion
from mppoci.audit.log import records
from mppoci.errors import NotApprovedError, VerificationError
from mppoci.trust.files import load_policy
from tests.conftest import CliRunner

PASSWORD = {"MPPOCI_PASSWORD": "pw"}
NOT_YES: list[Any] = ["no", "", None, False, 0, "yes", "NO"]


class Answers:
    """A loosely typed host: returns whatever it was given."""

    how = "loose host"

    def __init__(self, trust: Any = SignerAnswer.NO, approve: Any = False) -> None:
        self.trust = trust
        self.approval = approve

    def trust_signer(self, question: SignerQuestion) -> Any:
        return self.trust

    def approve(self, question: ApprovalQuestion) -> Any:
        return self.approval


@pytest.fixture
def signed_by_stranger(cli: CliRunner, tmp_path: Path, package_dir: Path) -> str:
    """acme/word-count, signed by a key nobody trusted."""
    built = cli("build", str(package_dir))
    assert built.returncode == 0, built.stderr
    key = str(tmp_path / "k")
    for args in (
        ("key", "generate", "--output-key-prefix", key),
        ("sign", "acme/word-count", "--key", f"{key}.key"),
    ):
        result = cli(*args, env=PASSWORD)
        assert result.returncode == 0, result.stderr
    return built.stdout.strip()


@pytest.mark.parametrize("answer", NOT_YES, ids=repr)
def test_first_use_answered_with_a_non_answer_trusts_no_key(
    home: Path, signed_by_stranger: str, answer: Any
) -> None:
    session = Session.open({"MPPOCI_HOME": str(home)}, prompter=Answers(trust=answer))
    with pytest.raises(VerificationError):
        app.open_verified(session, "acme/word-count")
    assert load_policy(session.locations).keys == ()
    assert not [r for r in records(session.locations) if r.get("event") == "trust.add"]


@pytest.mark.parametrize(
    ("answer", "scope"),
    [(SignerAnswer.PACKAGE, "acme/word-count"), (SignerAnswer.PUBLISHER, "acme/*")],
)
def test_first_use_answered_yes_trusts_the_scope_chosen(
    home: Path, signed_by_stranger: str, answer: SignerAnswer, scope: str
) -> None:
    session = Session.open({"MPPOCI_HOME": str(home)}, prompter=Answers(trust=answer))
    app.open_verified(session, "acme/word-count")
    [key] = load_policy(session.locations).keys
    assert key.scopes == (scope,)


@pytest.mark.parametrize("answer", ["no", "false", 1, [False], object()], ids=repr)
def test_approval_answered_with_a_non_bool_is_no_approval(
    home: Path, signed_by_stranger: str, answer: Any
) -> None:
    trusting = Session.open({"MPPOCI_HOME": str(home)}, prompter=Answers(trust="package"))
    verified = app.open_verified(trusting, "acme/word-count")
    session = Session.open({"MPPOCI_HOME": str(home)}, prompter=Answers(approve=answer))
    assert not app.approve(session, app.review(session, verified))
    with pytest.raises(NotApprovedError):
        app.authorize(session, verified, reference="acme/word-count")
    assert app.approvals(session) == ()
