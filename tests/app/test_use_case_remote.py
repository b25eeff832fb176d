"""The one staged fetch every registry use case goes through: a refusal of
what the registry sent is audited, and the store is left as it was."""

from __future__ import annotations

from typing import Any, cast

import pytest

from mppoci.app import Session, UntrustedContentError, UserInputError, destination, staged_fetch
from mppoci.digest import sha256_digest
from mppoci.reference import parse_remote
from tests.app.conftest import events


class _Answers:
    """A registry that answers every manifest request with ``body``."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def get_manifest(self, repository: str, reference: str, *, max_bytes: int) -> Any:
        return self.body, "application/vnd.oci.image.manifest.v1+json", sha256_digest(self.body)


def test_a_refused_download_is_audited_and_leaves_nothing(session: Session) -> None:
    remote = parse_remote("registry.test/acme/word-count:1.0.0")
    client = cast(Any, _Answers(b'{"schemaVersion": 2, "layers": "no"}'))
    with pytest.raises(UntrustedContentError), staged_fetch(session, client, remote):
        pytest.fail("nothing is yielded for a refused download")
    [record] = events(session, "verify")
    assert record["data"]["outcome"] == "refused"
    assert record["data"]["subject"] == "registry.test/acme/word-count:1.0.0"
    assert record["data"]["origin"] == "registry.test"
    assert list(session.store.entries()) == []


def test_a_refusal_is_audited_under_the_subject_named(session: Session) -> None:
    remote = parse_remote("registry.test/acme/word-count:1.0.0")
    client = cast(Any, _Answers(b"not json"))
    with (
        pytest.raises(UntrustedContentError),
        staged_fetch(session, client, remote, subject="as typed"),
    ):
        pass
    [record] = events(session, "verify")
    assert record["data"]["subject"] == "as typed"


def test_a_destination_names_a_tag() -> None:
    assert destination("r.test/acme/tool:1").tag == "1"
    with pytest.raises(UserInputError, match="names no tag"):
        destination("r.test/acme/tool@" + sha256_digest(b"x"))
    assert destination("r.test/acme/tool@" + sha256_digest(b"x"), digest_ok=True).digest
