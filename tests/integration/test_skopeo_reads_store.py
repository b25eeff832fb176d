"""The store is a standard OCI image layout: Debian's skopeo reads it."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CliRunner

pytestmark = pytest.mark.integration


def test_skopeo_reads_a_built_package_byte_for_byte(
    cli: CliRunner, home: Path, package_dir: Path, skopeo: str, tmp_path: Path
) -> None:
    digest = cli("build", str(package_dir)).stdout.strip()
    store = home / "data" / "store"
    raw = subprocess.run(
        [skopeo, "inspect", "--raw", f"oci:{store}:acme/word-count:1.0.0"],
        capture_output=True,
        check=True,
    ).stdout
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    manifest = json.loads(raw)
    assert manifest["artifactType"] == "application/vnd.mpp.package.v1"

    config = subprocess.run(
        [skopeo, "inspect", "--raw", "--config", f"oci:{store}:acme/word-count:1.0.0"],
        capture_output=True,
        check=True,
    ).stdout
    assert json.loads(config)["name"] == "acme/word-count"

    # A full copy into another layout keeps the digest: every blob was readable.
    copy = tmp_path / "copy"
    subprocess.run(
        [skopeo, "copy", f"oci:{store}:acme/word-count:1.0.0", f"oci:{copy}:x"],
        capture_output=True,
        check=True,
    )
    copied = json.loads((copy / "index.json").read_text())["manifests"][0]
    assert copied["digest"] == digest
