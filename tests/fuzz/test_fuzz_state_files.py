"""Fuzzing of the JSON files mppoci reads back: mppoci.lock, the trust policy,
the rollback state, the approvals file, Docker's config.json and MCP client
configs. Each is outside input (edited by people, restored from backups,
written by other tools): it parses into our value or raises our error, and
what parses survives a write and a read unchanged."""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mppoci.approval.records import approvals_bytes, parse_approvals
from mppoci.audit.head import Head, HeadDamagedError, parse_head
from mppoci.errors import UntrustedContentError
from mppoci.hosts import clients
from mppoci.lockfile import lock_bytes, parse_lock
from mppoci.registry import credentials
from mppoci.settings import parse_settings
from mppoci.trust.policy import parse_policy, policy_bytes
from mppoci.trust.rollback import parse_rollback, rollback_bytes
from tests.fuzz.support import DEEP_JSON, documents, hostile_text, parsed_or_our_error

pytestmark = pytest.mark.fuzz

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
KEY_ID = "ab" * 32

LOCK = {
    "version": 1,
    "packages": {
        "ghcr.io/acme/a:1.0.0": {"digest": D1, "permissions": D2},
        "acme/b": {"digest": D2},
    },
}
POLICY = {
    "version": 1,
    "keys": [
        {
            "keyId": KEY_ID,
            "publicKey": "-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n",
            "publisher": "acme",
            "scopes": ["acme/*"],
            "registries": ["ghcr.io"],
            "added": "2024-01-01T00:00:00Z",
            "note": "n",
        }
    ],
    "revoked": [{"keyId": "cd" * 32, "revokedAt": "2024-01-02T00:00:00Z", "reason": "lost"}],
}
ROLLBACK = {"version": 1, "packages": {"acme/a": {"version": "1.2.0-rc.1+b", "digest": D1}}}
APPROVALS = {
    "version": 1,
    "approvals": {
        "acme/a": {
            "publisher": "acme",
            "digest": D1,
            "permissions": D2,
            "lines": ["reads /data", "network: api.acme.test:443"],
            "approvedAt": "2024-01-01T00:00:00Z",
            "approvedBy": "ada",
            "how": "terminal",
        }
    },
}


def test_the_seed_documents_are_valid() -> None:
    # Guards the seeds: mutations of an invalid seed would never get past the first check.
    assert len(parse_lock(json.dumps(LOCK).encode(), Path("mppoci.lock")).pins) == 2
    assert parse_policy(json.dumps(POLICY).encode()).keys[0].key_id == KEY_ID
    assert parse_rollback(json.dumps(ROLLBACK).encode()).highest["acme/a"].digest == D1
    assert parse_approvals(json.dumps(APPROVALS).encode()).by_package["acme/a"].how == "terminal"


@given(documents(LOCK))
@example(DEEP_JSON)
def test_lock_files_parse_or_are_refused_and_round_trip(data: bytes) -> None:
    lock = parsed_or_our_error(lambda: parse_lock(data, Path("mppoci.lock")))
    if lock is not None:
        assert parse_lock(lock_bytes(lock), Path("mppoci.lock")) == lock


@given(documents(POLICY))
@example(DEEP_JSON)
@example(b'{"version": 1, "keys": 5}')
@example(b'{"version": 1, "revoked": true}')
def test_trust_policies_parse_or_are_refused_and_round_trip(data: bytes) -> None:
    policy = parsed_or_our_error(lambda: parse_policy(data))
    if policy is not None:
        assert parse_policy(policy_bytes(policy)) == policy


@given(documents(ROLLBACK))
@example(DEEP_JSON)
@example(b"[]")
@example(b'"text"')
def test_rollback_states_parse_or_are_refused_and_round_trip(data: bytes) -> None:
    state = parsed_or_our_error(lambda: parse_rollback(data))
    if state is not None:
        assert parse_rollback(rollback_bytes(state)) == state


@given(documents(APPROVALS))
@example(DEEP_JSON)
@example(
    b'{"version": 1, "approvals": {"a": {"publisher": "p", "digest": 5, "permissions": 5, '
    b'"lines": [], "approvedAt": "", "approvedBy": "", "how": ""}}}'
)
def test_approval_files_parse_or_are_refused_and_round_trip(data: bytes) -> None:
    approvals = parsed_or_our_error(lambda: parse_approvals(data))
    if approvals is not None:
        assert parse_approvals(approvals_bytes(approvals)) == approvals


SETTINGS = {"audit": {"forward": "syslog", "socket": "/run/log.sock"}}
HEAD = {"seq": 12, "hash": D1}


