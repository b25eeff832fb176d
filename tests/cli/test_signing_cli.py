"""Signing and verification through the real CLI, each test named after the
attack it stops. Keys are made by `mppoci key generate` or are cosign's own."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from mppoci.digest import sha256_digest
from tests.conftest import MPPOCI, SAMPLE_MANIFEST, CliRunner, write_package

PASSWORD = "correct horse battery staple"
COSIGN_KEYS = Path(__file__).resolve().parents[1] / "assets" / "cosign" / "keys"


@pytest.fixture
def keys(cli: CliRunner, tmp_path: Path) -> dict[str, Path]:
    """Two key pairs, `alice` and `mallory`."""
    out = {}
    for name in ("alice", "mallory"):
        result = subprocess.run(
            [str(MPPOCI), "key", "generate", "--output-key-prefix", str(tmp_path / name)],
            capture_output=True,
            text=True,
            env={**os.environ, "MPPOCI_PASSWORD": PASSWORD},
            check=False,
        )
        assert result.returncode == 0, result.stderr
        out[name] = tmp_path / f"{name}.key"
        out[f"{name}.pub"] = tmp_path / f"{name}.pub"
    return out


def _env() -> dict[str, str]:
    return {"MPPOCI_PASSWORD": PASSWORD}


@pytest.fixture
def built(cli: CliRunner, package_dir: Path) -> str:
    result = cli("build", str(package_dir))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _sign(cli: CliRunner, ref: str, key: Path) -> None:
    result = cli("sign", ref, "--key", str(key), env=_env())
    assert result.returncode == 0, result.stderr


def _trust(cli: CliRunner, pub: Path, *extra: str) -> None:
    result = cli("trust", "add", str(pub), "--publisher", "acme", *extra)
    assert result.returncode == 0, result.stderr


def _blob(home: Path, digest: str) -> Path:
    return home / "data" / "store" / "blobs" / "sha256" / digest.split(":")[1]


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_signed_package_from_a_trusted_key_verifies(
    cli: CliRunner, built: str, keys: dict[str, Path]
) -> None:
    _sign(cli, "acme/word-count", keys["alice"])
    _trust(cli, keys["alice.pub"])
    result = cli("verify", "acme/word-count", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["digest"] == built and doc["signer"]["publisher"] == "acme"
    shown = json.loads(cli("inspect", "acme/word-count", "--json").stdout)
    assert shown["verification"]["status"] == "verified"
    assert cli("list", "--json").stdout.count('"signed": true') == 1


def test_unsigned_package_is_refused(cli: CliRunner, built: str, keys: dict[str, Path]) -> None:
    _trust(cli, keys["alice.pub"])
    result = cli("verify", "acme/word-count")
    assert result.returncode == 1
    assert "is unsigned" in result.stderr
    assert "mppoci sign" in result.stderr
    assert "UNSIGNED" in cli("inspect", "acme/word-count").stdout


def test_nothing_is_trusted_by_default(cli: CliRunner, built: str, keys: dict[str, Path]) -> None:
    _sign(cli, "acme/word-count", keys["alice"])
    result = cli("verify", "acme/word-count")
    assert result.returncode == 1
    assert "not in the trust policy" in result.stderr
    assert "mppoci trust add" in result.stderr  # says how to trust it


def test_signature_by_an_untrusted_key_is_refused(
    cli: CliRunner, built: str, keys: dict[str, Path]
) -> None:
    _sign(cli, "acme/word-count", keys["mallory"])
    _trust(cli, keys["alice.pub"])
    result = cli("verify", "acme/word-count")
    assert result.returncode == 1
    assert "not in the trust policy" in result.stderr


def test_signature_by_a_revoked_key_is_refused_even_if_made_before_revocation(
    cli: CliRunner, built: str, keys: dict[str, Path]
) -> None:
    _sign(cli, "acme/word-count", keys["alice"])
    _trust(cli, keys["alice.pub"])
    assert cli("verify", "acme/word-count").returncode == 0
    key_id = json.loads(cli("trust", "list", "--json").stdout)["keys"][0]["keyId"]
    assert cli("trust", "revoke", key_id[:16], "--reason", "lost laptop").returncode == 0
    result = cli("verify", "acme/word-count")
    assert result.returncode == 1
    assert "is revoked" in result.stderr
    # Even --key with the revoked key is refused, and it cannot be re-trusted.
    assert cli("verify", "acme/word-count", "--key", str(keys["alice.pub"])).returncode == 1
    again = cli("trust", "add", str(keys["alice.pub"]), "--publisher", "acme")
    assert again.returncode == 1 and "revoked" in again.stderr


def test_key_signing_outside_its_scope_is_refused(
    cli: CliRunner, built: str, keys: dict[str, Path]
) -> None:
    _sign(cli, "acme/word-count", keys["alice"])
    _trust(cli, keys["alice.pub"], "--scope", "acme/other-tool")
    result = cli("verify", "acme/word-count")
    assert result.returncode == 1
    assert "may sign only acme/other-tool, not acme/word-count" in result.stderr


def test_key_limited_to_a_registry_refuses_a_local_build(
    cli: CliRunner, built: str, keys: dict[str, Path]
) -> None:
    _sign(cli, "acme/word-count", keys["alice"])
    _trust(cli, keys["alice.pub"], "--registry", "ghcr.io")
    result = cli("verify", "acme/word-count")
    assert result.returncode == 1
    assert "only for packages from ghcr.io" in result.stderr


def test_tampered_config_is_refused(
    cli: CliRunner, home: Path, built: str, keys: dict[str, Path]
) -> None:
    _sign(cli, "acme/word-count", keys["alice"])
    _trust(cli, keys["alice.pub"])
    manifest = json.loads(_blob(home, built).read_bytes())
    _flip_byte(_blob(home, manifest["config"]["digest"]))
    result = cli("verify", "acme/word-count")
    assert result.returncode == 1
    assert "package config" in result.stderr and "does not match its digest" in result.stderr


def test_tampered_layer_is_refused(
    cli: CliRunner, home: Path, built: str, keys: dict[str, Path]
) -> None:
    _sign(cli, "acme/word-count", keys["alice"])
    _trust(cli, keys["alice.pub"])
    manifest = json.loads(_blob(home, built).read_bytes())
    _flip_byte(_blob(home, manifest["layers"][0]["digest"]))
    result = cli("verify", "acme/word-count")
    assert result.returncode == 1
    assert "package content" in result.stderr and "does not match its digest" in result.stderr
    shown = json.loads(cli("inspect", "acme/word-count", "--json").stdout)
    assert shown["verification"]["status"] == "tampered"


def test_swapped_manifest_is_refused(
    cli: CliRunner, home: Path, tmp_path: Path, built: str, keys: dict[str, Path]
) -> None:
    _sign(cli, "acme/word-count", keys["alice"])
    _trust(cli, keys["alice.pub"])
    other = write_package(tmp_path / "other", SAMPLE_MANIFEST.replace("Count words.", "Evil."))
    evil = cli("build", str(other)).stdout.strip()
    # The attacker puts another manifest's bytes under the signed digest's name.
    shutil.copy(_blob(home, evil), _blob(home, built))
    result = cli("verify", built)
    assert result.returncode == 1
    assert "does not match its digest" in result.stderr


def test_signature_over_another_digest_is_refused(
    cli: CliRunner, home: Path, tmp_path: Path, built: str, keys: dict[str, Path]
) -> None:
    _trust(cli, keys["alice.pub"])
    other = write_package(tmp_path / "other", SAMPLE_MANIFEST.replace("1.0.0", "1.1.0"))
    evil = cli("build", str(other)).stdout.strip()
    _sign(cli, "acme/word-count:1.0.0", keys["alice"])
    # Copy the genuine signature manifest to the unsigned package's signature tag.
    index_path = home / "data" / "store" / "index.json"
    index = json.loads(index_path.read_text())
    sig = next(
        m
        for m in index["manifests"]
        if m["annotations"]["org.opencontainers.image.ref.name"].endswith(".sig")
    )
    copied = json.loads(json.dumps(sig))
    copied["annotations"]["org.opencontainers.image.ref.name"] = (
        "sha256-" + evil.split(":")[1] + ".sig"
    )
    index["manifests"].append(copied)
    index_path.write_text(json.dumps(index))
    result = cli("verify", "acme/word-count:1.1.0")
    assert result.returncode == 1
    assert "it signs another digest" in result.stderr


def test_rollback_to_an_older_version_is_refused(
    cli: CliRunner, tmp_path: Path, keys: dict[str, Path]
) -> None:
    _trust(cli, keys["alice.pub"])
    for version in ("1.0.0", "2.0.0"):
        folder = write_package(tmp_path / version, SAMPLE_MANIFEST.replace("1.0.0", version))
        assert cli("build", str(folder)).returncode == 0
        _sign(cli, f"acme/word-count:{version}", keys["alice"])
    assert cli("verify", "acme/word-count:2.0.0").returncode == 0
    result = cli("verify", "acme/word-count:1.0.0")
    assert result.returncode == 1
    assert "older than 2.0.0" in result.stderr and "--allow-downgrade" in result.stderr
    assert cli("verify", "acme/word-count:1.0.0", "--allow-downgrade").returncode == 0


def test_verify_with_an_explicit_key_as_cosign_does(
    cli: CliRunner, built: str, keys: dict[str, Path]
) -> None:
    _sign(cli, "acme/word-count", keys["alice"])
    assert cli("verify", "acme/word-count", "--key", str(keys["alice.pub"])).returncode == 0
    wrong = cli("verify", "acme/word-count", "--key", str(keys["mallory.pub"]))
    assert wrong.returncode == 1
    assert "does not verify with key" in wrong.stderr


def test_several_signatures_are_kept_and_one_trusted_suffices(
    cli: CliRunner, built: str, keys: dict[str, Path]
) -> None:
    _sign(cli, "acme/word-count", keys["mallory"])
    _sign(cli, "acme/word-count", keys["alice"])
    _trust(cli, keys["alice.pub"])
    doc = json.loads(cli("verify", "acme/word-count", "--json").stdout)
    assert [s["outcome"] for s in doc["signatures"]] == ["unknown-signer", "accepted"]


def test_cosign_generated_keys_sign_and_verify(cli: CliRunner, built: str) -> None:
    assert COSIGN_KEYS.is_dir(), f"interop keys missing at {COSIGN_KEYS}"
    for name in ("cosign-label", "sigstore-label"):
        result = cli(
            "sign",
            built,
            "--key",
            str(COSIGN_KEYS / f"{name}.key"),
            env={"COSIGN_PASSWORD": "hello"},
        )
        assert result.returncode == 0, result.stderr
        verified = cli("verify", built, "--key", str(COSIGN_KEYS / f"{name}.pub"))
        assert verified.returncode == 0, verified.stderr


def test_wrong_password_leaks_neither_password_nor_key(
    cli: CliRunner, built: str, keys: dict[str, Path]
) -> None:
    secret = "hunter2-do-not-print-me"
    result = cli("sign", built, "--key", str(keys["alice"]), env={"MPPOCI_PASSWORD": secret})
    assert result.returncode == 1
    assert "wrong password" in result.stderr
    key_text = keys["alice"].read_text()
    body = "".join(line for line in key_text.splitlines() if not line.startswith("-----"))
    for leaked in (secret, PASSWORD, body[:40], "Traceback"):
        assert leaked not in result.stderr + result.stdout


def test_generated_private_key_is_private_and_never_overwritten(
    cli: CliRunner, keys: dict[str, Path], tmp_path: Path
) -> None:
    assert keys["alice"].stat().st_mode & 0o077 == 0
    before = keys["alice"].read_bytes()
    again = cli("key", "generate", "--output-key-prefix", str(tmp_path / "alice"), env=_env())
    assert again.returncode == 1 and "already exists" in again.stderr
    assert keys["alice"].read_bytes() == before


def test_non_interactive_use_without_a_password_is_refused(
    cli: CliRunner, built: str, keys: dict[str, Path]
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MPPOCI_PASSWORD", "COSIGN_PASSWORD")}
    result = subprocess.run(
        [str(MPPOCI), "sign", built, "--key", str(keys["alice"])],
        capture_output=True,
        text=True,
        env={**env, "MPPOCI_HOME": os.environ.get("MPPOCI_HOME", "")},
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert "MPPOCI_PASSWORD" in result.stderr


def _run_on_terminal(args: list[str], home: Path, *answers: str) -> tuple[int, str]:
    """Run mppoci with a pseudo-terminal as stdin and stderr; answer its
    questions in order (each "[y/N]" gets the next answer)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(MPPOCI), *args],
        stdin=slave,
        stderr=slave,
        stdout=subprocess.PIPE,
        env={**os.environ, "MPPOCI_HOME": str(home)},
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60  # hang guard, not a timing assertion
    answered = 0
    while proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
        if answered < len(answers) and seen.count(b"[y/N]") > answered:
            os.write(master, answers[answered].encode() + b"\n")
            answered += 1
    proc.wait(timeout=30)
    os.close(master)
    return proc.returncode, seen.decode(errors="replace")


