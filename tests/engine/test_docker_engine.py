"""The one place docker-py's errors become mppoci's: a refusal is an
EngineRefusedError that keeps the engine's words, a missing image on create
is ImageMissingError (the one message and hint), a missing image on lookup
is None. docker-py's client is faked; no engine is needed."""

from __future__ import annotations

import io
from types import MappingProxyType
from typing import Any

import docker.errors
import pytest

from mppoci.digest import Digest
from mppoci.engine.docker_engine import DockerEngine
from mppoci.errors import EngineRefusedError, ImageMissingError, RuntimeEngineError
from mppoci.policy.spec import ContainerSpec, Network

IMAGE = "sha256:" + "a" * 64


def _spec() -> ContainerSpec:
    return ContainerSpec(
        image=IMAGE,
        argv=("/bin/true",),
        seccomp_profile="{}",
        seccomp_allowed=1,
        mounts=(),
        env=(),
        network=Network.NONE,
        memory_bytes=64 << 20,
        nano_cpus=100_000_000,
        pids_limit=8,
        timeout_seconds=5.0,
        tmp_bytes=1 << 20,
        shm_bytes=1 << 20,
        labels=MappingProxyType({}),
        package_digest=Digest("sha256:" + "b" * 64),
    )


def _api_error(kind: type[docker.errors.APIError], explanation: str) -> docker.errors.APIError:
    return kind("refused", explanation=explanation)


class _Raises:
    """Any attribute is a callable raising ``error`` (or a nested _Raises)."""

    def __init__(self, error: Exception) -> None:
        self._error = error

    def __getattr__(self, name: str) -> Any:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise self._error


def test_a_missing_image_on_create_is_image_missing_with_its_hint() -> None:
    engine = DockerEngine(_Raises(_api_error(docker.errors.ImageNotFound, "No such image")))
    with pytest.raises(ImageMissingError) as missing:
        engine.create(_spec())
    assert missing.value.message == f"the runtime image {IMAGE} is not on this machine"
    assert missing.value.hint is not None and "mppoci runtime build" in missing.value.hint


def test_a_refused_create_keeps_the_engines_words() -> None:
    engine = DockerEngine(_Raises(_api_error(docker.errors.APIError, "bad mount")))
    with pytest.raises(EngineRefusedError) as refused:
        engine.create(_spec())
    assert refused.value.message == "Docker refused to create the sandbox: bad mount"
    assert refused.value.explanation == "bad mount"
    assert not isinstance(refused.value, ImageMissingError)


def test_an_image_that_is_not_there_is_none_and_other_refusals_raise() -> None:
    assert DockerEngine(_Raises(docker.errors.ImageNotFound("gone"))).image_id("x") is None
    with pytest.raises(EngineRefusedError):
        DockerEngine(_Raises(_api_error(docker.errors.APIError, "400"))).image_id("x")


def test_a_refused_load_names_the_runtime_image() -> None:
    engine = DockerEngine(_Raises(_api_error(docker.errors.APIError, "not a tar")))
    with pytest.raises(EngineRefusedError, match=r"^Docker refused the runtime image: not a tar$"):
        engine.load_image(io.BytesIO(b""))


class _Model:
    id = "c1"

    def start(self) -> None:
        raise _api_error(docker.errors.APIError, "cannot start")


class _Client:
    def __init__(self) -> None:
        self.containers = self
        self.api = _Raises(_api_error(docker.errors.NotFound, "no such container"))

    def create(self, **kwargs: Any) -> _Model:
        assert kwargs["image"] == IMAGE
        return _Model()


def test_a_containers_refusals_say_the_sandbox_failed() -> None:
    container = DockerEngine(_Client()).create(_spec())
    with pytest.raises(EngineRefusedError, match=r"^the sandbox failed: cannot start$"):
        container.start()
    with pytest.raises(EngineRefusedError, match=r"^the sandbox failed: no such container$"):
        container.state()


def test_every_mapped_error_is_a_runtime_engine_error() -> None:
    # The CLI's exit code and serve's answers go by RuntimeEngineError.
    assert issubclass(EngineRefusedError, RuntimeEngineError)
    assert issubclass(ImageMissingError, RuntimeEngineError)
