"""mppoci benchmarks: each figure against a baseline measured in the same run.

Run with `make bench`. Prints one table (Markdown, ready for the README) of
medians over repeated runs, with the machine it ran on; asserts no timing
(speed is measured, never a test threshold). It does check that what it timed
worked: a row whose runs failed is reported as failed, never as a number, and
the script then exits 1.

Subprocesses get their bytecode cached in a temporary folder
(PYTHONPYCACHEPREFIX, with PYTHONDONTWRITEBYTECODE unset), as an installed
mppoci has it, so start-up is not timed as a compilation of every module.
"""

from __future__ import annotations

import hashlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import serve_latency

REPEAT = int(os.environ.get("MPPOCI_BENCH_REPEAT", "11"))
CONCURRENT = int(os.environ.get("MPPOCI_BENCH_CONCURRENT", "20"))
BATCHES = int(os.environ.get("MPPOCI_BENCH_BATCHES", "3"))
MPPOCI = Path(sys.executable).parent / "mppoci"


@dataclass(frozen=True)
class Row:
    name: str
    ours: str
    base: str
    compare: str
    reps: str
    failed: bool = False


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def ratio(ours: float, base: float) -> str:
    return f"{ours / base:.2f}x"


def timed_row(name: str, ours: float, base: float, reps: str) -> Row:
    return Row(
        name, ms(ours), ms(base), f"{ratio(ours, base)} ({(ours - base) * 1000:+.0f} ms)", reps
    )


def median_seconds(action: Callable[[], object], repeat: int = REPEAT) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(argv: list[str], **kwargs: Any) -> None:
    subprocess.run(argv, check=True, capture_output=True, stdin=subprocess.DEVNULL, **kwargs)


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    docker = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    system = platform.freedesktop_os_release().get("PRETTY_NAME", platform.system())
    return (
        f"{cpu}, {os.cpu_count()} cores, {system}, kernel {platform.release()}, "
        f"Docker {docker or 'unknown'}, Python {platform.python_version()}"
    )


# -- CLI start-up ------------------------------------------------------------


def cli_startup() -> list[Row]:
    base_argv = [sys.executable, "-c", "pass"]
    for argv in ([str(MPPOCI), "--help"], [str(MPPOCI), "--version"], base_argv):
        run(argv)  # warm-up: bytecode cache, page cache
    base = median_seconds(lambda: run(base_argv))
    helped = median_seconds(lambda: run([str(MPPOCI), "--help"]))
    version = median_seconds(lambda: run([str(MPPOCI), "--version"]))
    reps = f"median of {REPEAT}"
    return [
        timed_row("CLI start-up: `mppoci --help` vs `python -c pass`", helped, base, reps),
        timed_row("CLI start-up: `mppoci --version` vs `python -c pass`", version, base, reps),
    ]


# -- verification ------------------------------------------------------------


def verify_large_package(size_mb: int = 50) -> Row:
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
    return timed_row(
        f"verify a {size_mb} MB package vs one SHA-256 pass over its layer",
        ours,
        base,
        "median of 5",
    )


# -- runs --------------------------------------------------------------------


