"""Runtime images are built locally from Debian packages and pinned by image ID."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PINNED_RUNTIME, SAMPLE_MANIFEST, CliRunner, write_package

pytestmark = pytest.mark.integration


def test_busybox_runtime_is_reproducible_and_runs_as_nobody(
    cli: CliRunner, docker_client: Any
) -> None:
    first = cli("runtime", "build", "busybox")
    assert first.returncode == 0, first.stderr
    second = cli("runtime", "build", "busybox")
    image_id = first.stdout.strip()
    assert image_id.startswith("sha256:")
    assert second.stdout.strip() == image_id
    assert docker_client.images.get("mppoci-runtime/busybox:latest").id == image_id
    out = docker_client.containers.run(image_id, ["id", "-u"], remove=True)
    assert out.strip() == b"65534"


def test_build_pins_a_recipe_name_to_the_local_image_id(
    cli: CliRunner, tmp_path: Path, docker_client: Any
) -> None:
    assert cli("runtime", "build", "busybox").returncode == 0
    image_id = docker_client.images.get("mppoci-runtime/busybox:latest").id
    folder = write_package(tmp_path / "p", SAMPLE_MANIFEST.replace(PINNED_RUNTIME, "busybox"))
    result = cli("build", str(folder))
    assert result.returncode == 0, result.stderr
    shown = json.loads(cli("inspect", result.stdout.strip(), "--json").stdout)
    assert shown["runtime"] == f"busybox@{image_id}"
    assert shown["manifest"]["runtime"] == f"busybox@{image_id}"
    listed = json.loads(cli("runtime", "list", "--json").stdout)
    assert {"name": "busybox", "imageId": image_id}.items() <= next(
        r for r in listed if r["name"] == "busybox"
    ).items()


def test_unknown_runtime_name_is_a_clear_error(cli: CliRunner, tmp_path: Path) -> None:
    folder = write_package(tmp_path / "p", SAMPLE_MANIFEST.replace(PINNED_RUNTIME, "nosuch"))
    result = cli("build", str(folder))
    assert result.returncode == 1
    assert "there is no runtime recipe named 'nosuch'" in result.stderr
    assert "busybox" in result.stderr  # the hint lists the recipes there are
