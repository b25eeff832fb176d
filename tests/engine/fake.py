"""An engine that implements mppoci's Engine protocol in memory, and fails
where a test tells it to."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from mppoci.engine.protocol import Attached, Container, Engine, Listed
from mppoci.policy.spec import ContainerSpec


@dataclass
class FakeContainer:
    engine: FakeEngine
    spec: ContainerSpec
    id: str
    removed: bool = False

    def _call(self, name: str) -> None:
        self.engine.calls.append(name)
        failure = self.engine.fail.get(name)
        if failure is not None:
            raise failure

    def attach(self) -> Attached:
        self._call("attach")
        ours, theirs = socket.socketpair()
        theirs.close()  # the "tool" prints nothing and exits
        return Attached(ours, None)

    def start(self) -> None:
        self._call("start")

    def kill(self, signal: str | None = None) -> None:
        self._call("kill")

    def wait(self, timeout: float) -> int:
        self._call("wait")
        return 0

    def state(self) -> Mapping[str, Any]:
        self._call("state")
        return {"Status": "exited", "ExitCode": 0, "OOMKilled": False}

    def logs(self, *, tail: int | None = None, stderr: bool = True) -> bytes:
        self._call("logs")
        return b""

    def remove(self) -> None:
        self._call("remove")
        self.removed = True


@dataclass
class FakeEngine:
    fail: dict[str, Exception] = field(default_factory=dict)  # call name -> what it raises
    created: list[FakeContainer] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def create(self, spec: ContainerSpec) -> Container:
        self.calls.append("create")
        failure = self.fail.get("create")
        if failure is not None:
            raise failure
        container = FakeContainer(self, spec, f"c{len(self.created)}")
        self.created.append(container)
        return container

    def image_id(self, ref: str) -> str | None:
        self.calls.append("image_id")
        return ref

    def export_image(self, image_id: str) -> Iterator[bytes]:
        yield b""

    def load_image(self, archive: IO[bytes]) -> None:
        self.calls.append("load_image")

    def containers(self, label: str) -> list[Listed]:
        self.calls.append("containers")
        return []

    def networks(self, label: str) -> list[Listed]:
        self.calls.append("networks")
        return []

    def remove_container(self, container_id: str) -> None:
        self.calls.append("remove_container")

    def remove_network(self, network_id: str) -> None:
        self.calls.append("remove_network")


def _conforms(engine: FakeEngine) -> Engine:
    return engine  # mypy: FakeEngine implements the protocol
