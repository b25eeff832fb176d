"""Integration tests use the real Docker engine and Debian tools that
`make system-deps` installs. Missing ones fail the test: never skipped."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from mppoci.engine.docker_engine import DockerEngine, connect


@pytest.fixture(scope="session")
def engine() -> DockerEngine:
    """mppoci's engine, for tests that call mppoci's runner directly."""
    return connect()


@pytest.fixture(scope="session")
def docker_client(engine: DockerEngine) -> Any:
    """docker-py's own client, for tests that look at what mppoci made (the
    engine fixture first: no engine is mppoci's clear error)."""
    import docker

    return docker.from_env(timeout=60)


@pytest.fixture(scope="session")
def skopeo() -> str:
    path = shutil.which("skopeo")
    assert path, "skopeo is missing: run `make system-deps`"
    return path


@pytest.fixture(scope="session", autouse=True)
def _runtimes_built(runtime_images: None) -> None:
    """Every integration test may run a package: the runtimes exist first
    (tests/conftest.py builds them when missing)."""


@pytest.fixture(scope="session")
def node_image() -> str:
    """The node runtime (runtimes/node), built when missing: tests/conftest.py
    builds it before the first test that asks for it (about 35 s)."""
    from tests.conftest import ensure_runtime_images

    ensure_runtime_images(("node",))
    return "mppoci-runtime/node:latest"