def test_unknown_signer_on_a_terminal_gets_a_first_use_confirmation(
    cli: CliRunner, home: Path, built: str, keys: dict[str, Path]
) -> None:
    _sign(cli, "acme/word-count", keys["alice"])
    code, shown = _run_on_terminal(["verify", "acme/word-count"], home, "n")
    assert code == 1 and "not trusted before" in shown
    assert json.loads(cli("trust", "list", "--json").stdout)["keys"] == []

    # Changed by issue #17: "yes" alone trusts the key for this package, not acme/*.
    code, shown = _run_on_terminal(["verify", "acme/word-count"], home, "y", "n")
    assert code == 0, shown
    assert "publisher:   acme" in shown
    trusted = json.loads(cli("trust", "list", "--json").stdout)["keys"]
    assert len(trusted) == 1
    assert trusted[0]["scopes"] == ["acme/word-count"]
    assert "first use" in trusted[0]["note"]


def _second_package(cli: CliRunner, tmp_path: Path, key: Path) -> None:
    other = write_package(tmp_path / "other", SAMPLE_MANIFEST.replace("word-count", "admin"))
    assert cli("build", str(other)).returncode == 0
    _sign(cli, "acme/admin", key)


def test_first_use_yes_trusts_only_that_package(
    cli: CliRunner, home: Path, tmp_path: Path, built: str, keys: dict[str, Path]
) -> None:
    _second_package(cli, tmp_path, keys["alice"])
    _sign(cli, "acme/word-count", keys["alice"])
    code, shown = _run_on_terminal(["verify", "acme/word-count"], home, "y", "n")
    assert code == 0, shown
    # The same key on another acme package is not trusted by that answer.
    refused = cli("verify", "acme/admin")
    assert refused.returncode == 1
    assert "may sign only acme/word-count, not acme/admin" in refused.stderr


