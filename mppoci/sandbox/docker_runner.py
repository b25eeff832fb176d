"""Run one :class:`ContainerSpec` on the engine and always remove it.

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

from mppoci.engine.protocol import Container, Engine
from mppoci.errors import EngineRefusedError
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


def start_and_stream(
    container: Container,
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

    Raises EngineRefusedError ("the sandbox failed: ...")."""
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
            with contextlib.suppress(EngineRefusedError):
                container.kill()
            break
        ready, _, _ = select.select([sock], [], [], min(remaining, _POLL_SECONDS))
        if not ready:
            continue
        data = sock.recv(65536)
        if not data:
            break
        demux.feed(data)
    exit_code = container.wait(timeout=max(timeout_seconds, 30))
    duration = clock() - started
    state = container.state()
    return RunResult(
        exit_code=exit_code,
        timed_out=timed_out,
        oom_killed=bool(state.get("OOMKilled")),
        duration_seconds=duration,
    )


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
    engine: Engine,
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
        return _run(engine, spec, stdin=stdin, stdout=stdout, stderr=stderr, clock=clock)


def _run(
    engine: Engine,
    spec: ContainerSpec,
    *,
    stdin: IO[bytes] | None,
    stdout: IO[bytes],
    stderr: IO[bytes],
    clock: Callable[[], float],
) -> RunResult:
    try:
        bound = snapshot(spec)
    except ValueError as e:
        raise swapped(str(e)) from None
    container = engine.create(spec)  # ImageMissingError, EngineRefusedError
    try:
        attached = container.attach()
        # Any change refuses; the compiler has applied the never-bind list.
        why = changed(bound, ())
        if why is not None:
            raise swapped(why)
        result = start_and_stream(
            container,
            attached.sock,
            timeout_seconds=spec.timeout_seconds,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            clock=clock,
        )
        del attached  # held until the run ended
        return result
    finally:
        with signals_deferred(), contextlib.suppress(Exception):
            container.remove()