@given(documents(SETTINGS))
@example(DEEP_JSON)
@example(b'{"audit": {"forward": "syslog", "socket": "/\\ud800"}}')
@example(b'{"audit": {"forward": "journald", "socket": "/a\\u0000b"}}')
@example(b'{"audit": {"forward": "syslog", "socket": "/\\udcff"}}')
def test_settings_files_parse_or_are_refused(data: bytes) -> None:
    settings = parsed_or_our_error(lambda: parse_settings(data, Path("settings.json")))
    if settings is not None and settings.audit_forwarding is not None:
        encoded = os.fsencode(settings.audit_forwarding.socket)  # sendable as a socket address
        assert encoded.startswith(b"/") and b"\0" not in encoded


@given(documents(HEAD))
@example(DEEP_JSON)
@example(b'{"seq": true, "hash": "sha256:"}')
def test_audit_head_files_parse_or_are_named_damaged(data: bytes) -> None:
    try:
        head = parse_head(data)
    except HeadDamagedError:
        return
    assert isinstance(head, Head) and head.seq >= 1


# --- Docker's config.json ------------------------------------------------------------------

DOCKER_CONFIG = {
    "auths": {
        "reg.test": {"auth": base64.b64encode(b"ada:secret").decode()},
        "https://other.test": {"username": "bob", "password": "pw"},
    },
    "credHelpers": {"helped.test": "nosuchhelper"},
    "credsStore": "",
}


@given(
    documents(DOCKER_CONFIG),
    st.sampled_from(["reg.test", "other.test", "helped.test", "docker.io", "x.test"]),
)
@example(DEEP_JSON, "reg.test")
def test_docker_configs_give_credentials_or_our_error(data: bytes, registry: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "config.json").write_bytes(data)
        # An empty PATH: a credential helper named by the file is never run.
        environ = {"DOCKER_CONFIG": str(folder), "PATH": str(folder / "empty")}
        found = parsed_or_our_error(lambda: credentials.resolve(registry, environ))
        assert found is None or isinstance(found.username, str)


@given(
    documents(DOCKER_CONFIG),
    st.text(alphabet=st.characters(blacklist_characters=":"), max_size=12),
    st.text(max_size=12),
)
@example(DEEP_JSON, "ada", "pw")
def test_saved_credentials_read_back_whatever_the_config_held(
    data: bytes, username: str, password: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "config.json").write_bytes(data)
        environ = {"DOCKER_CONFIG": str(folder), "PATH": str(folder / "empty")}
        saved = credentials.Credentials(username, password, "test")
        where = parsed_or_our_error(lambda: credentials.store("new.test", saved, environ))
        if where is None:
            return
        found = credentials.resolve("new.test", environ)
        assert found is not None
        assert (found.username, found.password) == (username, password)


# --- MCP client configs ----------------------------------------------------------------------

CLIENT_CONFIG: dict[str, Any] = {
    "mcpServers": {"other": {"command": "node", "args": ["x.js"], "env": {"A": "1"}}},
    "servers": {"other": {"type": "stdio", "command": "x"}},
    "theme": "dark",
}


@given(documents(CLIENT_CONFIG), st.sampled_from(list(clients.ClientName)), hostile_text)
@example(DEEP_JSON, clients.ClientName.CURSOR, "mppoci")
@example(b'{"theme": "\\ud800"}', clients.ClientName.CURSOR, "mppoci")
def test_mcp_client_configs_merge_or_are_left_alone(
    data: bytes, client: clients.ClientName, name: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mcp.json"
        path.write_bytes(data)
        entry = clients.server_entry(client, "/usr/bin/mppoci", ["serve", "acme/a"])
        done = parsed_or_our_error(
            lambda: clients.install(path, client, name, entry, create_folder=False)
        )
        if done is None:
            assert path.read_bytes() == data  # refused: the file is left as it was
            return
        merged = json.loads(path.read_bytes())
        assert merged[clients.servers_key(client)][name] == entry
        before = json.loads(data) if data.strip() else {}
        for key, value in before.items():
            if key != clients.servers_key(client):
                assert merged[key] == value or value != value  # NaN is never equal
        assert done.backup is not None and done.backup.read_bytes() == data


def test_a_refused_state_file_names_the_damage() -> None:
    with pytest.raises(UntrustedContentError, match="trust policy is damaged"):
        parse_policy(b'{"version": 1, "keys": 5}')
    with pytest.raises(UntrustedContentError, match="rollback state is damaged"):
        parse_rollback(b"[]")
    with pytest.raises(UntrustedContentError, match="approvals file is damaged"):
        parse_approvals(APPROVALS_WITH_NUMBER_DIGEST)


APPROVALS_WITH_NUMBER_DIGEST = json.dumps(
    {"version": 1, "approvals": {"a": {**APPROVALS["approvals"]["acme/a"], "digest": 5}}}
).encode()