def test_first_use_wider_answer_trusts_the_whole_publisher(
    cli: CliRunner, home: Path, tmp_path: Path, built: str, keys: dict[str, Path]
) -> None:
    _second_package(cli, tmp_path, keys["alice"])
    _sign(cli, "acme/word-count", keys["alice"])
    code, shown = _run_on_terminal(["verify", "acme/word-count"], home, "y", "y")
    assert code == 0, shown
    assert json.loads(cli("trust", "list", "--json").stdout)["keys"][0]["scopes"] == ["acme/*"]
    assert cli("verify", "acme/admin").returncode == 0


def test_first_use_prompt_warns_when_the_publisher_already_has_a_trusted_key(
    cli: CliRunner, home: Path, built: str, keys: dict[str, Path]
) -> None:
    _trust(cli, keys["alice.pub"], "--scope", "acme/other-tool")
    _sign(cli, "acme/word-count", keys["mallory"])
    code, shown = _run_on_terminal(["verify", "acme/word-count"], home, "n")
    assert code == 1
    assert "you already trust 1 other key(s) for acme" in shown
    assert "someone else signed this in their name" in shown


def test_first_use_prompt_warns_when_the_scopes_key_has_another_publisher_label(
    cli: CliRunner, home: Path, built: str, keys: dict[str, Path]
) -> None:
    # alice's key is trusted for acme/word-count under another label; a new
    # key signing that package must still get the warning.
    trusted = cli(
        "trust", "add", str(keys["alice.pub"]), "--publisher", "ops", "--scope", "acme/word-count"
    )
    assert trusted.returncode == 0, trusted.stderr
    _sign(cli, "acme/word-count", keys["mallory"])
    code, shown = _run_on_terminal(["verify", "acme/word-count"], home, "n")
    assert code == 1
    assert "you already trust 1 other key(s) for acme or acme/word-count" in shown
    assert "someone else signed this in their name" in shown


