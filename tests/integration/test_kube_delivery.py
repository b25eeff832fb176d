"""The cluster's delivery steps, run for real: the exact commands a render
writes into the fetch Job and the tool pod's init container, against a real
registry on 127.0.0.1, with the rendered trust ConfigMap.

A cluster maps the volumes onto these folders; here they are temporary
folders, and every command runs with a fresh, empty mppoci home, as in a pod.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import (
    PINNED_RUNTIME,
    SAMPLE_MANIFEST,
    ensure_runtime_images,
    run_mppoci,
    write_package,
)
from tests.registry_fixtures import Registry

pytestmark = pytest.mark.integration

IMAGE = "registry.acme.test/mppoci/{}@sha256:" + "c" * 64


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def cluster(tmp_path: Path, registry: Registry) -> dict[str, Any]:
    """A published package and the objects rendered for it."""
    home = tmp_path / "home"
    for name in ("acme", "mallory"):
        _ok(run_mppoci(home, "key", "generate", "--output-key-prefix", str(tmp_path / name)))
    _ok(run_mppoci(home, "trust", "add", str(tmp_path / "acme.pub"), "--publisher", "acme"))
    digest = _ok(run_mppoci(home, "build", str(write_package(tmp_path / "pkg")))).strip()
    _ok(run_mppoci(home, "sign", digest, "--key", str(tmp_path / "acme.key")))
    _ok(run_mppoci(home, "approve", "acme/word-count", "--yes"))
    _ok(run_mppoci(home, "push", digest, f"{registry.host}/acme/word-count:1.0.0"))
    args = [
        "k8s", "render", "acme/word-count",
        "--from", f"{registry.host}/acme/word-count",
        "--mppoci-image", IMAGE.format("mppoci"),
        "--runtime-image", IMAGE.format("busybox"),
        "--name", "wc",
        "--offline",  # the runtime image here is a made-up name; see the runtime test below
    ]  # fmt: skip
    rendered = _ok(run_mppoci(home, *args))
    objects = list(yaml.safe_load_all(rendered))
    # The volumes of the pods, as folders.
    folders = {name: tmp_path / "volumes" / name for name in ("bundle", "trust", "out")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    trust = next(o for o in objects if o["metadata"]["name"] == "wc-trust")
    (folders["trust"] / "trust.json").write_text(trust["data"]["trust.json"])
    return {"objects": objects, "folders": folders, "digest": digest, "tmp": tmp_path}


def _job_command(objects: list[dict[str, Any]], job: str, container: str) -> list[str]:
    spec = next(o for o in objects if o["kind"] == "Job" and o["metadata"]["name"] == job)
    pod = spec["spec"]["template"]["spec"]
    found = [c for c in pod.get("initContainers", []) + pod["containers"] if c["name"] == container]
    return list(found[0]["command"])


def _in_pod(cluster: dict[str, Any], command: list[str], pod_home: str) -> Any:
    """Run a rendered command with the pod's mount points mapped to folders."""
    folders = cluster["folders"]
    mapped = []
    for arg in command[1:]:  # drop "mppoci": run_mppoci runs the console script
        for mount in ("bundle", "trust", "out"):
            arg = arg.replace(f"/{mount}/", f"{folders[mount]}/")
        mapped.append(arg)
    return run_mppoci(cluster["tmp"] / pod_home, *mapped)


def _fetch(cluster: dict[str, Any]) -> Path:
    command = _job_command(cluster["objects"], "wc-fetch", "fetch")
    _ok(_in_pod(cluster, command, "fetch-pod"))
    (bundle,) = cluster["folders"]["bundle"].iterdir()
    return bundle


def test_fetch_then_offline_unpack_delivers_the_verified_content(cluster: dict[str, Any]) -> None:
    bundle = _fetch(cluster)
    assert bundle.name == cluster["digest"].removeprefix("sha256:") + ".tar"
    result = _in_pod(cluster, _job_command(cluster["objects"], "wc", "verify"), "verify-pod")
    _ok(result)
    content = cluster["folders"]["out"] / "content"
    assert (content / "run.sh").read_text() == "#!/bin/sh\nwc -w\n"
    assert (content / "lib" / "words.txt").read_text() == "one two three\n"
    assert f"verified acme/word-count 1.0.0 ({cluster['digest']})" in result.stderr


