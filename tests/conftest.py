"""Shared fixtures: an isolated mppoci home, sample packages, the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.registry_fixtures"]

# --- property-based fuzzing: one budget, set here ------------------------------------------
# Every hypothesis test takes its number of examples from the profile named by
# HYPOTHESIS_PROFILE: "default" keeps `make test` bounded, "fuzz" (`make fuzz`)
# runs FUZZ_SCALE times as many. Tests never hard-code max_examples.
BOUNDED_EXAMPLES = 100
FUZZ_SCALE = 40
# Per-test hang guard for the long run (pytest-timeout), instead of the suite's 300 s.
FUZZ_TIMEOUT = 3600
# The bounded run is derandomized: `make test` explores the same inputs every
# time, so CI never fails on a fresh draw; `make fuzz` draws new ones each run.
for _name, _examples in (("default", BOUNDED_EXAMPLES), ("fuzz", BOUNDED_EXAMPLES * FUZZ_SCALE)):
    settings.register_profile(
        _name,
        max_examples=_examples,
        derandomize=_name == "default",
        # Parsers of hostile input may legitimately take a while on one input
        # (scrypt, fsync); a hang is caught by pytest-timeout, not by a deadline.
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fuzz: property-based fuzzing of a parser of outside input (budget: HYPOTHESIS_PROFILE)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if settings.default.max_examples <= BOUNDED_EXAMPLES:
        return
    for item in items:
        if item.get_closest_marker("fuzz") is not None:
            # Inserted first, so it wins over a module's own (bounded-run) timeout.
            item.add_marker(pytest.mark.timeout(FUZZ_TIMEOUT), append=False)


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

RUNTIME_RECIPES = ("busybox", "python3")


def ensure_runtime_images(recipes: tuple[str, ...] = RUNTIME_RECIPES) -> None:
    """The runtime images engine tests run on, built from Debian packages when
    the engine lacks them (python3 takes about a minute with debootstrap),
    whatever ran before: no test relies on `make demo` or an earlier test."""
    from mppoci.engine.docker_engine import connect

    engine = connect()
    for recipe in recipes:
        if engine.image_id(f"mppoci-runtime/{recipe}:latest") is None:
            built = subprocess.run(
                [str(MPPOCI), "runtime", "build", recipe],
                capture_output=True,
                text=True,
                check=False,
                timeout=900,
            )
            assert built.returncode == 0, f"runtime build {recipe} failed:\n{built.stderr}"


def pytest_collection_finish(session: pytest.Session) -> None:
    # Built once before the first test when engine tests were selected, so the
    # minutes of debootstrap never count against one test's hang guard.
    if session.config.option.collectonly:
        return
    items = session.items
    recipes = RUNTIME_RECIPES if any(i.get_closest_marker("integration") for i in items) else ()
    if any("mppoci_image" in getattr(i, "fixturenames", ()) for i in items):
        recipes += ("mppoci",)
    if any("node_image" in getattr(i, "fixturenames", ()) for i in items):
        recipes += ("node",)
    if recipes:
        ensure_runtime_images(recipes)


@pytest.fixture(scope="session")
def runtime_images() -> None:
    """For a test that needs the runtimes outside the `integration` marker."""
    ensure_runtime_images()


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
