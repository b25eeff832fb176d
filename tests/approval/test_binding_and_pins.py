"""The pure parts of approvals: what an approval binds, which lock entry may
stand for a package, and revocations that a lock cannot undo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mppoci.approval.binding import approval_digest
from mppoci.approval.check import lock_entry_approving
from mppoci.approval.records import Approval, Approvals, approvals_bytes, parse_approvals
from mppoci.digest import Digest
from mppoci.errors import UntrustedContentError
from mppoci.lockfile import Lock, Pin, parse_lock, pin_mismatch
from mppoci.manifest import Manifest, parse_source, permissions_digest
from tests.conftest import SAMPLE_MANIFEST, CliRunner
from tests.text_oracle import unsafe

DIGEST = Digest("sha256:" + "a" * 64)
OTHER = Digest("sha256:" + "b" * 64)
HOSTILE_LOCK = (
    Path(__file__).parent.parent / "assets/hostile/lock/terminal-commands-in-reference.lock"
)


def _manifest(text: str = SAMPLE_MANIFEST) -> Manifest:
    return parse_source(text.encode())


def test_update_that_drops_confirmation_changes_the_approval_digest() -> None:
    asking = _manifest(SAMPLE_MANIFEST.replace("readOnlyHint: true", "readOnlyHint: false"))
    silent = _manifest()
    assert permissions_digest(asking) == permissions_digest(silent)  # same permission set
    assert approval_digest(asking) != approval_digest(silent)


def test_approval_digest_ignores_what_the_user_was_not_shown() -> None:
    described = _manifest(SAMPLE_MANIFEST.replace("Count words.", "Counts words, faster."))
    assert approval_digest(described) == approval_digest(_manifest())


@pytest.mark.parametrize(
    ("reference", "why"),
    [
        ("acme/admin:1.0.0", "the pinned digest is the package acme/word-count, not acme/admin"),
        ("acme/word-count:2.0.0", "is acme/word-count 1.0.0, not version 2.0.0"),
        ("sha256:" + "b" * 64, "it names sha256:bbbb"),
        ("ghcr.io/acme/admin:1.0.0", "not acme/admin"),
        ("ghcr.io/acme/word-count:2.0.0", "not version 2.0.0"),
        ("ghcr.io/acme/word-count@sha256:" + "b" * 64, "it names sha256:bbbb"),
    ],
)
def test_lock_pin_to_another_package_or_version_is_named(reference: str, why: str) -> None:
    found = pin_mismatch(reference, DIGEST, "acme/word-count", "1.0.0")
    assert found is not None and why in found


@pytest.mark.parametrize(
    "reference",
    [
        "acme/word-count",
        "acme/word-count:1.0.0",
        "sha256:" + "a" * 64,
        "ghcr.io/acme/word-count:1.0.0",
        "ghcr.io/mirror/acme/word-count:latest",
        "127.0.0.1:5000/acme/word-count@sha256:" + "a" * 64,
    ],
)
def test_lock_pin_to_the_same_package_is_accepted(reference: str) -> None:
    assert pin_mismatch(reference, DIGEST, "acme/word-count", "1.0.0") is None


def test_lock_entry_under_another_name_does_not_approve_a_package() -> None:
    m = _manifest()
    wanted = approval_digest(m)
    elsewhere = Lock().with_pin("acme/admin:1.0.0", Pin(DIGEST, wanted))
    assert lock_entry_approving(elsewhere, m, DIGEST) is None
    own = elsewhere.with_pin("acme/word-count:1.0.0", Pin(DIGEST, wanted))
    assert lock_entry_approving(own, m, DIGEST) == "acme/word-count:1.0.0"
    old_binding = Lock().with_pin("acme/word-count:1.0.0", Pin(DIGEST, permissions_digest(m)))
    assert lock_entry_approving(old_binding, m, DIGEST) is None  # written before #17: ask again


def test_revocation_is_kept_until_a_new_approval() -> None:
    approval = Approval("acme/x", "acme", DIGEST, OTHER, ("line",), "t", "ada", "terminal")
    revoked = Approvals().with_approval(approval).without("acme/x", "2026-12-03T00:00:00Z")
    again = parse_approvals(approvals_bytes(revoked))
    assert again.revoked == {"acme/x": "2026-12-03T00:00:00Z"} and not again.by_package
    assert not again.with_approval(approval).revoked
    assert "revoked" not in json.loads(approvals_bytes(Approvals().with_approval(approval)))


def test_a_lock_entry_whose_reference_carries_terminal_commands_is_refused() -> None:
    with pytest.raises(UntrustedContentError) as e:
        parse_lock(HOSTILE_LOCK.read_bytes(), HOSTILE_LOCK)
    message = e.value.diagnostics()
    assert str(HOSTILE_LOCK) in message and "is not a reference" in message
    assert "\\x1b]0;pwned\\x07\\x0a  acme/trusted" in message  # the entry, escaped
    assert unsafe(message, layout="\n") == [] and message.count("\n") == 2  # ours only


@pytest.mark.parametrize(
    "reference",
    ["acme/word-count", "acme/word-count:1.0.0", "sha256:" + "c" * 64, "127.0.0.1:5000/acme/x:1"],
)
def test_a_lock_entry_with_a_valid_reference_is_accepted(reference: str) -> None:
    data = json.dumps({"version": 1, "packages": {reference: {"digest": DIGEST}}}).encode()
    assert parse_lock(data, Path("mppoci.lock")).get(reference) == Pin(DIGEST)


def test_lock_list_does_not_print_a_hostile_reference_raw(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("--lock", str(HOSTILE_LOCK), "lock", "list")
    assert result.returncode == 1
    assert "is not a reference" in result.stderr
    assert unsafe(result.stdout + result.stderr, layout="\n") == []
