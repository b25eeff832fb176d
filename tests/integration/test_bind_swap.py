"""A folder swapped between the moment mppoci checks a bind and the moment the
engine starts the container: the engine follows the path at start, so the
sandbox must not start. Real engine, a spec compiled by the real compiler."""

from __future__ import annotations

import io
import secrets
from pathlib import Path
from typing import Any

import pytest

from mppoci.digest import Digest
from mppoci.engine.protocol import Engine
from mppoci.errors import PolicyError
from mppoci.manifest import parse_source
from mppoci.policy.compiler import Bindings, compile_spec
from mppoci.policy.spec import ContainerSpec
from mppoci.sandbox.docker_runner import run_container
from tests.engine_listing import list_containers

pytestmark = pytest.mark.integration

MANIFEST = b"""\
schemaVersion: 1
name: acme/lister
version: 1.0.0
description: Lists /data.
authors: [Ada]
license: MIT
runtime: busybox
entrypoint: ["/bin/ls", "/data"]
protocol: cli
tools:
  - name: list
    description: List /data.
    annotations: {readOnlyHint: true}
permissions:
  filesystem:
    - {name: data, path: /data, access: read, why: The files to list.}
"""


def _spec(docker_client: Any, tmp_path: Path, data: Path, run_id: str) -> ContainerSpec:
    image = Digest(docker_client.images.get("mppoci-runtime/busybox:latest").id)
    content = tmp_path / "pkg"
    content.mkdir(exist_ok=True)
    return compile_spec(
        parse_source(MANIFEST).with_runtime(image),
        Digest("sha256:" + "cd" * 32),
        bindings=Bindings(mounts={"data": str(data)}),
        content_dir=str(content),
        protected=[str(tmp_path / "home")],
        run_id=run_id,
        labels={"dev.mppoci.test": "bind-swap"},
    )


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    data, other = tmp_path / "data", tmp_path / "other"
    data.mkdir()
    (data / "mine.txt").write_text("the folder the user named\n")
    other.mkdir()
    (other / "other-secret.txt").write_text("never for this tool\n")
    for folder in (tmp_path, data, other):
        folder.chmod(0o755)
    return data, other


def _leftovers(docker_client: Any, run_id: str) -> list[Any]:
    return list(list_containers(docker_client, {"label": f"dev.mppoci.run={run_id}"}))


def test_folder_swapped_for_a_symlink_after_the_check_is_not_bound(
    docker_client: Any, engine: Engine, tmp_path: Path, folders: tuple[Path, Path]
) -> None:
    data, other = folders
    control_id, run_id = secrets.token_hex(8), secrets.token_hex(8)
    out = io.BytesIO()
    control = run_container(
        engine,
        _spec(docker_client, tmp_path, data, control_id),
        stdin=None,
        stdout=out,
        stderr=io.BytesIO(),
    )
    assert (control.exit_code, out.getvalue()) == (0, b"mine.txt\n")
    spec = _spec(docker_client, tmp_path, data, run_id)  # checked: data is a real folder
    data.rename(tmp_path / "data.before")  # the attack, before the engine binds it
    data.symlink_to(other)
    out = io.BytesIO()
    with pytest.raises(PolicyError, match="changed after it was checked") as refused:
        run_container(engine, spec, stdin=None, stdout=out, stderr=io.BytesIO())
    assert f"{data} now leads to {other}" in refused.value.message
    assert b"other-secret" not in out.getvalue()
    assert _leftovers(docker_client, run_id) == [] and _leftovers(docker_client, control_id) == []


def test_unchanged_spec_still_runs(
    docker_client: Any, engine: Engine, tmp_path: Path, folders: tuple[Path, Path]
) -> None:
    data, _ = folders
    spec = _spec(docker_client, tmp_path, data, secrets.token_hex(8))
    out = io.BytesIO()
    result = run_container(engine, spec, stdin=None, stdout=out, stderr=io.BytesIO())
    assert (result.exit_code, out.getvalue()) == (0, b"mine.txt\n")


def test_content_under_a_symlinked_temporary_folder_still_runs(
    docker_client: Any, engine: Engine, tmp_path: Path, folders: tuple[Path, Path]
) -> None:
    # mppoci's own folders (content, storage) follow TMPDIR and MPPOCI_HOME,
    # which may go through a symlink: that is no swap.
    data, _ = folders
    (tmp_path / "real-tmp").mkdir()
    linked = tmp_path / "linked-tmp"
    linked.symlink_to(tmp_path / "real-tmp")
    spec = _spec(docker_client, linked, data, secrets.token_hex(8))
    assert any(m.source.startswith(str(linked)) for m in spec.mounts)
    out = io.BytesIO()
    result = run_container(engine, spec, stdin=None, stdout=out, stderr=io.BytesIO())
    assert (result.exit_code, out.getvalue()) == (0, b"mine.txt\n")
