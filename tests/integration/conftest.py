"""Integration tests use the real Docker engine and Debian tools that
`make system-deps` installs. Missing ones fail the test: never skipped."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from mppoci.docker_engine import connect


@pytest.fixture(scope="session")
def docker_client() -> Any:
    return connect()


@pytest.fixture(scope="session")
def skopeo() -> str:
    path = shutil.which("skopeo")
    assert path, "skopeo is missing: run `make system-deps`"
    return path


@pytest.fixture(scope="session", autouse=True)
def runtime_images(docker_client: Any) -> None:
    """Both runtime images, built once from Debian packages when missing
    (python3 takes about a minute with debootstrap)."""
    import subprocess

    import docker.errors

    from tests.conftest import MPPOCI

    for recipe in ("busybox", "python3"):
        try:
            docker_client.images.get(f"mppoci-runtime/{recipe}:latest")
        except docker.errors.ImageNotFound:
            subprocess.run(
                [str(MPPOCI), "runtime", "build", recipe], check=True, capture_output=True
            )
