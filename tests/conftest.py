"""Shared fixtures: an isolated mppoci home, sample packages, the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytest_plugins = ["tests.registry_fixtures"]

# A pinned runtime lets unit tests build packages without a Docker engine.
PINNED_RUNTIME = "busybox@sha256:" + "ab" * 32

SAMPLE_MANIFEST = f"""\
schemaVersion: 1
name: acme/word-count
version: 1.0.0
description: Count words.
authors: ["Ada <ada@acme.test>"]
license: Apache-2.0
runtime: {PINNED_RUNTIME}
entrypoint: ["/bin/sh", "/pkg/run.sh"]
protocol: cli
tools:
  - name: count
    description: Count the words of a text.
    annotations: {{readOnlyHint: true}}
"""

MPPOCI = Path(sys.executable).parent / "mppoci"


def write_package(folder: Path, manifest: str = SAMPLE_MANIFEST) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mpp.yaml").write_text(manifest)
    (folder / "run.sh").write_text("#!/bin/sh\nwc -w\n")
    (folder / "run.sh").chmod(0o755)
    (folder / "lib").mkdir(exist_ok=True)
    (folder / "lib" / "words.txt").write_text("one two three\n")
    return folder


@pytest.fixture
def package_dir(tmp_path: Path) -> Path:
    return write_package(tmp_path / "pkg")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "home"
    monkeypatch.setenv("MPPOCI_HOME", str(root))
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    return root


CliRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(home: Path) -> CliRunner:
    """Run the installed ``mppoci`` console script, as a user would."""

    def run(
        *args: str, env: dict[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "MPPOCI_HOME": str(home), **(env or {})}
        return subprocess.run(
            [str(MPPOCI), *args],
            capture_output=True,
            text=True,
            env=full_env,
            input=stdin,
            timeout=300,
            check=False,
        )

    return run


def run_mppoci(
    home: Path,
    *args: str,
    password: str = "pw",
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """The real console script in the mppoci home ``home``; never reads the terminal."""
    return subprocess.run(
        [str(MPPOCI), *args],
        capture_output=True,
        text=True,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        timeout=600,
        check=False,
        cwd=cwd,
        env={**os.environ, "MPPOCI_HOME": str(home), "MPPOCI_PASSWORD": password, **(env or {})},
    )
