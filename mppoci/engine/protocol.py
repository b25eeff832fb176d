"""What mppoci asks of a container engine, as typed protocols.

Every call is one engine round trip unless its docstring says otherwise.
Errors: a call the engine refuses raises
:class:`~mppoci.errors.EngineRefusedError` (its ``explanation`` is the
engine's own words); creating a container from an image the engine does not
have raises :class:`~mppoci.errors.ImageMissingError`. What the transport
raises when the engine stops answering (``requests`` errors, ``OSError``)
passes through unchanged."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, Protocol

from mppoci.policy.spec import ContainerSpec


@dataclass(frozen=True, slots=True)
class Listed:
    """A container or network as the engine's list call returns it."""

    id: str
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Attached:
    """A created container's stdin, stdout and stderr, multiplexed on one
    socket. ``handle`` is what the engine's client returned: held while the
    run lasts, since dropping it may close the connection."""

    sock: socket.socket
    handle: object


class Container(Protocol):
    """One container that :meth:`Engine.create` made."""

    @property
    def id(self) -> str: ...

    def attach(self) -> Attached:
        """Attach stdin, stdout and stderr (before start, so no output is missed)."""
        ...

    def start(self) -> None: ...

    def kill(self, signal: str | None = None) -> None:
        """Send ``signal`` (the engine's default, SIGKILL, when None)."""
        ...

    def wait(self, timeout: float) -> int:
        """Wait until it stops; its exit status."""
        ...

    def state(self) -> Mapping[str, Any]:
        """The engine's ``State`` of the container (Status, ExitCode, OOMKilled...)."""
        ...

    def logs(self, *, tail: int | None = None, stderr: bool = True) -> bytes:
        """What it printed (stdout, and stderr unless told not), the last
        ``tail`` lines when set."""
        ...

    def remove(self) -> None:
        """Remove it, killing it first when it runs."""
        ...


class Engine(Protocol):
    """A connected container engine."""

    def create(self, spec: ContainerSpec) -> Container:
        """Create (not start) the container ``spec`` describes; nothing outside
        the spec reaches it. Two round trips on Docker (create, inspect)."""
        ...

    def image_id(self, ref: str) -> str | None:
        """The ID of the local image ``ref`` (a tag or an ID), None when absent."""
        ...

    def export_image(self, image_id: str) -> Iterator[bytes]:
        """The image as a ``docker save`` archive (without repository tags), in chunks."""
        ...

    def load_image(self, archive: IO[bytes]) -> None:
        """Load a ``docker save`` archive."""
        ...

    def containers(self, label: str) -> list[Listed]:
        """Every container (running or not) with ``label`` (``key`` or ``key=value``)."""
        ...

    def networks(self, label: str) -> list[Listed]:
        """Every network with ``label`` (``key`` or ``key=value``)."""
        ...

    def remove_container(self, container_id: str) -> None:
        """Remove a container, killing it first when it runs."""
        ...

    def remove_network(self, network_id: str) -> None: ...
