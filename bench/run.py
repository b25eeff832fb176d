"""mppoci benchmarks: each figure against a baseline measured in the same run.

Run with `make bench`. Prints a table of medians and ratios; asserts nothing
(speed is measured, never a test threshold). Later issues add rows.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPEAT = int(os.environ.get("MPPOCI_BENCH_REPEAT", "11"))
MPPOCI = Path(sys.executable).parent / "mppoci"


def median_seconds(action: Callable[[], object], repeat: int = REPEAT) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(argv: list[str], **kwargs: object) -> None:
    subprocess.run(argv, check=True, capture_output=True, **kwargs)  # type: ignore[call-overload]


def cli_startup() -> tuple[str, float, float]:
    ours = median_seconds(lambda: run([str(MPPOCI), "--help"]))
    base = median_seconds(lambda: run([sys.executable, "-c", "pass"]))
    return "CLI start-up: `mppoci --help` vs `python -c pass`", ours, base


def verify_large_package(size_mb: int = 50) -> tuple[str, float, float]:
    """Verification re-hashes every blob: compare with one SHA-256 pass."""
    from mppoci.manifest import RuntimeRef
    from mppoci.package.artifact import build_into_store
    from mppoci.store import Store
    from mppoci.trust.gate import check_content

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pkg"
        folder.mkdir()
        (folder / "mpp.yaml").write_text(
            "schemaVersion: 1\nname: bench/big\nversion: 1.0.0\ndescription: big\n"
            "authors: [bench]\nlicense: MIT\nruntime: busybox@sha256:" + "ab" * 32 + "\n"
            "entrypoint: [/bin/true]\nprotocol: cli\ntools: [{name: t, description: t}]\n"
        )
        (folder / "blob.bin").write_bytes(os.urandom(size_mb * 1024 * 1024))
        store = Store(Path(tmp) / "store")
        artifact, _ = build_into_store(folder, store, resolve_runtime=lambda r: RuntimeRef(r.name))
        layer = store.blob_path(artifact.content.digest)

        def one_pass() -> None:
            h = hashlib.sha256()
            with layer.open("rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)

        ours = median_seconds(lambda: check_content(store, artifact.digest), repeat=5)
        base = median_seconds(one_pass, repeat=5)
    return f"verify a {size_mb} MB package vs one SHA-256 pass over its layer", ours, base


def _mppoci(home: Path, *args: str) -> str:
    env = {**os.environ, "MPPOCI_HOME": str(home), "MPPOCI_PASSWORD": "bench"}
    done = subprocess.run([str(MPPOCI), *args], check=True, capture_output=True, text=True, env=env)
    return done.stdout.strip()


def run_vs_docker_run() -> list[tuple[str, float, float]]:
    """`mppoci run` end to end against `docker run` with the same image and flags."""
    from mppoci.api import load_verified
    from mppoci.locations import locate
    from mppoci.package.stored import resolve
    from mppoci.policy.render_docker import docker_run_argv
    from mppoci.reference import parse_local
    from mppoci.sandbox.launch import RunRequest, prepare_spec, unpack
    from mppoci.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home, folder = root / "home", root / "pkg"
        folder.mkdir()
        (folder / "mpp.yaml").write_text(
            "schemaVersion: 1\nname: bench/echo\nversion: 1.0.0\ndescription: echo\n"
            "authors: [bench]\nlicense: MIT\nruntime: busybox\n"
            "entrypoint: [/bin/sh, /pkg/run.sh]\nprotocol: cli\n"
            "tools: [{name: t, description: t, annotations: {readOnlyHint: true}}]\n"
        )
        (folder / "run.sh").write_text("echo ok\n")
        _mppoci(home, "runtime", "build", "busybox")
        _mppoci(home, "build", str(folder))
        _mppoci(home, "key", "generate", "--output-key-prefix", str(root / "k"))
        _mppoci(home, "trust", "add", str(root / "k.pub"), "--publisher", "bench")
        _mppoci(home, "sign", "bench/echo", "--key", str(root / "k.key"))
        _mppoci(home, "approve", "bench/echo", "--yes")

        locations = locate({"MPPOCI_HOME": str(home)})
        store = Store(locations.store)
        digest = resolve(store, parse_local("bench/echo"))
        package = load_verified(store, locations, digest).package
        assert package is not None
        content = root / "content"
        unpack(store, package, content)
        spec = prepare_spec(package, RunRequest(), locations, content, {})
        profile = root / "profile.json"
        profile.write_text(spec.seccomp_profile)
        docker_argv = docker_run_argv(spec, seccomp_file=str(profile))

        def in_process() -> None:
            verified = load_verified(store, locations, digest)
            assert verified.package is not None
            prepare_spec(verified.package, RunRequest(), locations, content, {})

        ours = median_seconds(lambda: _mppoci(home, "run", "bench/echo"))
        base = median_seconds(lambda: run(docker_argv, stdin=subprocess.DEVNULL))
        overhead = median_seconds(in_process)
    return [
        ("`mppoci run` vs `docker run`, same image and flags", ours, base),
        ("in-process verify + compile vs one docker run", overhead, base),
    ]


FETCH = """
import time, urllib.request
start = time.perf_counter()
urllib.request.urlopen("http://api.bench:8080/", timeout=10).read()
print(time.perf_counter() - start)
"""


def first_request_through_gateway() -> tuple[str, float, float]:
    """The first HTTP request of a tool through the egress gateway (DNS from the
    gateway, relay) against the same request made directly on the network."""
    import docker

    client = docker.from_env()
    image = "mppoci-runtime/python3:latest"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home, folder = root / "home", root / "pkg"
        folder.mkdir()
        (folder / "mpp.yaml").write_text(
            "schemaVersion: 1\nname: bench/fetch\nversion: 1.0.0\ndescription: fetch\n"
            "authors: [bench]\nlicense: MIT\nruntime: python3\n"
            "entrypoint: [python3, /pkg/fetch.py]\nprotocol: cli\n"
            "tools: [{name: t, description: t, annotations: {readOnlyHint: true}}]\n"
            "permissions: {network: {egress: [{host: api.bench, port: 8080, why: bench}]}}\n"
        )
        (folder / "fetch.py").write_text(FETCH)
        _mppoci(home, "runtime", "build", "python3")
        network = client.networks.create(f"mppoci-bench-{os.getpid()}", driver="bridge")
        server = client.containers.run(
            image,
            ["python3", "-m", "http.server", "8080"],
            detach=True,
            user="65534:65534",
            network=network.name,
        )
        try:
            network.disconnect(server)
            network.connect(server, aliases=["api.bench"])
            time.sleep(1)
            _mppoci(home, "build", str(folder))
            _mppoci(home, "key", "generate", "--output-key-prefix", str(root / "k"))
            _mppoci(home, "trust", "add", str(root / "k.pub"), "--publisher", "bench")
            _mppoci(home, "sign", "bench/fetch", "--key", str(root / "k.key"))
            _mppoci(home, "approve", "bench/fetch", "--yes")
            env = {**os.environ, "MPPOCI_HOME": str(home), "MPPOCI_EGRESS_NETWORK": network.name}
            through, direct = [], []
            for _ in range(max(3, REPEAT // 2)):
                out = subprocess.run(
                    [str(MPPOCI), "run", "bench/fetch"],
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                    stdin=subprocess.DEVNULL,
                ).stdout
                through.append(float(out.strip()))
                raw = client.containers.run(
                    image, ["python3", "-c", FETCH], network=network.name, remove=True
                )
                direct.append(float(raw.decode().strip()))
        finally:
            server.remove(force=True)
            network.remove()
    return (
        "first HTTP request through the egress gateway vs direct",
        statistics.median(through),
        statistics.median(direct),
    )


def main() -> None:
    rows = [
        cli_startup(),
        verify_large_package(),
        *run_vs_docker_run(),
        first_request_through_gateway(),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'mppoci':>10}  {'baseline':>10}  {'ratio':>6}")
    for name, ours, base in rows:
        print(f"{name:<{width}}  {ours * 1000:8.1f}ms  {base * 1000:8.1f}ms  {ours / base:6.2f}")
    print(
        f"\nmedians of {REPEAT} runs (5 for verification); machine: {os.uname().machine}, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )


if __name__ == "__main__":
    main()
