"""Per-run network plumbing on Docker: an internal network with no route out,
and the gateway container, created for one run and always removed.

Subnets are small (/29) and drawn at random from a pool that is ours
(MPPOCI_EGRESS_SUBNETS, default 10.213.0.0/16), so many concurrent runs never
exhaust Docker's default address pools (about 31 networks).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mppoci.errors import RuntimeEngineError
from mppoci.manifest import EgressRule

DEFAULT_POOL = "10.213.0.0/16"
GATEWAY_SCRIPT = Path(__file__).with_name("gateway.py")
OWNER_LABEL = "dev.mppoci.owner"
EGRESS_LABEL = "dev.mppoci.egress"
_READY_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class EgressSettings:
    """Where the gateway reaches the outside: the network it joins (Docker's
    default bridge unless set) and, optionally, the DNS server it uses."""

    outside_network: str = "bridge"
    upstream_dns: tuple[str, ...] = ()
    subnet_pool: str = DEFAULT_POOL

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> EgressSettings:
        return cls(
            outside_network=environ.get("MPPOCI_EGRESS_NETWORK", "bridge"),
            upstream_dns=tuple(d for d in environ.get("MPPOCI_EGRESS_DNS", "").split(",") if d),
            subnet_pool=environ.get("MPPOCI_EGRESS_SUBNETS", DEFAULT_POOL),
        )


@dataclass(slots=True)
class Egress:
    network: str
    gateway_ip: str
    resolv_conf: str
    events: list[dict[str, Any]] = field(default_factory=list)


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
    """Remove containers and networks left by mppoci processes that died
    (killed, crashed) on this host. Returns how many were removed.

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


def _create_network(client: Any, name: str, pool: str, labels: dict[str, str]) -> tuple[Any, str]:
    import docker.errors
    import docker.types

    network = ipaddress.IPv4Network(pool)
    subnets: list[ipaddress.IPv4Network] = (
        list(network.subnets(new_prefix=29)) if network.prefixlen <= 29 else [network]
    )
    for _ in range(32):
        subnet = random.choice(subnets)  # noqa: S311 (spreading, not secrecy)
        hosts = list(subnet.hosts())
        ipam = docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=str(subnet), gateway=str(hosts[0]))]
        )
        try:
            net = client.networks.create(
                name, driver="bridge", internal=True, ipam=ipam, labels=labels, check_duplicate=True
            )
        except docker.errors.APIError as e:
            if "overlap" in str(e).lower():
                continue  # another run holds that subnet: draw again
            raise RuntimeEngineError(f"Docker refused the run's network: {e.explanation}") from e
        return net, str(hosts[1])
    raise RuntimeEngineError(
        f"no free /29 subnet in {pool} after 32 tries",
        hint="set MPPOCI_EGRESS_SUBNETS to a larger private range",
    )


@contextlib.contextmanager
def egress_network(
    client: Any,
    *,
    rules: tuple[EgressRule, ...],
    run_id: str,
    gateway_image: str,
    settings: EgressSettings,
) -> Iterator[Egress]:
    """Create the run's internal network and gateway; remove both on exit."""
    import docker.errors

    sweep(client)
    labels = {OWNER_LABEL: owner(), EGRESS_LABEL: run_id}
    network, gateway_ip = _create_network(
        client, f"mppoci-run-{run_id}", settings.subnet_pool, labels
    )
    gateway = None
    try:
        with tempfile.TemporaryDirectory(prefix="mppoci-egress-") as tmp:
            folder = Path(tmp)
            folder.chmod(0o755)
            config = {"ip": gateway_ip, "rules": [{"host": r.host, "port": r.port} for r in rules]}
            (folder / "config.json").write_text(json.dumps(config))
            (folder / "gateway.py").write_text(GATEWAY_SCRIPT.read_text())
            resolv = folder / "resolv.conf"
            resolv.write_text(f"nameserver {gateway_ip}\noptions ndots:0 attempts:1 timeout:2\n")
            for f in folder.iterdir():
                f.chmod(0o644)
            try:
                gateway = client.containers.create(
                    gateway_image,
                    command=["python3", "-u", "/gateway/gateway.py", "/gateway/config.json"],
                    entrypoint=[],
                    user="65534:65534",
                    read_only=True,
                    cap_drop=["ALL"],
                    security_opt=["no-new-privileges:true"],
                    sysctls={"net.ipv4.ip_unprivileged_port_start": "0"},
                    mem_limit=64 * 1024 * 1024,
                    pids_limit=64,
                    mounts=[
                        {
                            "Type": "bind",
                            "Source": str(folder),
                            "Target": "/gateway",
                            "ReadOnly": True,
                        }
                    ],
                    network=settings.outside_network,
                    dns=list(settings.upstream_dns) or None,
                    labels={**labels, "dev.mppoci.role": "egress-gateway"},
                )
                network.connect(gateway, ipv4_address=gateway_ip)
                gateway.start()
            except docker.errors.ImageNotFound as e:
                raise RuntimeEngineError(
                    "the egress gateway runs on the python3 runtime, which is not built here",
                    hint="run `mppoci runtime build python3`",
                ) from e
            except docker.errors.APIError as e:
                raise RuntimeEngineError(
                    f"the egress gateway could not start: {e.explanation}"
                ) from e
            _wait_ready(gateway)
            egress = Egress(network.name, gateway_ip, str(resolv))
            try:
                yield egress
            finally:
                egress.events.extend(_events(gateway))
    finally:
        if gateway is not None:
            with contextlib.suppress(docker.errors.APIError):
                gateway.remove(force=True)
        with contextlib.suppress(docker.errors.APIError):
            network.remove()


def _wait_ready(gateway: Any) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        gateway.reload()
        if gateway.status not in ("created", "running"):
            tail = gateway.logs(tail=20).decode(errors="replace")
            raise RuntimeEngineError(f"the egress gateway stopped at start:\n{tail}")
        if b'"kind": "ready"' in gateway.logs():
            return
        time.sleep(0.05)
    raise RuntimeEngineError("the egress gateway did not become ready in 30 s")


def _events(gateway: Any) -> list[dict[str, Any]]:
    out = []
    for line in gateway.logs(stderr=False).splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("kind") in ("dns", "tcp"):
            out.append(event)
    return out
