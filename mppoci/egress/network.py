"""Per-run egress plumbing on Docker: a relay with no network but loopback
(the tool joins its namespace, so the tool has no IP route at all) and the
gateway on the outside network, joined by a Unix socket in a host folder that
only they mount. Created for one run and always removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mppoci.engine.protocol import Container, Engine
from mppoci.errors import EngineRefusedError, ImageMissingError, RuntimeEngineError
from mppoci.manifest import EgressRule
from mppoci.policy.gateway import GatewayRole, compile_gateway
from mppoci.policy.spec import ContainerSpec, Mount, MountKind, Network
from mppoci.text import terminal_safe

SCRIPTS = tuple(
    Path(__file__).with_name(n) for n in ("gateway.py", "relay.py", "addresses.py", "names.py")
)
OWNER_LABEL = "dev.mppoci.owner"
EGRESS_LABEL = "dev.mppoci.egress"
SOCKET = "/sock/gateway.sock"
_READY_TIMEOUT = 30.0
# What the Kubernetes gateway pod runs (it has no relay: the tool pod has an IP).
KUBE_GATEWAY_SCRIPTS = ("gateway.py", "addresses.py", "names.py")
# What a flood may leave in the audit log: the scripts print at most this many
# events each, then counts (see gateway.Log); this bounds what is kept here too.
MAX_RECORDED = 400
_FIB_TRIE = Path("/proc/net/fib_trie")
_IF_INET6 = Path("/proc/net/if_inet6")


@dataclass(frozen=True, slots=True)
class EgressSettings:
    """Where the gateway reaches the outside: the network it joins (Docker's
    default bridge unless set) and, optionally, the DNS server it uses."""

    outside_network: str = "bridge"
    upstream_dns: tuple[str, ...] = ()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> EgressSettings:
        return cls(
            outside_network=environ.get("MPPOCI_EGRESS_NETWORK", "bridge"),
            upstream_dns=tuple(d for d in environ.get("MPPOCI_EGRESS_DNS", "").split(",") if d),
        )


@dataclass(slots=True)
class Egress:
    relay: str  # the relay container's id: the tool joins its network namespace
    resolv_conf: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def network(self) -> str:
        return f"container:{self.relay}"


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead(owner_label: str) -> bool:
    host, _, pid = owner_label.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def sweep(engine: Engine) -> int:
    """Remove containers (tools, relays, gateways) left by mppoci processes
    that died (killed, crashed) on this host, and the per-run networks that
    versions before the relay made. Returns how many were removed.

    Uses the engine's list calls, which return labels directly: listing
    through docker-py's models would inspect each container again and fail
    when another run removes its own container meanwhile."""
    removed = 0
    try:
        containers = engine.containers(OWNER_LABEL)
        networks = engine.networks(OWNER_LABEL)
    except EngineRefusedError:
        return 0
    for entry in containers:
        if _dead(entry.labels.get(OWNER_LABEL, "")):
            with contextlib.suppress(EngineRefusedError):
                engine.remove_container(entry.id)
                removed += 1
    for entry in networks:
        if _dead(entry.labels.get(OWNER_LABEL, "")):
            with contextlib.suppress(EngineRefusedError):
                engine.remove_network(entry.id)
                removed += 1
    return removed


def kube_gateway_scripts() -> dict[str, str]:
    """The gateway's files by name, for the Kubernetes ConfigMap."""
    folder = Path(__file__).parent
    return {n: (folder / n).read_text(encoding="utf-8") for n in KUBE_GATEWAY_SCRIPTS}


def host_addresses() -> list[str]:
    """The host's own addresses (every interface, IPv4 and IPv6), which the
    gateway refuses whatever a name resolves to."""
    from mppoci.egress.addresses import local_addresses

    def read(path: Path) -> str:
        try:
            return path.read_text(encoding="ascii", errors="replace")
        except OSError:
            return ""

    return local_addresses(read(_FIB_TRIE), read(_IF_INET6))


def gateway_specs(
    image: str, folder: Path, labels: Mapping[str, str], settings: EgressSettings
) -> tuple[ContainerSpec, ContainerSpec]:
    """The gateway's and the relay's specs on Docker, for a run whose files
    are in ``folder`` (see :func:`_write_folder`). The gateway joins the
    outside network and creates the socket; the relay has no network, only
    reads the socket folder, and listens on the tool's loopback. Pure."""
    code = Mount(MountKind.BIND, str(folder / "code"), "/egress", True, "egress scripts")

    def spec(role: GatewayRole, network: Network, sock_read_only: bool) -> ContainerSpec:
        relay = role is GatewayRole.RELAY
        sock = Mount(MountKind.BIND, str(folder / "sock"), "/sock", sock_read_only, "socket")
        return compile_gateway(
            image=image,
            role=role,
            scripts="/egress",
            mounts=(code, sock),
            network=network,
            network_name=None if relay else settings.outside_network,
            dns=() if relay else settings.upstream_dns,
            labels={**labels, "dev.mppoci.role": f"egress-{role.value}"},
            listens_below_1024=relay,
        )

    return (
        spec(GatewayRole.GATEWAY, Network.OUTSIDE, sock_read_only=False),
        spec(GatewayRole.RELAY, Network.NONE, sock_read_only=True),
    )


