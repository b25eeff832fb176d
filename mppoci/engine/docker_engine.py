"""The Docker engine, through docker-py: the only module of mppoci that
imports ``docker``, and the one place its errors become mppoci's.

``docker`` is imported when an engine is connected, never before, so that
commands which need no engine start without it."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator, Mapping
from typing import IO, Any

from mppoci.engine.protocol import Attached, Container, Listed
from mppoci.errors import EngineRefusedError, ImageMissingError, RuntimeEngineError
from mppoci.policy.render_docker import docker_create_kwargs
from mppoci.policy.spec import ContainerSpec

_HINT = (
    "start the Docker engine (as root: `make system-deps` installs and starts it), "
    "or point DOCKER_HOST at a running engine"
)
_SANDBOX_FAILED = "the sandbox failed"


def connect(timeout: int = 60, environ: Mapping[str, str] | None = None) -> DockerEngine:
    """Connect to the engine that DOCKER_HOST (or the default socket) names,
    in ``environ`` (default: this process's environment; a session passes
    its own, so that a host that passed none reaches the default socket).

    Raises:
        RuntimeEngineError: no engine answers.
    """
    import docker
    import docker.errors

    try:
        client = docker.from_env(
            timeout=timeout, environment=None if environ is None else dict(environ)
        )
        client.ping()
    except docker.errors.DockerException as e:
        raise RuntimeEngineError(f"the Docker engine is not reachable: {e}", hint=_HINT) from e
    except OSError as e:  # socket errors surface raw from requests on some paths
        raise RuntimeEngineError(f"the Docker engine is not reachable: {e}", hint=_HINT) from e
    return DockerEngine(client)


@contextlib.contextmanager
def _refused(what: str) -> Iterator[None]:
    """docker-py's APIError (the engine answered with an error) as EngineRefusedError."""
    import docker.errors

    try:
        yield
    except docker.errors.APIError as e:
        raise _refusal(what, e) from e


def _refusal(what: str, e: Any) -> EngineRefusedError:
    explanation = str(e.explanation)
    return EngineRefusedError(f"{what}: {explanation}", explanation=explanation)


def _listed(entries: list[dict[str, Any]]) -> list[Listed]:
    return [Listed(e["Id"], dict(e.get("Labels") or {})) for e in entries]


class DockerContainer:
    """A docker-py container model behind :class:`~mppoci.engine.protocol.Container`."""

    def __init__(self, client: Any, model: Any) -> None:
        self._client = client
        self._model = model

    @property
    def id(self) -> str:
        return str(self._model.id)

    def attach(self) -> Attached:
        with _refused(_SANDBOX_FAILED):
            handle = self._client.api.attach_socket(
                self.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
        sock = getattr(handle, "_sock", handle)
        if not isinstance(sock, socket.socket):
            raise RuntimeEngineError("the Docker engine gave no socket to attach to the sandbox")
        return Attached(sock, handle)

    def start(self) -> None:
        with _refused(_SANDBOX_FAILED):
            self._model.start()

    def kill(self, signal: str | None = None) -> None:
        with _refused(_SANDBOX_FAILED):
            self._model.kill(signal=signal)

    def wait(self, timeout: float) -> int:
        with _refused(_SANDBOX_FAILED):
            status = self._model.wait(timeout=timeout)
        return int(status.get("StatusCode", 1))

    def state(self) -> Mapping[str, Any]:
        with _refused(_SANDBOX_FAILED):
            state = self._client.api.inspect_container(self.id).get("State")
        return state if isinstance(state, dict) else {}

    def logs(self, *, tail: int | None = None, stderr: bool = True) -> bytes:
        with _refused(_SANDBOX_FAILED):
            out = self._model.logs(stderr=stderr, tail="all" if tail is None else tail)
        return bytes(out)

    def remove(self) -> None:
        with _refused(_SANDBOX_FAILED):
            self._model.remove(force=True)


class DockerEngine:
    """A connected docker-py client behind :class:`~mppoci.engine.protocol.Engine`."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def create(self, spec: ContainerSpec) -> Container:
        import docker.errors

        kwargs = docker_create_kwargs(spec)
        try:
            model = self._client.containers.create(**kwargs)
        except docker.errors.ImageNotFound as e:
            raise ImageMissingError(spec.image) from e
        except docker.errors.APIError as e:
            raise _refusal("Docker refused to create the sandbox", e) from e
        return DockerContainer(self._client, model)

    def image_id(self, ref: str) -> str | None:
        import docker.errors

        try:
            return str(self._client.images.get(ref).id)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as e:
            raise _refusal("the Docker engine refused to look up an image", e) from e

    def export_image(self, image_id: str) -> Iterator[bytes]:
        with _refused("the Docker engine refused to export an image"):
            yield from self._client.api.get_image(image_id)

    def load_image(self, archive: IO[bytes]) -> None:
        with _refused("Docker refused the runtime image"):
            for _ in self._client.api.load_image(archive):
                pass

    def containers(self, label: str) -> list[Listed]:
        with _refused("the Docker engine refused to list containers"):
            return _listed(self._client.api.containers(all=True, filters={"label": label}))

    def networks(self, label: str) -> list[Listed]:
        with _refused("the Docker engine refused to list networks"):
            return _listed(self._client.api.networks(filters={"label": label}))

    def remove_container(self, container_id: str) -> None:
        with _refused("the Docker engine refused to remove a container"):
            self._client.api.remove_container(container_id, force=True)

    def remove_network(self, network_id: str) -> None:
        with _refused("the Docker engine refused to remove a network"):
            self._client.api.remove_network(network_id)
