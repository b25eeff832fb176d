"""Runtimes travel through a registry by image ID: a package pinned to an
image runs on a machine that pulls that exact image, and nothing else."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliRunner
from tests.registry_fixtures import Registry

pytestmark = pytest.mark.integration


@pytest.fixture
def test_image(docker_client: Any, tmp_path: Path, cli: CliRunner) -> Any:
    """A small image of our own (busybox runtime plus a marker file)."""
    assert cli("runtime", "build", "busybox").returncode == 0
    (tmp_path / "Dockerfile").write_text(
        "FROM mppoci-runtime/busybox:latest\nUSER 0:0\n"
        "RUN echo runtime-transfer > /marker\nUSER 65534:65534\n"
    )
    image, _ = docker_client.images.build(path=str(tmp_path), tag="mppoci-test/transfer:1", rm=True)
    yield image
    subprocess.run(["docker", "rmi", "-f", image.id], capture_output=True, check=False)


def test_runtime_round_trip_by_image_id(
    cli: CliRunner, registry: Registry, docker_client: Any, test_image: Any
) -> None:
    image_id = test_image.id
    pushed = cli("runtime", "push", image_id, f"{registry.host}/runtimes/test")
    assert pushed.returncode == 0, pushed.stderr
    docker_client.images.remove(image_id, force=True)
    pulled = cli("runtime", "pull", f"{registry.host}/runtimes/test@{image_id}")
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.strip() == image_id
    out = docker_client.containers.run(image_id, ["cat", "/marker"], remove=True)
    assert out.strip() == b"runtime-transfer"


def test_runtime_with_a_tampered_layer_is_refused(
    cli: CliRunner, registry: Registry, docker_client: Any, test_image: Any
) -> None:
    image_id = test_image.id
    assert cli("runtime", "push", image_id, f"{registry.host}/runtimes/test").returncode == 0
    layer = test_image.attrs["RootFS"]["Layers"][-1]
    data = registry.blob_data_path(layer)
    tampered = bytearray(data.read_bytes())
    tampered[700] ^= 0x01  # inside the first file's contents or header, never the zero padding
    data.write_bytes(bytes(tampered))
    docker_client.images.remove(image_id, force=True)
    pulled = cli("runtime", "pull", f"{registry.host}/runtimes/test@{image_id}")
    assert pulled.returncode == 1
    assert "does not match" in pulled.stderr
    with pytest.raises(Exception, match="No such image"):
        docker_client.images.get(image_id)
