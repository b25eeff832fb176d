"""Find which syscalls of the seccomp groups the reference workloads really need.

Run from the repository root, with the Docker engine up and the runtime images
built (``mppoci runtime build busybox`` and ``python3``)::

    .venv/bin/python seccomp/minimise.py                      # base and unix-sockets
    .venv/bin/python seccomp/minimise.py --group network      # the egress group
    .venv/bin/python seccomp/minimise.py --group base --jobs 4 --json report.json

The workloads are the ones of ``tests/integration/test_seccomp_in_docker.py``
(a Python tool, a busybox shell, a Debian shell script and, for ``network``, an
HTTP client talking to a server container on a network made for the run), each
run with the same flags as the tests. How it works:

1. Every workload must pass with the group files as they are.
2. Each unconditional name of the chosen groups is dropped alone, in parallel;
   a name whose absence breaks some workload is *needed*.
3. The needed names alone are tried. If they are not enough (two names can
   stand in for each other), the other names are dropped one at a time,
   greedily, keeping each drop that leaves every workload passing.
4. The result is re-run ``--repeat`` times, to catch a flaky pass.

It prints, per group, the names to keep, the names to drop and the names kept
under ``unexercised`` (a documented reason) that no workload needed. It never
edits the group files: copy what you accept into them by hand. Argument-
conditioned rules (``clone``, ``socket``, ``clone3``) are left as they are.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import docker  # noqa: E402

from mppoci.policy.seccomp import (  # noqa: E402
    SyscallGroup,
    compose,
    native_architecture,
    profile_text,
)
from tests.integration.test_seccomp_in_docker import (  # noqa: E402
    Sandbox,
    Workload,
    busybox_tools_workload,
    busybox_workload,
    http_client_workload,
    http_server,
    python_workload,
    shell_workload,
)

Removal = Mapping[SyscallGroup, frozenset[str]]


def _load(folder: Path, group: SyscallGroup) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((folder / f"{group.value}.json").read_text("utf-8"))
    return doc


def _native_names(folder: Path, group: SyscallGroup) -> set[str]:
    """The names a group allows outright on this machine (archSyscalls included)."""
    doc = _load(folder, group)
    return {*doc["syscalls"], *doc.get("archSyscalls", {}).get(native_architecture(), [])}


class Trials:
    """Runs every workload against the group files minus some names."""

    def __init__(self, sandbox: Sandbox, source: Path, workloads: list[Workload]) -> None:
        self.sandbox = sandbox
        self.source = source
        self.workloads = workloads
        self.runs = 0

    def passes(self, removed: Removal) -> bool:
        with tempfile.TemporaryDirectory(prefix="mppoci-seccomp-") as tmp:
            folder = Path(tmp)
            for path in self.source.glob("*.json"):
                shutil.copy(path, folder / path.name)
            for group, names in removed.items():
                doc = _load(folder, group)
                doc["syscalls"] = [n for n in doc["syscalls"] if n not in names]
                for arch, listed in doc.get("archSyscalls", {}).items():
                    doc["archSyscalls"][arch] = [n for n in listed if n not in names]
                doc["unexercised"] = {
                    k: v for k, v in doc.get("unexercised", {}).items() if k not in names
                }
                (folder / f"{group.value}.json").write_text(json.dumps(doc), "utf-8")
            for workload in self.workloads:
                self.runs += 1
                text = profile_text(compose(workload.groups, folder=folder))
                if not self.sandbox.attempt(workload, text).shows(workload):
                    return False
        return True


@contextlib.contextmanager
def _workloads(client: Any, groups: list[SyscallGroup]) -> Iterator[list[Workload]]:
    chosen = [python_workload(), busybox_workload(), busybox_tools_workload(), shell_workload()]
    with contextlib.ExitStack() as server:
        if SyscallGroup.NETWORK in groups:
            address, network = server.enter_context(http_server(client))
            chosen.append(http_client_workload(address, network))
        # Pin images by ID: a tag moved or removed by someone else mid-run would
        # otherwise read as a syscall being needed.
        yield [replace(w, image=client.images.get(w.image).id) for w in chosen]


def minimise(trials: Trials, groups: list[SyscallGroup], jobs: int) -> dict[SyscallGroup, set[str]]:
    if not trials.passes({}):
        raise SystemExit("the workloads fail with the group files as they are: fix that first")
    candidates = [(g, n) for g in groups for n in sorted(_native_names(trials.source, g))]
    print(f"step 2: dropping each of {len(candidates)} names alone", file=sys.stderr)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        alone = list(pool.map(lambda c: trials.passes({c[0]: frozenset({c[1]})}), candidates))
    needed = {c for c, ok in zip(candidates, alone, strict=True) if not ok}
    spare = [c for c in candidates if c not in needed]

    def without(drop: set[tuple[SyscallGroup, str]]) -> Removal:
        return {g: frozenset(n for gg, n in drop if gg == g) for g in groups}

    if not trials.passes(without(set(spare))):
        print("step 3: the needed names alone fail; dropping the others greedily", file=sys.stderr)
        dropped: set[tuple[SyscallGroup, str]] = set()
        for candidate in spare:
            if trials.passes(without(dropped | {candidate})):
                dropped.add(candidate)
        needed = set(candidates) - dropped
    return {g: {n for gg, n in needed if gg == g} for g in groups}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", action="append", choices=[g.value for g in SyscallGroup])
    parser.add_argument("--folder", type=Path, default=REPO / "seccomp")
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=int, default=30, help="seconds a workload may take")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    groups = [SyscallGroup(g) for g in (args.group or ["base", "unix-sockets"])]
    client = docker.from_env()  # the test helpers take docker-py's own client
    with _workloads(client, groups) as workloads:
        trials = Trials(Sandbox(client, timeout=args.timeout), args.folder, workloads)
        needed = minimise(trials, groups, args.jobs)
        unneeded = {g: frozenset(_native_names(args.folder, g) - needed[g]) for g in groups}
        stable = all(trials.passes(unneeded) for _ in range(args.repeat))
    report: dict[str, Any] = {"containerRuns": trials.runs, "stable": stable, "groups": {}}
    for g in groups:
        doc = _load(args.folder, g)
        unexercised = set(doc.get("unexercised", {}))
        report["groups"][g.value] = {
            "needed": sorted(needed[g]),
            "drop": sorted(unneeded[g] - unexercised),
            "keptUnexercised": sorted(unneeded[g] & unexercised),
            "unexercisedButNeeded": sorted(needed[g] & unexercised),
        }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", "utf-8")


if __name__ == "__main__":
    main()