def _rewrite_member(bundle: Path, change: Any) -> None:
    """Rewrite the bundle tar with ``change(name, data) -> data`` applied to members."""
    with tarfile.open(bundle) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar]  # type: ignore[union-attr]
    with tarfile.open(bundle, "w") as out:
        for member, data in members:
            if data is not None:
                data = change(member.name, data)
                member.size = len(data)
                out.addfile(member, io.BytesIO(data))
            else:
                out.addfile(member)


def _unpack_refused(cluster: dict[str, Any]) -> str:
    result = _in_pod(cluster, _job_command(cluster["objects"], "wc", "verify"), "verify-pod")
    assert result.returncode == 1, result.stdout
    assert not (cluster["folders"]["out"] / "content").exists()  # the tool gets nothing
    return str(result.stderr)


def test_a_tampered_layer_on_the_shared_claim_is_refused(cluster: dict[str, Any]) -> None:
    bundle = _fetch(cluster)

    def flip_layer(name: str, data: bytes) -> bytes:
        if name.startswith("blobs/sha256/") and data[:2] == b"\x1f\x8b":  # the gzip layer
            return data[:-20] + bytes([data[-20] ^ 1]) + data[-19:]
        return data

    _rewrite_member(bundle, flip_layer)
    assert "sha256" in _unpack_refused(cluster)


def test_a_package_signed_by_another_key_is_refused(cluster: dict[str, Any]) -> None:
    """Someone with write access to the claim swaps in their own signed build."""
    tmp = cluster["tmp"]
    other = tmp / "mallory-home"
    _ok(run_mppoci(other, "trust", "add", str(tmp / "mallory.pub"), "--publisher", "acme"))
    manifest = SAMPLE_MANIFEST.replace("Count words.", "Count words (trust me).")
    digest = _ok(run_mppoci(other, "build", str(write_package(tmp / "evil", manifest)))).strip()
    _ok(run_mppoci(other, "sign", digest, "--key", str(tmp / "mallory.key")))
    bundle = cluster["folders"]["bundle"] / (cluster["digest"].removeprefix("sha256:") + ".tar")
    _ok(run_mppoci(other, "save", "acme/word-count", "-o", str(bundle)))
    # Another digest entirely: refused before any signature is looked at.
    assert "does not hold the pinned package" in _unpack_refused(cluster)


def _trust_only_mallory(cluster: dict[str, Any]) -> None:
    """Replace the rendered trust policy by one trusting another key for acme/*."""
    other = cluster["tmp"] / "mallory-trust"
    _ok(
        run_mppoci(
            other, "trust", "add", str(cluster["tmp"] / "mallory.pub"), "--publisher", "acme"
        )
    )
    policy = (other / "config" / "trust.json").read_text()
    (cluster["folders"]["trust"] / "trust.json").write_text(policy)


def test_the_verify_step_checks_the_signature_offline(cluster: dict[str, Any]) -> None:
    _fetch(cluster)
    _trust_only_mallory(cluster)
    assert "no acceptable signature" in _unpack_refused(cluster)


def test_the_bundle_is_waited_for_and_a_missing_one_is_a_clear_error(
    cluster: dict[str, Any],
) -> None:
    command = _job_command(cluster["objects"], "wc", "verify")
    command[command.index("--wait") + 1] = "1"
    result = _in_pod(cluster, command, "verify-pod")
    assert result.returncode == 1
    assert "did not appear within 1 s" in result.stderr
    assert "kubectl logs job/<name>-fetch" in result.stderr


def test_fetch_refuses_a_package_its_policy_does_not_trust(cluster: dict[str, Any]) -> None:
    _trust_only_mallory(cluster)
    command = _job_command(cluster["objects"], "wc-fetch", "fetch")
    result = _in_pod(cluster, command, "fetch-pod")
    assert result.returncode == 1
    assert "no acceptable signature" in result.stderr
    assert not list(cluster["folders"]["bundle"].iterdir())  # nothing reaches the claim


@pytest.fixture(scope="session")
def mppoci_image() -> str:
    """mppoci's own image (runtimes/mppoci), built when missing (tests/conftest.py
    builds it before the first test that asks for it)."""
    ensure_runtime_images(("mppoci",))
    return "mppoci-runtime/mppoci:latest"


