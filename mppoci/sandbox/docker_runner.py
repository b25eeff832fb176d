"""Run one :class:`ContainerSpec` on the Docker engine and always remove it.

stdin is streamed in (EOF closes the tool's stdin), stdout and stderr are
streamed out as they come, the wall-clock timeout is enforced here, and the
container is removed on every path out: success, failure, timeout, Ctrl-C.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from mppoci.errors import RuntimeEngineError
from mppoci.policy.render_docker import docker_create_kwargs
from mppoci.policy.spec import ContainerSpec
from mppoci.sandbox.binds import changed, snapshot, swapped
from mppoci.signals import signals_deferred, signals_raise

_HEADER = struct.Struct(">BxxxL")
_POLL_SECONDS = 0.25  # how often a running call looks at its timeout and stop flag


@dataclass(frozen=True, slots=True)
class RunResult:
    exit_code: int
    timed_out: bool
    oom_killed: bool
    duration_seconds: float
    # What the egress gateway saw (DNS queries, connections), for the audit log.
    network_events: tuple[dict[str, Any], ...] = ()


def attach(client: Any, container: Any) -> tuple[Any, socket.socket]:
    """Attach to a created container's stdin, stdout and stderr (before it starts,
    so no output is missed). Returns the attach handle, which the caller keeps
    while the run lasts (dropping it may close the connection), and its socket."""
    attached = client.api.attach_socket(
        container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
    )
    return attached, _raw_socket(attached)


def start_and_stream(
    client: Any,
    container: Any,
    sock: socket.socket,
    *,
    timeout_seconds: float,
    stdin: IO[bytes] | None,
    stdout: IO[bytes],
    stderr: IO[bytes],
    clock: Callable[[], float] = time.monotonic,
    stop: threading.Event | None = None,
) -> RunResult:
    """Start an attached container, stream stdin in and output out, enforce the
    wall-clock timeout (and ``stop``), wait, and report. The caller removes it.

    Raises docker.errors.APIError (callers turn it into RuntimeEngineError)."""
    import docker.errors

    started = clock()
    container.start()
    threading.Thread(target=_pump_stdin, args=(stdin, sock), daemon=True).start()
    demux = _Demux(stdout, stderr)
    deadline = started + timeout_seconds
    timed_out = False
    while True:
        remaining = deadline - clock()
        if remaining <= 0 or (stop is not None and stop.is_set()):
            timed_out = remaining <= 0
            with contextlib.suppress(docker.errors.APIError):
                container.kill()
            break
        ready, _, _ = select.select([sock], [], [], min(remaining, _POLL_SECONDS))
        if not ready:
            continue
        data = sock.recv(65536)
        if not data:
            break
        demux.feed(data)
    status = container.wait(timeout=max(timeout_seconds, 30))
    duration = clock() - started
    state = client.api.inspect_container(container.id)["State"]
    return RunResult(
        exit_code=int(status.get("StatusCode", 1)),
        timed_out=timed_out,
        oom_killed=bool(state.get("OOMKilled")),
        duration_seconds=duration,
    )


def _raw_socket(attached: Any) -> socket.socket:
    sock = getattr(attached, "_sock", attached)
    if not isinstance(sock, socket.socket):
        raise RuntimeEngineError("the Docker engine gave no socket to attach to the sandbox")
    return sock


def _pump_stdin(source: IO[bytes] | None, sock: socket.socket) -> None:
    try:
        if source is not None:
            while chunk := source.read(65536):
                sock.sendall(chunk)
    except OSError:
        pass  # the tool exited and closed its stdin; nothing more to send
    finally:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)


class _Demux:
    """Splits Docker's multiplexed attach stream into stdout and stderr."""

    def __init__(self, stdout: IO[bytes], stderr: IO[bytes]) -> None:
        self._buffer = b""
        self._targets = {1: stdout, 2: stderr}

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= _HEADER.size:
            stream, size = _HEADER.unpack_from(self._buffer)
            if len(self._buffer) < _HEADER.size + size:
                return
            payload = self._buffer[_HEADER.size : _HEADER.size + size]
            self._buffer = self._buffer[_HEADER.size + size :]
            target = self._targets.get(stream)
            if target is not None:
                target.write(payload)
                target.flush()


def run_container(
    client: Any,
    spec: ContainerSpec,
    *,
    stdin: IO[bytes] | None,
    stdout: IO[bytes],
    stderr: IO[bytes],
    clock: Callable[[], float] = time.monotonic,
) -> RunResult:
    """Create, attach, start, stream, wait, remove. Raises RuntimeEngineError,
    PolicyError (a bound folder changed after the spec was compiled)."""
    with signals_raise():
        return _run(client, spec, stdin=stdin, stdout=stdout, stderr=stderr, clock=clock)


def _run(
    client: Any,
    spec: ContainerSpec,
    *,
    stdin: IO[bytes] | None,
    stdout: IO[bytes],
    stderr: IO[bytes],
    clock: Callable[[], float],
) -> RunResult:
    import docker.errors

    kwargs = docker_create_kwargs(spec)
    try:
        bound = snapshot(spec)
    except ValueError as e:
        raise swapped(str(e)) from None
    try:
        container = client.containers.create(**kwargs)
    except docker.errors.ImageNotFound as e:
        raise RuntimeEngineError(
            f"the runtime image {spec.image} is not on this machine",
            hint="build it (`mppoci runtime build NAME`) or pull it by digest "
            "(`mppoci runtime pull REGISTRY/REPO@DIGEST`)",
        ) from e
    except docker.errors.APIError as e:
        raise RuntimeEngineError(f"Docker refused to create the sandbox: {e.explanation}") from e
    try:
        attached, sock = attach(client, container)
        # Any change refuses; the compiler has applied the never-bind list.
        why = changed(bound, ())
        if why is not None:
            raise swapped(why)
        result = start_and_stream(
            client,
            container,
            sock,
            timeout_seconds=spec.timeout_seconds,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            clock=clock,
        )
        del attached  # held until the run ended
        return result
    except docker.errors.APIError as e:
        raise RuntimeEngineError(f"the sandbox failed: {e.explanation}") from e
    finally:
        with signals_deferred(), contextlib.suppress(Exception):
            container.remove(force=True)