def _write_folder(folder: Path, rules: tuple[EgressRule, ...]) -> None:
    code, sock, dns = folder / "code", folder / "sock", folder / "dns"
    for d in (code, sock, dns):
        d.mkdir()
        d.chmod(0o755)
    # The gateway (uid 65534) creates its socket here; the tool never sees this folder.
    if os.geteuid() == 0:
        os.chown(sock, 65534, 65534)
    else:
        sock.chmod(0o777)
    config = {
        "socket": SOCKET,
        "rules": [
            {"host": r.host, "port": r.port, **({"address": r.address} if r.address else {})}
            for r in rules
        ],
        "host_addresses": host_addresses(),
    }
    (code / "config.json").write_text(json.dumps(config))
    for script in SCRIPTS:
        (code / script.name).write_text(script.read_text())
    (dns / "resolv.conf").write_text("nameserver 127.0.0.1\noptions ndots:0 attempts:1 timeout:2\n")
    for f in (*code.iterdir(), *dns.iterdir()):
        f.chmod(0o644)


@contextlib.contextmanager
def egress_network(
    engine: Engine,
    *,
    rules: tuple[EgressRule, ...],
    run_id: str,
    gateway_image: str,
    settings: EgressSettings,
) -> Iterator[Egress]:
    """Start the run's gateway and relay; remove both on exit.

    Raises RuntimeEngineError."""
    sweep(engine)
    labels = {OWNER_LABEL: owner(), EGRESS_LABEL: run_id}
    started: list[Container] = []
    try:
        with tempfile.TemporaryDirectory(prefix="mppoci-egress-") as tmp:
            folder = Path(tmp)
            _write_folder(folder, rules)
            gateway_spec, relay_spec = gateway_specs(gateway_image, folder, labels, settings)
            try:
                gateway = engine.create(gateway_spec)
                started.append(gateway)
                relay = engine.create(relay_spec)
                started.append(relay)
                # Both start at once; the tool starts only when both are ready
                # (the relay reaches the gateway's socket per connection).
                gateway.start()
                relay.start()
                _wait_ready(gateway, "gateway")
                _wait_ready(relay, "relay")
            except ImageMissingError as e:
                raise RuntimeEngineError(
                    "the egress gateway runs on the python3 runtime, which is not built here",
                    hint="run `mppoci runtime build python3`",
                ) from e
            except EngineRefusedError as e:
                raise RuntimeEngineError(
                    f"the egress gateway could not start: {e.explanation}"
                ) from e
            egress = Egress(relay.id, str(folder / "dns" / "resolv.conf"))
            try:
                yield egress
            finally:
                _stop(started)
                egress.events.extend(collect_events([_log_lines(c) for c in started]))
                egress.events.extend(stopped_events([(r, _state(c)) for r, c in roles(started)]))
    finally:
        for container in reversed(started):
            with contextlib.suppress(EngineRefusedError):
                container.remove()


def _wait_ready(container: Container, role: str) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if container.state().get("Status") not in ("created", "running"):
            logs = container.logs(tail=20).decode(errors="replace")
            tail = "\n".join(terminal_safe(line) for line in logs.split("\n"))
            raise RuntimeEngineError(f"the egress {role} stopped at start:\n{tail}", multiline=True)
        if b'"kind": "ready"' in container.logs():
            return
        time.sleep(0.05)
    raise RuntimeEngineError(f"the egress {role} did not become ready in 30 s")


def _stop(containers: list[Container]) -> None:
    """SIGTERM to all (the scripts print their last counts and exit), then wait."""
    import requests

    # A wait that times out is the transport's error, not the engine's.
    errors = (EngineRefusedError, requests.exceptions.RequestException)
    for container in containers:
        with contextlib.suppress(*errors):
            container.kill(signal="SIGTERM")
    for container in containers:
        with contextlib.suppress(*errors):
            container.wait(timeout=5)


def roles(started: list[Container]) -> list[tuple[str, Container]]:
    return list(zip(("gateway", "relay"), started, strict=False))


def _state(container: Container) -> Mapping[str, Any]:
    import requests

    try:
        return container.state()
    except (EngineRefusedError, requests.exceptions.RequestException):
        return {}


def stopped_events(states: list[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One ``stopped`` event per relay or gateway that did not end by the
    SIGTERM mppoci sends at the end of a run (exit 0): OOM-killed, crashed.
    Its connections stopped then, which the audit log must say. Pure."""
    out = []
    for role, state in states:
        oom = bool(state.get("OOMKilled"))
        code = state.get("ExitCode")
        if oom or (isinstance(code, int) and code != 0):
            out.append({"kind": "stopped", "role": role, "exit_code": code, "oom_killed": oom})
    return out


def _log_lines(container: Container) -> list[bytes]:
    try:
        return list(container.logs(stderr=False).splitlines())
    except EngineRefusedError:
        return []


def collect_events(sources: list[list[bytes]]) -> list[dict[str, Any]]:
    """The audit events of a run from the relay's and the gateway's output:
    each DNS query and connection up to MAX_RECORDED, then one ``suppressed``
    event with the counts of the rest (the scripts' own last counts included).
    Pure."""
    out: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for lines in sources:
        last_summary: dict[str, int] = {}
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            kind = event.get("kind")
            if kind == "suppressed" and isinstance(event.get("counts"), dict):
                last_summary = {str(k): int(v) for k, v in event["counts"].items()}
            elif kind in ("dns", "tcp"):
                if len(out) < MAX_RECORDED:
                    out.append(event)
                else:
                    key = f"{kind} {event.get('decision')}"
                    counts[key] = counts.get(key, 0) + 1
        for key, n in last_summary.items():
            counts[key] = counts.get(key, 0) + n
    if counts:
        out.append({"kind": "suppressed", "counts": counts, "total": sum(counts.values())})
    return out