def _mppoci(home: Path, *args: str) -> str:
    env = {**os.environ, "MPPOCI_HOME": str(home), "MPPOCI_PASSWORD": "bench"}
    done = subprocess.run(
        [str(MPPOCI), *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    return done.stdout.strip()


@dataclass(frozen=True)
class Echo:
    """A signed, approved busybox package that prints `ok`, and the plain
    `docker run` command line with the same image and flags."""

    root: Path
    home: Path
    docker_argv: list[str]


def prepare_echo(root: Path) -> Echo:
    from mppoci.app import Session, verify_audited
    from mppoci.locations import locate
    from mppoci.package.stored import resolve
    from mppoci.policy.render_docker import docker_run_argv
    from mppoci.reference import parse_local
    from mppoci.sandbox.launch import RunRequest, prepare_spec, unpack
    from mppoci.store import Store

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
    package = verify_audited(Session(locations), digest).package
    assert package is not None
    content = root / "content"
    unpack(store, package, content)
    spec = prepare_spec(package, RunRequest(), locations, content, {})
    profile = root / "profile.json"
    profile.write_text(spec.seccomp_profile)
    return Echo(root, home, docker_run_argv(spec, seccomp_file=str(profile)))


def run_vs_docker_run(echo: Echo) -> tuple[Row, float]:
    """`mppoci run` end to end against `docker run` with the same image and flags."""
    ours = median_seconds(lambda: _mppoci(echo.home, "run", "bench/echo"))
    base = median_seconds(lambda: run(echo.docker_argv))
    row = timed_row(
        "`mppoci run` vs `docker run`, same image and flags", ours, base, f"median of {REPEAT}"
    )
    return row, base


def in_process_overhead(echo: Echo, docker_run: float) -> Row:
    """What `mppoci.api.run` adds in-process to a run: resolve, verify from the
    bytes (audited), approval, unpacking, compiling the spec and the run's
    audit record (each append fsynced). Only the engine calls are left out:
    launch() is replaced, for this measurement, by unpack + prepare_spec."""
    import mppoci.sandbox.launch as launch_module
    from mppoci import api
    from mppoci.audit.log import records
    from mppoci.locations import locate
    from mppoci.sandbox.docker_runner import RunResult

    def compile_only(store: Any, package: Any, request: Any, locations: Any, **_: Any) -> RunResult:
        with tempfile.TemporaryDirectory(prefix="mppoci-bench-") as tmp:
            content = Path(tmp) / "pkg"
            launch_module.unpack(store, package, content)
            launch_module.prepare_spec(package, request, locations, content, {})
        return RunResult(exit_code=0, timed_out=False, oom_killed=False, duration_seconds=0.0)

    locations = locate({"MPPOCI_HOME": str(echo.home)})
    lock = echo.root / "no.lock"
    before = sum(1 for r in records(locations) if r.get("event") == "run")
    real_launch = launch_module.launch
    launch_module.launch = compile_only  # type: ignore[assignment]
    try:
        api.run("bench/echo", locations=locations, lock_file=lock)  # warm-up
        ours = median_seconds(lambda: api.run("bench/echo", locations=locations, lock_file=lock))
    finally:
        launch_module.launch = real_launch
    after = sum(1 for r in records(locations) if r.get("event") == "run")
    assert after - before == REPEAT + 1, "every in-process run must be audited"
    return Row(
        "in-process verify + compile + audit (`mppoci.api.run`, engine calls left out)"
        " vs one `docker run`",
        ms(ours),
        ms(docker_run),
        ratio(ours, docker_run),
        f"median of {REPEAT}",
    )


@dataclass
class Batch:
    seconds: float
    ok: int
    problems: list[str]


def _batch(argv: list[str], env: dict[str, str]) -> Batch:
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(CONCURRENT)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    seconds = time.perf_counter() - start
    problems = [
        f"exit {p.returncode}: {(out + err).strip()[-200:]!r}"
        for p, (out, err) in zip(procs, outputs, strict=True)
        if p.returncode != 0 or out.strip() != "ok"
    ]
    return Batch(seconds, CONCURRENT - len(problems), problems)


def concurrent_runs(echo: Echo) -> tuple[Row, list[str]]:
    """CONCURRENT `mppoci run` at once against as many plain `docker run`: all
    must succeed, and the audit chain must verify afterwards."""
    from mppoci.audit.log import records
    from mppoci.locations import locate

    env = {**os.environ, "MPPOCI_HOME": str(echo.home)}
    locations = locate({"MPPOCI_HOME": str(echo.home)})
    before = [r for r in records(locations) if r.get("event") == "run"]
    ours: list[Batch] = []
    base: list[Batch] = []
    for _ in range(BATCHES):
        ours.append(_batch([str(MPPOCI), "run", "bench/echo"], env))
        base.append(_batch(echo.docker_argv, env))
    runs = [r for r in records(locations) if r.get("event") == "run"][len(before) :]
    audited = sum(
        1
        for r in runs
        if isinstance(r.get("data"), dict)
        and r["data"].get("outcome") == "exited"
        and r["data"].get("exitCode") == 0
    )
    verify = subprocess.run(
        [str(MPPOCI), "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    said = ((verify.stdout + verify.stderr).strip().splitlines() or ["(no output)"])[-1]
    said = said.split(": ", 1)[-1]  # drop the temporary log path
    total = CONCURRENT * BATCHES
    ours_ok = sum(b.ok for b in ours)
    base_ok = sum(b.ok for b in base)
    notes = [
        f"{CONCURRENT} concurrent runs: `mppoci run` {ours_ok}/{total} succeeded "
        f"(exit 0, printed ok), `docker run` {base_ok}/{total}; {audited}/{total} runs "
        f"audited as exited 0; `mppoci audit verify`: exit {verify.returncode}, {said}",
    ]
    for label, batches in (("mppoci run", ours), ("docker run", base)):
        for b in batches:
            notes += [f"  FAILED {label}: {p}" for p in b.problems[:3]]
    failed = ours_ok != total or base_ok != total or audited != total or verify.returncode != 0
    name = f"{CONCURRENT} concurrent `mppoci run` vs {CONCURRENT} concurrent `docker run`"
    reps = f"median of {BATCHES} batches"
    if failed:
        return Row(name, "FAILED", "FAILED", "see below", reps, failed=True), notes
    ours_rate = statistics.median(CONCURRENT / b.seconds for b in ours)
    base_rate = statistics.median(CONCURRENT / b.seconds for b in base)
    row = Row(
        name + " (throughput)",
        f"{ours_rate:.1f} runs/s",
        f"{base_rate:.1f} runs/s",
        ratio(ours_rate, base_rate),
        reps,
    )
    return row, notes


# -- egress gateway ----------------------------------------------------------

FETCH = """
import time, urllib.request
start = time.perf_counter()
urllib.request.urlopen("http://api.bench:8080/", timeout=10).read()
print(time.perf_counter() - start)
"""


def first_request_through_gateway() -> Row:
    """The first HTTP request of a tool through the egress gateway (DNS from the
    gateway, relay) against the same request made directly on the network."""
    import docker

    client = docker.from_env()
    image = "mppoci-runtime/python3:latest"
    repeat = max(3, REPEAT // 2)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home, folder = root / "home", root / "pkg"
        folder.mkdir()
        (folder / "fetch.py").write_text(FETCH)
        _mppoci(home, "runtime", "build", "python3")
        network = client.networks.create(f"mppoci-bench-{os.getpid()}", driver="bridge")
        network.reload()
        # The server lives on a private network: the grant says so (the
        # gateway refuses private addresses a grant does not declare).
        subnet = network.attrs["IPAM"]["Config"][0]["Subnet"]
        (folder / "mpp.yaml").write_text(
            "schemaVersion: 1\nname: bench/fetch\nversion: 1.0.0\ndescription: fetch\n"
            "authors: [bench]\nlicense: MIT\nruntime: python3\n"
            "entrypoint: [python3, /pkg/fetch.py]\nprotocol: cli\n"
            "tools: [{name: t, description: t, annotations: {readOnlyHint: true}}]\n"
            "permissions: {network: {egress: [{host: api.bench, port: 8080, "
            f"address: '{subnet}', why: bench}}]}}}}\n"
        )
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
            for _ in range(repeat):
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
    return timed_row(
        "first HTTP request through the egress gateway vs direct",
        statistics.median(through),
        statistics.median(direct),
        f"median of {repeat}",
    )


# -- MCP ---------------------------------------------------------------------


def serve_rows() -> list[Row]:
    pooled, per_call = serve_latency.measure()
    reps = f"{serve_latency.CALLS} calls, {serve_latency.PAUSE:g} s apart"
    return [
        timed_row(
            f"MCP tool call {q}: pool of prepared sandboxes vs a container per call",
            serve_latency.percentile(pooled, int(q[1:])),
            serve_latency.percentile(per_call, int(q[1:])),
            reps,
        )
        for q in ("p50", "p95")
    ]


# -- the table ---------------------------------------------------------------


def table(rows: list[Row]) -> str:
    header = ("benchmark", "mppoci", "baseline", "ratio (difference)", "repetitions")
    cells = [header] + [(r.name, r.ours, r.base, r.compare, r.reps) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = []
    for n, c in enumerate(cells):
        lines.append("| " + " | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> None:
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.monotonic()
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mppoci-bench-") as tmp:
        os.environ["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        rows += cli_startup()
        rows.append(verify_large_package())
        echo_root = Path(tmp) / "echo"
        echo_root.mkdir()
        echo = prepare_echo(echo_root)
        row, docker_run = run_vs_docker_run(echo)
        rows += [row, in_process_overhead(echo, docker_run)]
        row, more = concurrent_runs(echo)
        rows.append(row)
        notes += more
        rows += serve_rows()
        rows.append(first_request_through_gateway())
    print(table(rows))
    print()
    print(f"machine: {machine()}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; took {time.monotonic() - started:.0f} s")
    for note in notes:
        print(note)
    if any(r.failed for r in rows):
        print("some benchmarks FAILED: their figures are not reported", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
