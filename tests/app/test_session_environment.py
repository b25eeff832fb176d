"""A library host that passes ``Session.open(environ={...})`` expects the
session to read only what it passed (docs/python-api.md: "the environment it
may read (engine address, registry credentials)"): the engine address and
the egress settings come from the session's environment, never from this
process's when the host passed its own."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from mppoci.errors import RuntimeEngineError
from mppoci.sandbox.launch import RunRequest, launch


def test_a_session_with_an_empty_environ_does_not_take_docker_host_from_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docker
    import docker.errors

    from mppoci.locations import locate

    seen: list[Any] = []

    def from_env(**kwargs: Any) -> Any:
        seen.append(kwargs.get("environment"))
        raise docker.errors.DockerException("stopped here")

    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    monkeypatch.setattr(docker, "from_env", from_env)
    locations = locate({"MPPOCI_HOME": str(tmp_path / "home")})
    with pytest.raises(RuntimeEngineError):
        launch(
            None,  # type: ignore[arg-type]  # connect() comes first
            None,  # type: ignore[arg-type]
            RunRequest(),
            locations,
            stdin=None,
            stdout=io.BytesIO(),
            stderr=io.BytesIO(),
            environ={},
        )
    assert seen == [{}]
