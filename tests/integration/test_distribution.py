"""Distribution through real registries (Debian's docker-registry on 127.0.0.1):
round trips in every auth set-up, the faults users meet, and independent
checks with plain HTTP and skopeo."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SAMPLE_MANIFEST, run_mppoci, write_package
from tests.registry_fixtures import Registry

pytestmark = pytest.mark.integration

PASSWORD = "key-password"
REPO = "acme/word-count"


def _mppoci(home: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return run_mppoci(home, *args, password=PASSWORD, **kwargs)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def publisher(tmp_path: Path) -> dict[str, Path]:
    """A publisher's home with a signed, trusted package; and a consumer's home
    that trusts the same key (and nothing else)."""
    home, consumer = tmp_path / "publisher", tmp_path / "consumer"
    prefix = tmp_path / "acme"
    _ok(_mppoci(home, "key", "generate", "--output-key-prefix", str(prefix)))
    for h in (home, consumer):
        _ok(_mppoci(h, "trust", "add", f"{prefix}.pub", "--publisher", "acme"))
    folder = write_package(tmp_path / "pkg")
    digest = _ok(_mppoci(home, "build", str(folder)))
    _ok(_mppoci(home, "sign", REPO, "--key", f"{prefix}.key"))
    return {
        "home": home,
        "consumer": consumer,
        "key": Path(f"{prefix}.key"),
        "pub": Path(f"{prefix}.pub"),
        "digest": Path(digest),
        "tmp": tmp_path,
    }


def _store_blobs(home: Path) -> set[str]:
    folder = home / "data" / "store" / "blobs" / "sha256"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _round_trip(
    p: dict[str, Path], reg: Registry, *extra: str, env: dict[str, str] | None = None
) -> None:
    ref = f"{reg.host}/{REPO}:1.0.0"
    pushed = _ok(_mppoci(p["home"], "push", REPO, ref, *extra, env=env))
    assert pushed == str(p["digest"])
    pulled = _ok(_mppoci(p["consumer"], "pull", ref, *extra, env=env))
    assert pulled == pushed
    shown = json.loads(_ok(_mppoci(p["consumer"], "inspect", REPO, "--json")))
    assert shown["verification"]["status"] == "verified"
    assert shown["digest"] == pushed


def test_round_trip_through_an_anonymous_registry(
    publisher: dict[str, Path], registry: Registry
) -> None:
    _round_trip(publisher, registry)


def test_round_trip_with_basic_auth(publisher: dict[str, Path], basic_registry: Registry) -> None:
    env = {
        "MPPOCI_REGISTRY": basic_registry.host,
        "MPPOCI_REGISTRY_USERNAME": "alice",
        "MPPOCI_REGISTRY_PASSWORD": "alice-secret",
    }
    _round_trip(publisher, basic_registry, env=env)


def test_round_trip_with_bearer_tokens_upgrades_scope_for_push(
    publisher: dict[str, Path], token_registry: Registry
) -> None:
    env = {
        "MPPOCI_REGISTRY": token_registry.host,
        "MPPOCI_REGISTRY_USERNAME": "writer",
        "MPPOCI_REGISTRY_PASSWORD": "writer-secret",
    }
    _round_trip(publisher, token_registry, env=env)
    requested = [
        r.requested.get(REPO) for r in token_registry.token_requests if r.requested.get(REPO)
    ]
    assert frozenset({"pull"}) in requested
    assert frozenset({"pull", "push"}) in requested


def test_round_trip_over_tls_with_a_private_ca(
    publisher: dict[str, Path], tls_registry: Registry
) -> None:
    assert tls_registry.ca_file is not None
    _round_trip(publisher, tls_registry, "--ca-file", str(tls_registry.ca_file))


def test_tls_is_verified_by_default(publisher: dict[str, Path], tls_registry: Registry) -> None:
    other_ca = publisher["tmp"] / "other-ca.pem"
    from tests.registry_fixtures import make_cert

    other_ca.write_bytes(make_cert("someone else").cert_pem())
    result = _mppoci(
        publisher["home"],
        "push",
        REPO,
        f"{tls_registry.host}/{REPO}:1.0.0",
        "--ca-file",
        str(other_ca),
    )
    assert result.returncode == 1
    assert "TLS" in result.stderr and "--ca-file" in result.stderr


def test_push_with_read_only_credentials_is_refused(
    publisher: dict[str, Path], token_registry: Registry
) -> None:
    env = {
        "MPPOCI_REGISTRY": token_registry.host,
        "MPPOCI_REGISTRY_USERNAME": "reader",
        "MPPOCI_REGISTRY_PASSWORD": "reader-secret",
    }
    result = _mppoci(
        publisher["home"], "push", REPO, f"{token_registry.host}/{REPO}:1.0.0", env=env
    )
    assert result.returncode == 1
    assert "refused access pull/push on acme/word-count" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_credentials_are_refused_and_login_saves_nothing(
    publisher: dict[str, Path], basic_registry: Registry, tmp_path: Path
) -> None:
    docker = {"DOCKER_CONFIG": str(tmp_path / "docker")}
    bad = _mppoci(
        publisher["home"],
        "login",
        basic_registry.host,
        "--username",
        "alice",
        "--password-stdin",
        stdin="wrong\n",
        env=docker,
    )
    assert bad.returncode == 1 and "refused" in bad.stderr
    assert not (tmp_path / "docker" / "config.json").exists()
    good = _mppoci(
        publisher["home"],
        "login",
        basic_registry.host,
        "--username",
        "alice",
        "--password-stdin",
        stdin="alice-secret\n",
        env=docker,
    )
    assert good.returncode == 0, good.stderr
    config = tmp_path / "docker" / "config.json"
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    # The saved credentials are used by the next command.
    _ok(_mppoci(publisher["home"], "push", REPO, f"{basic_registry.host}/{REPO}:1.0.0", env=docker))
    token = _mppoci(
        publisher["home"],
        "pull",
        f"{basic_registry.host}/{REPO}:1.0.0",
        env={
            "MPPOCI_REGISTRY": basic_registry.host,
            "MPPOCI_REGISTRY_USERNAME": "alice",
            "MPPOCI_REGISTRY_PASSWORD": "nope",
        },
    )
    assert token.returncode == 1 and "refused" in token.stderr


def test_registry_down_is_a_clear_error_and_the_store_is_unchanged(
    publisher: dict[str, Path], registry: Registry
) -> None:
    registry.stop()
    before = _store_blobs(publisher["consumer"])
    result = _mppoci(publisher["consumer"], "pull", f"{registry.host}/{REPO}:1.0.0")
    assert result.returncode == 1
    assert "cannot connect" in result.stderr and "connection refused" in result.stderr
    assert _store_blobs(publisher["consumer"]) == before


def test_blob_corrupted_in_the_registry_is_refused_and_nothing_is_stored(
    publisher: dict[str, Path], registry: Registry
) -> None:
    ref = f"{registry.host}/{REPO}:1.0.0"
    _ok(_mppoci(publisher["home"], "push", REPO, ref))
    manifest = json.loads(
        (
            publisher["home"] / "data/store/blobs/sha256" / str(publisher["digest"]).split(":")[1]
        ).read_bytes()
    )
    data = registry.blob_data_path(manifest["layers"][0]["digest"])
    corrupted = bytearray(data.read_bytes())
    corrupted[10] ^= 0xFF
    data.write_bytes(bytes(corrupted))
    result = _mppoci(publisher["consumer"], "pull", ref)
    assert result.returncode == 1
    assert "does not match its digest" in result.stderr
    assert _store_blobs(publisher["consumer"]) == set()
    assert list((publisher["consumer"] / "data/store/ingest").iterdir()) == []


def test_manifest_digest_mismatch_is_refused(
    publisher: dict[str, Path], registry: Registry
) -> None:
    digest = str(publisher["digest"])
    _ok(_mppoci(publisher["home"], "push", REPO, f"{registry.host}/{REPO}:1.0.0"))
    data = registry.blob_data_path(digest)
    data.write_bytes(data.read_bytes().replace(b"word-count", b"word-c0unt"))
    result = _mppoci(publisher["consumer"], "pull", f"{registry.host}/{REPO}@{digest}")
    assert result.returncode == 1
    assert "hashes to" in result.stderr
    assert _store_blobs(publisher["consumer"]) == set()


def test_package_without_signature_is_refused_on_pull(
    publisher: dict[str, Path], registry: Registry, tmp_path: Path
) -> None:
    folder = write_package(tmp_path / "unsigned", SAMPLE_MANIFEST.replace("1.0.0", "1.1.0"))
    _ok(_mppoci(publisher["home"], "build", str(folder)))
    refused = _mppoci(publisher["home"], "push", f"{REPO}:1.1.0", f"{registry.host}/{REPO}:1.1.0")
    assert refused.returncode == 1 and "unsigned" in refused.stderr
    _ok(
        _mppoci(
            publisher["home"],
            "push",
            f"{REPO}:1.1.0",
            f"{registry.host}/{REPO}:1.1.0",
            "--allow-unsigned",
        )
    )
    result = _mppoci(publisher["consumer"], "pull", f"{registry.host}/{REPO}:1.1.0")
    assert result.returncode == 1 and "is unsigned" in result.stderr
    assert _store_blobs(publisher["consumer"]) == set()


def test_pushed_signature_is_exactly_cosigns_layout(
    publisher: dict[str, Path], registry: Registry
) -> None:
    digest = str(publisher["digest"])
    _ok(_mppoci(publisher["home"], "push", REPO, f"{registry.host}/{REPO}:1.0.0"))
    tag = "sha256-" + digest.split(":")[1] + ".sig"
    request = urllib.request.Request(
        f"http://{registry.host}/v2/{REPO}/manifests/{tag}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        sig = json.loads(response.read())
    assert sig["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert sig["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    [layer] = sig["layers"]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert layer["annotations"]["dev.cosignproject.cosign/signature"]

    def blob(d: str) -> bytes:
        with urllib.request.urlopen(f"http://{registry.host}/v2/{REPO}/blobs/{d}", timeout=10) as r:
            return r.read()

    config = blob(sig["config"]["digest"])
    assert config == (
        b'{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":'
        b'"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["'
        + layer["digest"].encode()
        + b'"]},"config":{}}'
    )
    payload = blob(layer["digest"])
    assert payload == (
        b'{"critical":{"identity":{"docker-reference":"acme/word-count"},"image":'
        b'{"docker-manifest-digest":"' + digest.encode() + b'"},"type":"cosign container image '
        b'signature"},"optional":null}'
    )


def test_skopeo_copies_out_of_the_registry_into_our_layout_and_back(
    publisher: dict[str, Path], registry: Registry, skopeo: str
) -> None:
    digest = str(publisher["digest"])
    _ok(_mppoci(publisher["home"], "push", REPO, f"{registry.host}/{REPO}:1.0.0"))
    store = publisher["consumer"] / "data" / "store"
    store.mkdir(parents=True)
    copied = subprocess.run(
        [
            skopeo,
            "copy",
            "--preserve-digests",
            "--src-tls-verify=false",
            f"docker://{registry.host}/{REPO}:1.0.0",
            f"oci:{store}:{REPO}:1.0.0",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert copied.returncode == 0, copied.stderr
    index = json.loads((store / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [digest]
    # mppoci reads what skopeo wrote (skopeo does not carry cosign signatures).
    shown = json.loads(_ok(_mppoci(publisher["consumer"], "inspect", digest, "--json")))
    assert shown["name"] == REPO and shown["verification"]["status"] == "unsigned"
    subprocess.run(
        [
            skopeo,
            "copy",
            "--preserve-digests",
            "--dest-tls-verify=false",
            f"oci:{store}:{REPO}:1.0.0",
            f"docker://{registry.host}/{REPO}:again",
        ],
        check=True,
        capture_output=True,
    )
    raw = subprocess.run(
        [
            skopeo,
            "inspect",
            "--raw",
            "--tls-verify=false",
            f"docker://{registry.host}/{REPO}:again",
        ],
        check=True,
        capture_output=True,
    ).stdout
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest


def test_pulling_a_digest_already_in_the_store_downloads_no_blob(
    publisher: dict[str, Path], registry: Registry
) -> None:
    digest = str(publisher["digest"])
    ref = f"{registry.host}/{REPO}@{digest}"
    _ok(_mppoci(publisher["home"], "push", REPO, f"{registry.host}/{REPO}:1.0.0"))
    _ok(_mppoci(publisher["consumer"], "pull", ref))
    # Break every blob the package has in the registry: a second pull that
    # downloaded any of them would fail its digest check.
    manifest = json.loads(registry.blob_data_path(digest).read_bytes())
    for desc in (manifest["config"], *manifest["layers"]):
        registry.blob_data_path(desc["digest"]).write_bytes(b"garbage")
    assert _ok(_mppoci(publisher["consumer"], "pull", ref)) == digest


def test_copy_between_registries_keeps_digests_and_signatures(
    publisher: dict[str, Path], registry: Registry, basic_registry: Registry
) -> None:
    env = {
        "MPPOCI_REGISTRY": basic_registry.host,
        "MPPOCI_REGISTRY_USERNAME": "alice",
        "MPPOCI_REGISTRY_PASSWORD": "alice-secret",
    }
    _ok(_mppoci(publisher["home"], "push", REPO, f"{registry.host}/{REPO}:1.0.0"))
    copied = _ok(
        _mppoci(
            publisher["consumer"],
            "copy",
            f"{registry.host}/{REPO}:1.0.0",
            f"{basic_registry.host}/mirror/word-count:1.0.0",
            env=env,
        )
    )
    assert copied == str(publisher["digest"])
    # The copy verifies at its destination, signatures included.
    verified = _mppoci(
        publisher["consumer"], "verify", f"{basic_registry.host}/mirror/word-count:1.0.0", env=env
    )
    assert verified.returncode == 0, verified.stderr


def test_verify_takes_remote_references_and_changes_nothing(
    publisher: dict[str, Path], registry: Registry
) -> None:
    _ok(_mppoci(publisher["home"], "push", REPO, f"{registry.host}/{REPO}:1.0.0"))
    result = _mppoci(publisher["consumer"], "verify", f"{registry.host}/{REPO}:1.0.0")
    assert result.returncode == 0, result.stderr
    assert "Verified acme/word-count 1.0.0" in result.stdout
    assert _store_blobs(publisher["consumer"]) == set()


def test_save_and_load_carry_signatures_and_load_refuses_tampering(
    publisher: dict[str, Path],
) -> None:
    bundle = publisher["tmp"] / "bundle.tar"
    _ok(_mppoci(publisher["home"], "save", REPO, "-o", str(bundle)))
    assert _ok(_mppoci(publisher["consumer"], "load", str(bundle))) == str(publisher["digest"])
    shown = json.loads(_ok(_mppoci(publisher["consumer"], "inspect", REPO, "--json")))
    assert shown["verification"]["status"] == "verified"

    fresh = publisher["tmp"] / "fresh"
    _ok(_mppoci(fresh, "trust", "add", str(publisher["pub"]), "--publisher", "acme"))
    manifest = json.loads(
        (
            publisher["home"] / "data/store/blobs/sha256" / str(publisher["digest"]).split(":")[1]
        ).read_bytes()
    )
    layer_name = "blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]
    with tarfile.open(bundle) as tar:
        offset = tar.getmember(layer_name).offset_data
    data = bytearray(bundle.read_bytes())
    data[offset + 20] ^= 0x01  # one bit inside the content layer
    tampered = publisher["tmp"] / "tampered.tar"
    tampered.write_bytes(bytes(data))
    result = _mppoci(fresh, "load", str(tampered))
    assert result.returncode == 1
    assert "package content" in result.stderr and "does not match its digest" in result.stderr
    assert _store_blobs(fresh) == set()


def test_lock_pins_a_reference_to_the_reviewed_digest(
    publisher: dict[str, Path], registry: Registry, tmp_path: Path
) -> None:
    ref = f"{registry.host}/{REPO}:1.0.0"
    _ok(_mppoci(publisher["home"], "push", REPO, ref))
    lock = tmp_path / "mppoci.lock"
    _ok(_mppoci(publisher["consumer"], "--lock", str(lock), "lock", "add", ref))
    pinned = json.loads(lock.read_text())["packages"][ref]
    assert pinned["digest"] == str(publisher["digest"]) and pinned["permissions"].startswith(
        "sha256:"
    )
    # Someone moves the tag to another signed package.
    other = write_package(tmp_path / "other", SAMPLE_MANIFEST.replace("Count words.", "Changed."))
    _ok(_mppoci(publisher["home"], "build", str(other)))
    _ok(_mppoci(publisher["home"], "sign", REPO, "--key", str(publisher["key"])))
    moved = _ok(_mppoci(publisher["home"], "push", REPO, ref))
    assert moved != str(publisher["digest"])
    pulled = _mppoci(publisher["consumer"], "--lock", str(lock), "pull", ref)
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.strip() == str(publisher["digest"])
    assert "pins" in pulled.stderr


def test_lock_pin_of_a_registry_reference_to_another_packages_digest_is_refused(
    publisher: dict[str, Path], registry: Registry, tmp_path: Path
) -> None:
    ref = f"{registry.host}/{REPO}:1.0.0"
    _ok(_mppoci(publisher["home"], "push", REPO, ref))
    # Another signed package, pushed into the same repository under another tag.
    admin = write_package(tmp_path / "admin", SAMPLE_MANIFEST.replace("word-count", "admin"))
    admin_digest = _ok(_mppoci(publisher["home"], "build", str(admin)))
    _ok(_mppoci(publisher["home"], "sign", "acme/admin", "--key", str(publisher["key"])))
    _ok(_mppoci(publisher["home"], "push", "acme/admin", f"{registry.host}/{REPO}:admin"))
    lock = tmp_path / "mppoci.lock"
    lock.write_text(json.dumps({"version": 1, "packages": {ref: {"digest": admin_digest}}}))
    pulled = _mppoci(publisher["consumer"], "--lock", str(lock), "pull", ref)
    assert pulled.returncode == 1
    assert f"pins {ref} to another package" in pulled.stderr
    assert "acme/admin, not acme/word-count" in pulled.stderr
    listed = json.loads(_ok(_mppoci(publisher["consumer"], "list", "--json")))
    assert listed == []  # nothing was added to the store
