"""Pure trust decisions: scopes, revocation, rollback, and the policy file."""

from __future__ import annotations

import pytest

from mppoci.errors import RollbackError, UntrustedContentError, UserInputError
from mppoci.signing.keys import KeyId
from mppoci.trust.policy import (
    Revocation,
    TrustedKey,
    TrustPolicy,
    parse_policy,
    policy_bytes,
    validate_scope,
)
from mppoci.trust.rollback import RollbackState, parse_rollback, rollback_bytes

KID_A = KeyId("a" * 64)
KID_B = KeyId("b" * 64)


def _key(
    kid: KeyId = KID_A, scopes: tuple[str, ...] = ("acme/*",), registries: tuple[str, ...] = ()
) -> TrustedKey:
    return TrustedKey(kid, "PEM", "acme", scopes, registries)


def test_scope_globs_match_package_names_only_within_them() -> None:
    key = _key(scopes=("acme/*", "other/one"))
    assert key.covers("acme/csv-query")
    assert key.covers("other/one")
    assert not key.covers("other/two")
    assert not key.covers("acmex/tool")


def test_registry_scope_limits_the_origin() -> None:
    key = _key(registries=("ghcr.io",))
    assert key.accepts_origin("ghcr.io")
    assert not key.accepts_origin("evil.test")
    assert not key.accepts_origin(None)  # a local build is not from ghcr.io
    assert _key().accepts_origin(None)


@pytest.mark.parametrize("scope", ["*/*", "*/tool", "acme", "ACME/x", "acme/x y"])
def test_scopes_that_are_too_wide_or_malformed_are_refused(scope: str) -> None:
    with pytest.raises(UserInputError):
        validate_scope(scope)


def test_revoked_key_cannot_be_trusted_again() -> None:
    policy = TrustPolicy().with_revocation(Revocation(KID_A, "2026-01-01T00:00:00Z"))
    with pytest.raises(UserInputError, match="revoked"):
        policy.with_key(_key())


def test_adding_a_known_key_widens_its_scopes() -> None:
    policy = TrustPolicy().with_key(_key(scopes=("acme/a",))).with_key(_key(scopes=("acme/b",)))
    assert len(policy.keys) == 1
    assert policy.keys[0].scopes == ("acme/a", "acme/b")


def test_key_id_prefixes_resolve_only_when_unique() -> None:
    policy = TrustPolicy().with_key(_key(KID_A)).with_key(_key(KID_B))
    assert policy.match_key_id("aaaaaaaaaaaaaaaa") == KID_A
    with pytest.raises(UserInputError):
        policy.match_key_id("cccccccc")
    with pytest.raises(UserInputError):
        policy.match_key_id("aa")  # too short to be meaningful


def test_policy_file_round_trips_and_damage_is_refused() -> None:
    policy = (
        TrustPolicy()
        .with_key(_key(registries=("ghcr.io",)))
        .with_revocation(Revocation(KID_B, "2026-01-01T00:00:00Z", "lost laptop"))
    )
    assert parse_policy(policy_bytes(policy)) == policy
    for damaged in (
        b"{",
        b"[]",
        b'{"version": 2}',
        b'{"version": 1, "keys": [{"keyId": "x"}]}',
        b'{"version": 1, "extra": 1}',
    ):
        with pytest.raises(UntrustedContentError):
            parse_policy(damaged)


def test_rollback_to_an_older_version_is_refused() -> None:
    state = RollbackState().record("acme/tool", "1.4.0", "sha256:" + "1" * 64)
    state.check("acme/tool", "1.4.0", allow_downgrade=False)
    state.check("acme/tool", "2.0.0", allow_downgrade=False)
    state.check("other/tool", "0.1.0", allow_downgrade=False)
    with pytest.raises(RollbackError, match=r"older than 1\.4\.0"):
        state.check("acme/tool", "1.3.9", allow_downgrade=False)
    with pytest.raises(RollbackError):
        state.check("acme/tool", "1.4.0-rc.1", allow_downgrade=False)
    state.check("acme/tool", "1.3.9", allow_downgrade=True)


def test_rollback_state_keeps_the_highest_and_round_trips() -> None:
    state = (
        RollbackState()
        .record("acme/tool", "1.10.0", "sha256:" + "1" * 64)
        .record("acme/tool", "1.9.0", "sha256:" + "2" * 64)
    )
    assert state.highest["acme/tool"].version == "1.10.0"
    assert parse_rollback(rollback_bytes(state)) == state
    with pytest.raises(UntrustedContentError):
        parse_rollback(b'{"version": 1, "packages": {"a/b": {"version": "x", "digest": "y"}}}')