def test_first_use_prompt_does_not_warn_for_a_new_publisher(
    cli: CliRunner, home: Path, built: str, keys: dict[str, Path]
) -> None:
    _sign(cli, "acme/word-count", keys["mallory"])
    code, shown = _run_on_terminal(["verify", "acme/word-count"], home, "n")
    assert code == 1 and "not trusted before" in shown
    assert "you already trust" not in shown


def test_plain_oci_image_verifies_with_a_key_but_not_through_package_scopes(
    cli: CliRunner, home: Path, keys: dict[str, Path]
) -> None:
    from mppoci.oci.mediatypes import OCI_MANIFEST
    from mppoci.oci.model import Descriptor, image_manifest_bytes
    from mppoci.store import Store

    store = Store(home / "data" / "store")
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    layer = b"not really a tar"
    body = image_manifest_bytes(
        config=Descriptor(
            "application/vnd.oci.image.config.v1+json", store.put_bytes(config), len(config)
        ),
        layers=(
            Descriptor(
                "application/vnd.oci.image.layer.v1.tar", store.put_bytes(layer), len(layer)
            ),
        ),
    )
    digest = store.put_bytes(body)
    store.tag(Descriptor(OCI_MANIFEST, digest, len(body)), "images/plain:1")
    assert digest == sha256_digest(body)
    _sign(cli, digest, keys["alice"])
    assert cli("verify", digest, "--key", str(keys["alice.pub"])).returncode == 0
    _trust(cli, keys["alice.pub"])
    result = cli("verify", digest)
    assert result.returncode == 1
    assert "verify plain images with --key" in result.stderr