def test_the_verify_step_runs_in_mppocis_image_as_rendered(
    cluster: dict[str, Any], docker_client: Any, mppoci_image: str
) -> None:
    """The init container exactly as rendered: its command, environment, user,
    read-only root, no capabilities and no network, on mppoci's own image."""
    bundle = _fetch(cluster)
    bundle.chmod(0o644)  # in a pod the fetch step writes it as the same user
    pod = next(
        o for o in cluster["objects"] if o["metadata"]["name"] == "wc" and o["kind"] == "Job"
    )
    verify = pod["spec"]["template"]["spec"]["initContainers"][0]
    ctx = verify["securityContext"]
    work = cluster["tmp"] / "volumes" / "work"
    work.mkdir()
    for writable in (work, cluster["folders"]["out"]):
        writable.chmod(0o777)  # emptyDir volumes are writable by the pod's user
    paths = {**cluster["folders"], "package": cluster["folders"]["out"], "work": work}
    mounts = [
        {
            "Type": "bind",
            "Source": str(paths[m["name"]]),
            "Target": m["mountPath"],
            "ReadOnly": m.get("readOnly", False),
        }
        for m in verify["volumeMounts"]
    ]
    assert ctx["readOnlyRootFilesystem"] and ctx["capabilities"] == {"drop": ["ALL"]}
    container = docker_client.containers.run(
        mppoci_image,
        command=verify["command"],
        entrypoint=[],
        user=f"{ctx['runAsUser']}:{ctx['runAsGroup']}",
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        network_mode="none",
        environment={e["name"]: e["value"] for e in verify["env"]},
        mounts=mounts,
        mem_limit=int(verify["resources"]["limits"]["memory"]),
        detach=True,
    )
    try:
        status = container.wait(timeout=120)
        logs = container.logs().decode()
    finally:
        container.remove(force=True)
    assert status["StatusCode"] == 0, logs
    assert "verified acme/word-count 1.0.0" in logs
    content = cluster["folders"]["out"] / "content"
    assert (content / "run.sh").read_text() == "#!/bin/sh\nwc -w\n"
    assert content.stat().st_uid == 65534  # written by the pod's user, not root


def test_the_runtime_image_must_hold_the_runtime_the_package_pins(
    tmp_path: Path, registry: Registry
) -> None:
    """The cluster pulls by manifest digest; render asks the registry which image
    that is, and refuses one that is not the pinned image ID."""
    home = tmp_path / "home"
    _ok(run_mppoci(home, "key", "generate", "--output-key-prefix", str(tmp_path / "acme")))
    _ok(run_mppoci(home, "trust", "add", str(tmp_path / "acme.pub"), "--publisher", "acme"))
    manifest = SAMPLE_MANIFEST.replace(PINNED_RUNTIME, "busybox")  # pinned at build time
    digest = _ok(run_mppoci(home, "build", str(write_package(tmp_path / "pkg", manifest)))).strip()
    _ok(run_mppoci(home, "sign", digest, "--key", str(tmp_path / "acme.key")))
    _ok(run_mppoci(home, "approve", "acme/word-count", "--yes"))
    printed = {}
    for runtime in ("busybox", "python3"):
        pushed = run_mppoci(home, "runtime", "push", runtime, f"{registry.host}/mppoci/{runtime}")
        _ok(pushed)
        line = next(x for x in pushed.stderr.splitlines() if "--runtime-image" in x)
        printed[runtime] = line.split("--runtime-image ", 1)[1].strip()
    args = [
        "k8s", "render", "acme/word-count", "--from", f"{registry.host}/acme/word-count",
        "--mppoci-image", IMAGE.format("mppoci"),
    ]  # fmt: skip
    rendered = _ok(run_mppoci(home, *args, "--runtime-image", printed["busybox"]))
    tool = next(
        o
        for o in yaml.safe_load_all(rendered)
        if o["kind"] == "Job" and "fetch" not in o["metadata"]["name"]
    )
    assert tool["spec"]["template"]["spec"]["containers"][0]["image"] == printed["busybox"]
    refused = run_mppoci(home, *args, "--runtime-image", printed["python3"])
    assert refused.returncode == 1 and not refused.stdout
    assert "holds the image" in refused.stderr and "but the package pins" in refused.stderr
