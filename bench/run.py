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


def main() -> None:
    rows = [cli_startup(), verify_large_package()]
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