def _repackaged(home: Path, built: str, config: bytes) -> str:
    """A package in the store whose config blob is ``config``, every digest right."""
    from mppoci.oci import mediatypes as mt
    from mppoci.oci.model import Descriptor, image_manifest_bytes, parse_image_manifest
    from mppoci.store import Store

    store = Store(home / "data" / "store")
    original = parse_image_manifest(_blob(home, built).read_bytes())
    body = image_manifest_bytes(
        config=Descriptor(mt.MPP_CONFIG, store.put_bytes(config), len(config)),
        layers=original.layers,
        artifact_type=mt.MPP_ARTIFACT,
    )
    digest = store.put_bytes(body)
    store.tag(Descriptor(mt.OCI_MANIFEST, digest, len(body)), "acme/word-count:6.6.6")
    return digest


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda doc: {**doc, "smuggled": True}, "ManifestError"),
        (lambda doc: {**doc, "description": "x" * 300_000}, "LimitExceededError"),
    ],
    ids=["bad-manifest", "limit-exceeded"],
)
def test_refusal_of_a_bad_manifest_at_load_is_audited(
    cli: CliRunner, home: Path, tmp_path: Path, built: str, damage: Any, reason: str
) -> None:
    lock = ["--lock", str(tmp_path / "mppoci.lock")]
    config = json.loads(_blob(home, _config_digest(home, built)).read_bytes())
    digest = _repackaged(home, built, json.dumps(damage(config)).encode())
    # The gate (verify), and the commands that open a package without it.
    for count, command in enumerate((["verify"], ["inspect"], [*lock, "lock", "add"]), start=1):
        result = cli(*command, digest)
        assert result.returncode == 1, (command, result.stderr)
        shown = json.loads(cli("audit", "show", "--event", "verify", "--json").stdout)
        refusals = [r["data"] for r in shown if r["data"]["outcome"] == "refused"]
        assert len(refusals) == count, command
        assert refusals[-1]["digest"] == digest and refusals[-1]["detail"].startswith(reason)


def _config_digest(home: Path, digest: str) -> str:
    from mppoci.oci.model import parse_image_manifest

    return str(parse_image_manifest(_blob(home, digest).read_bytes()).config.digest)
