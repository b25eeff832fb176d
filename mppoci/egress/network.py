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

from mppoci.errors import RuntimeEngineError
from mppoci.manifest import EgressRule
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


def sweep(client: Any) -> int:
    """Remove containers (tools, relays, gateways) left by mppoci processes
    that died (killed, crashed) on this host, and the per-run networks that
    versions before the relay made. Returns how many were removed.

    Uses the engine's list calls, which return labels directly: listing
    through docker-py's models would inspect each container again and fail
    when another run removes its own container meanwhile."""
    import docker.errors

    removed = 0
    try:
        containers = client.api.containers(all=True, filters={"label": OWNER_LABEL})
        networks = client.api.networks(filters={"label": OWNER_LABEL})
    except docker.errors.APIError:
        return 0
    for entry in containers:
        if _dead((entry.get("Labels") or {}).get(OWNER_LABEL, "")):
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_container(entry["Id"], force=True)
                removed += 1
    for entry in networks:
        if _dead((entry.get("Labels") or {}).get(OWNER_LABEL, "")):
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_network(entry["Id"])
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


def _locked_down(
    image: str, role: str, labels: dict[str, str], mounts: list[Any]
) -> dict[str, Any]:
    """What the relay and the gateway share: the gateway's own lock-down."""
    script = f"/egress/{role}.py"
    return {
        "image": image,
        "command": ["python3", "-u", script, "/egress/config.json"],
        "entrypoint": [],
        "user": "65534:65534",
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "mem_limit": 64 * 1024 * 1024,
        "pids_limit": 64,
        "mounts": mounts,
        "labels": {**labels, "dev.mppoci.role": f"egress-{role}"},
        # The scripts cap what they print; this bounds the host's copy anyway.
        "log_config": {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "1"}},
    }


def _bind(source: Path, target: str, read_only: bool) -> dict[str, Any]:
    return {"Type": "bind", "Source": str(source), "Target": target, "ReadOnly": read_only}


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
    client: Any,
    *,
    rules: tuple[EgressRule, ...],
    run_id: str,
    gateway_image: str,
    settings: EgressSettings,
) -> Iterator[Egress]:
    """Start the run's gateway and relay; remove both on exit.

    Raises RuntimeEngineError."""
    import docker.errors

    sweep(client)
    labels = {OWNER_LABEL: owner(), EGRESS_LABEL: run_id}
    started: list[Any] = []
    try:
        with tempfile.TemporaryDirectory(prefix="mppoci-egress-") as tmp:
            folder = Path(tmp)
            _write_folder(folder, rules)
            code = _bind(folder / "code", "/egress", True)
            try:
                gateway = client.containers.create(
                    **_locked_down(
                        gateway_image,
                        "gateway",
                        labels,
                        [code, _bind(folder / "sock", "/sock", False)],
                    ),
                    network=settings.outside_network,
                    dns=list(settings.upstream_dns) or None,
                )
                started.append(gateway)
                relay = client.containers.create(
                    **_locked_down(
                        gateway_image,
                        "relay",
                        labels,
                        [code, _bind(folder / "sock", "/sock", True)],
                    ),
                    network_mode="none",
                    # Ports below 1024 (53, 443...) without any capability.
                    sysctls={"net.ipv4.ip_unprivileged_port_start": "0"},
                )
                started.append(relay)
                # Both start at once; the tool starts only when both are ready
                # (the relay reaches the gateway's socket per connection).
                gateway.start()
                relay.start()
                _wait_ready(gateway, "gateway")
                _wait_ready(relay, "relay")
            except docker.errors.ImageNotFound as e:
                raise RuntimeEngineError(
                    "the egress gateway runs on the python3 runtime, which is not built here",
                    hint="run `mppoci runtime build python3`",
                ) from e
            except docker.errors.APIError as e:
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
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)


def _wait_ready(container: Any, role: str) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        container.reload()
        if container.status not in ("created", "running"):
            logs = container.logs(tail=20).decode(errors="replace")
            tail = "\n".join(terminal_safe(line) for line in logs.split("\n"))
            raise RuntimeEngineError(f"the egress {role} stopped at start:\n{tail}", multiline=True)
        if b'"kind": "ready"' in container.logs():
            return
        time.sleep(0.05)
    raise RuntimeEngineError(f"the egress {role} did not become ready in 30 s")


def _stop(containers: list[Any]) -> None:
    """SIGTERM to all (the scripts print their last counts and exit), then wait."""
    import docker.errors
    import requests

    errors = (docker.errors.APIError, requests.exceptions.RequestException)
    for container in containers:
        with contextlib.suppress(*errors):
            container.kill(signal="SIGTERM")
    for container in containers:
        with contextlib.suppress(*errors):
            container.wait(timeout=5)


def roles(started: list[Any]) -> list[tuple[str, Any]]:
    return list(zip(("gateway", "relay"), started, strict=False))


def _state(container: Any) -> dict[str, Any]:
    import docker.errors
    import requests

    try:
        container.reload()
    except (docker.errors.APIError, requests.exceptions.RequestException):
        return {}
    state = container.attrs.get("State")
    return state if isinstance(state, dict) else {}


def stopped_events(states: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
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


def _log_lines(container: Any) -> list[bytes]:
    import docker.errors

    try:
        return list(container.logs(stderr=False).splitlines())
    except docker.errors.APIError:
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
