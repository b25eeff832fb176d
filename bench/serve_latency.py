"""Tool-call latency of `mppoci serve`: a pool of prepared sandboxes against a
container created for every call (`--pool 0`).

Both rows go through the same MCP client session as an agent would (the SDK's
stdio client spawning `mppoci serve`), with a busybox `cli` tool, and every
call runs in a fresh container either way: the pool only moves unpacking,
compiling and `docker create` + attach off the call's path. Calls are spaced
by a short pause (an agent thinks between calls), which lets the pool refill.

    .venv/bin/python bench/serve_latency.py   # MPPOCI_BENCH_CALLS=20, MPPOCI_BENCH_PAUSE=0.3

`make bench` (bench/run.py) puts these figures in its table through measure().

Prints a table; asserts nothing (speed is measured, never a test threshold).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

CALLS = int(os.environ.get("MPPOCI_BENCH_CALLS", "20"))
PAUSE = float(os.environ.get("MPPOCI_BENCH_PAUSE", "0.3"))
MPPOCI = Path(sys.executable).parent / "mppoci"

MANIFEST = """\
schemaVersion: 1
name: bench/echo
version: 1.0.0
description: Echo the text back.
authors: [bench]
license: MIT
runtime: busybox
entrypoint: [/bin/sh, /pkg/tool.sh]
protocol: cli
tools:
  - name: say
    description: Say the text back.
    inputSchema: {type: object, properties: {text: {type: string}}, required: [text]}
    annotations: {readOnlyHint: true}
"""
TOOL_SH = """\
#!/bin/sh
input=$(cat)
printf '%s' "$(echo "$input" | sed -n 's/.*"text": *"\\([^"]*\\)".*/\\1/p')"
"""


def _mppoci(home: Path, *args: str) -> None:
    env = {**os.environ, "MPPOCI_HOME": str(home), "MPPOCI_PASSWORD": "bench"}
    subprocess.run(
        [str(MPPOCI), *args], check=True, capture_output=True, env=env, stdin=subprocess.DEVNULL
    )


def _prepare(root: Path) -> Path:
    home, folder = root / "home", root / "pkg"
    folder.mkdir()
    (folder / "mpp.yaml").write_text(MANIFEST)
    (folder / "tool.sh").write_text(TOOL_SH)
    _mppoci(home, "runtime", "build", "busybox")
    _mppoci(home, "build", str(folder))
    _mppoci(home, "key", "generate", "--output-key-prefix", str(root / "k"))
    _mppoci(home, "trust", "add", str(root / "k.pub"), "--publisher", "bench")
    _mppoci(home, "sign", "bench/echo", "--key", str(root / "k.key"))
    _mppoci(home, "approve", "bench/echo", "--yes")
    return home


async def _latencies(home: Path, pool: int) -> list[float]:
    params = StdioServerParameters(
        command=str(MPPOCI),
        args=["serve", "--pool", str(pool), "bench/echo"],
        # The SDK starts the server with a minimal environment: pass on where
        # bench/run.py keeps bytecode (see its docstring).
        env={
            "MPPOCI_HOME": str(home),
            **{k: v for k, v in os.environ.items() if k in ("PYTHONPYCACHEPREFIX", "DOCKER_HOST")},
        },
    )
    samples = []
    with open(os.devnull, "w") as quiet:
        async with (
            stdio_client(params, errlog=quiet) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            await anyio.sleep(1.0)  # let the pool fill
            await session.call_tool("say", {"text": "warm-up"})
            for i in range(CALLS):
                await anyio.sleep(PAUSE)
                start = time.perf_counter()
                result = await session.call_tool("say", {"text": f"call {i}"})
                samples.append(time.perf_counter() - start)
                assert not result.is_error, result
    return samples


def _p(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def measure() -> tuple[list[float], list[float]]:
    """Latencies (seconds) of CALLS tool calls: with a pool of 2, then with none."""
    with tempfile.TemporaryDirectory() as tmp:
        home = _prepare(Path(tmp))
        pooled = anyio.run(_latencies, home, 2)
        per_call = anyio.run(_latencies, home, 0)
    return pooled, per_call


def percentile(samples: list[float], q: int) -> float:
    return _p(samples, q)


def main() -> None:
    pooled, per_call = measure()
    rows = [
        ("pool of 2 prepared sandboxes (--pool 2)", pooled),
        ("a container created per call (--pool 0)", per_call),
    ]
    print(f"`mppoci serve` tool-call latency, {CALLS} calls each, {PAUSE:g} s apart (ms)")
    print(f"{'':44} {'p50':>8} {'p95':>8}")
    for label, samples in rows:
        print(f"{label:44} {_p(samples, 50) * 1000:8.1f} {_p(samples, 95) * 1000:8.1f}")
    p50 = _p(pooled, 50) / _p(per_call, 50)
    p95 = _p(pooled, 95) / _p(per_call, 95)
    print(f"{'ratio pool / per call':44} {p50:8.2f} {p95:8.2f}")


if __name__ == "__main__":
    main()
