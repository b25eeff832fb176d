"""The one way mppoci connects to the Docker engine, with errors that say what to do."""

from __future__ import annotations

from typing import Any

from mppoci.errors import RuntimeEngineError

_HINT = (
    "start the Docker engine (as root: `make system-deps` installs and starts it), "
    "or point DOCKER_HOST at a running engine"
)


def connect(timeout: int = 60) -> Any:
    """Return a connected ``docker.DockerClient``.

    Raises:
        RuntimeEngineError: no engine answers.
    """
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as e:
        raise RuntimeEngineError(f"the Docker engine is not reachable: {e}", hint=_HINT) from e
    except OSError as e:  # socket errors surface raw from requests on some paths
        raise RuntimeEngineError(f"the Docker engine is not reachable: {e}", hint=_HINT) from e
    return client
