"""The rendered egress gateway pod works as rendered: its ConfigMap files, its
command, user, read-only root, no capabilities and its sysctl, run under Docker
on a network the test creates. A client set up like the tool's pod (the
gateway as its only resolver, as the pod's dnsConfig says) reaches the declared
host and nothing else.

The Service is simulated by giving the gateway container the Service address:
on a cluster kube-proxy forwards that address to the gateway pod."""

from __future__ import annotations

import contextlib
import json
import random
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PINNED_RUNTIME
from tests.engine_listing import list_containers
from tests.kube.helpers import render_pure

pytestmark = pytest.mark.integration
WORLD = Path(__file__).resolve().parents[1] / "assets" / "world"
PYTHON3 = "mppoci-runtime/python3:latest"

MANIFEST = f"""\
schemaVersion: 1
name: acme/caller
version: 1.0.0
description: d
authors: [Ada]
license: MIT
runtime: {PINNED_RUNTIME}
entrypoint: ["/bin/true"]
protocol: cli
tools: [{{name: t, description: t}}]
permissions:
  network:
    egress:
      - {{host: api.test, port: 8080, why: the API, address: 10.214.0.0/16}}
      - {{host: "*.svc.test", port: 8080, why: services, address: 10.214.0.0/16}}
"""
# The test's servers live on a private network (10.214.x.0/24): the gateway
# refuses private addresses unless the entry declares them.

CLIENT = """
import json, socket, sys
out = {}
def resolve(name):
    try:
        return socket.gethostbyname(name)
    except OSError as e:
        return "error: " + type(e).__name__
def get(ip, host):
    try:
        with socket.create_connection((ip, 8080), timeout=5) as s:
            s.sendall(f"GET / HTTP/1.0\\r\\nHost: {host}\\r\\n\\r\\n".encode())
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            return data.decode(errors="replace").split("\\r\\n\\r\\n", 1)[-1]
    except OSError as e:
        return "error: " + type(e).__name__
out["api"] = resolve("api.test")
out["other"] = resolve("other.test")
out["get_api"] = get(out["api"], "api.test") if not out["api"].startswith("error") else ""
out["get_other"] = get(sys.argv[1], "other.test")
print(json.dumps(out))
"""


def _wait_logs(container: Any, text: bytes) -> None:
    deadline = time.monotonic() + 30
    while text not in container.logs():
        container.reload()
        assert container.status in ("created", "running"), container.logs().decode()
        assert time.monotonic() < deadline, container.logs().decode()
        time.sleep(0.1)


@pytest.fixture
def network(docker_client: Any) -> Iterator[tuple[str, str]]:
    """A network with a subnet of its own; (name, the address the gateway gets)."""
    import docker.errors
    import docker.types

    name = f"mppoci-test-kgw-{secrets.token_hex(4)}"
    # Any free /24 of 10.214.20-219 (a leftover or another network may hold one).
    thirds = list(range(20, 220))
    random.shuffle(thirds)
    for third in thirds:
        pool = docker.types.IPAMPool(subnet=f"10.214.{third}.0/24", gateway=f"10.214.{third}.1")
        try:
            docker_client.networks.create(
                name, driver="bridge", ipam=docker.types.IPAMConfig(pool_configs=[pool])
            )
            break
        except docker.errors.APIError as e:
            if "overlap" not in str(e).lower():
                raise
    else:
        pytest.fail("no free /24 in 10.214.20.0-10.214.219.0 for the test network")
    try:
        yield name, f"10.214.{third}.53"
    finally:
        for c in list_containers(docker_client, {"network": name}):
            with contextlib.suppress(Exception):
                c.remove(force=True)
        with contextlib.suppress(Exception):
            docker_client.networks.get(name).remove()


def _rendered(gateway_ip: str) -> list[dict[str, Any]]:
    return render_pure(MANIFEST, name="gw", gateway_ip=gateway_ip)


def test_the_rendered_gateway_relays_declared_hosts_only(
    docker_client: Any, network: tuple[str, str], tmp_path: Path
) -> None:
    name, gateway_ip = network
    world = tmp_path / "world"
    world.mkdir()
    shutil.copy(WORLD / "servers.py", world / "servers.py")
    gateway, dns = _start_gateway(docker_client, name, gateway_ip, tmp_path)
    for folder in (world, tmp_path):
        folder.chmod(0o755)
        for f in folder.iterdir():
            f.chmod(0o755 if f.is_dir() else 0o644)

    for role_alias in ("api.test", "other.test"):
        server = docker_client.containers.run(
            PYTHON3,
            ["python3", "-u", "/world/servers.py", "http", "8080"],
            user="65534:65534",
            detach=True,
            network=name,
            mounts=[{"Type": "bind", "Source": str(world), "Target": "/world", "ReadOnly": True}],
        )
        docker_client.networks.get(name).disconnect(server)
        docker_client.networks.get(name).connect(server, aliases=[role_alias])
        _wait_logs(server, b"ready")

    out = _run_client(docker_client, name, gateway_ip, tmp_path, dns, CLIENT)
    assert out["api"] == gateway_ip  # a declared name resolves to the gateway (the Service)
    assert out["get_api"] == "hello from http api.test"
    assert out["other"].startswith("error")  # refused, never forwarded
    # Two hosts share port 8080, so the gateway picks by the Host header: an
    # undeclared one is not relayed anywhere.
    assert "hello" not in out["get_other"]
    events = _events(gateway)
    assert any(e.get("kind") == "dns" and "other.test" in json.dumps(e) for e in events)


LOOP_CLIENT = """
import json, socket, sys
try:
    with socket.create_connection((sys.argv[1], 8080), timeout=20) as s:
        s.sendall(b"GET / HTTP/1.0\\r\\nHost: loop.svc.test\\r\\n\\r\\n")
        reply = s.recv(64)
        out = {"reply": reply.decode(errors="replace")}
except OSError as e:
    out = {"reply": "error: " + type(e).__name__}
print(json.dumps(out))
"""


def test_a_declared_name_resolving_to_the_gateways_own_address_is_refused_not_looped(
    docker_client: Any, network: tuple[str, str], tmp_path: Path
) -> None:
    """On Kubernetes the gateway listens on every declared port: a declared
    name resolving to its own address (inside the declared 10.214.0.0/16)
    made it connect to itself, again and again, until it was OOM-killed. It
    must refuse (class "gateway"), audit it, and stay up."""
    name, gateway_ip = network
    gateway, dns = _start_gateway(
        docker_client, name, gateway_ip, tmp_path, aliases=["loop.svc.test"]
    )
    tmp_path.chmod(0o755)
    out = _run_client(docker_client, name, gateway_ip, tmp_path, dns, LOOP_CLIENT)
    assert out["reply"] == "", out  # closed without a byte: refused, not relayed
    tcp = [e for e in _events(gateway) if e.get("kind") == "tcp"]
    # One connection (the client's): none from the gateway to itself.
    assert [e["client"] for e in tcp] != [] and all(e["client"] != gateway_ip for e in tcp), tcp
    (record,) = tcp
    assert record["decision"] == "denied"
    assert record["address_class"] == "gateway"
    assert record["address"] == gateway_ip
    gateway.reload()
    assert gateway.status == "running"
    assert gateway.attrs["State"]["OOMKilled"] is False


def _events(gateway: Any) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for line in gateway.logs(stderr=False).splitlines()
        if line.startswith(b"{")
    ]


def _start_gateway(
    docker_client: Any,
    name: str,
    gateway_ip: str,
    tmp_path: Path,
    aliases: list[str] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The gateway pod as rendered, at the Service address; (its container,
    the tool pod's dnsConfig)."""
    objs = _rendered(gateway_ip)
    config_map = next(
        o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "gw-gateway"
    )
    deployment = next(o for o in objs if o["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    ctx = container["securityContext"]
    tool_pod = next(o for o in objs if o["kind"] == "Job" and o["metadata"]["name"] == "gw")
    dns = tool_pod["spec"]["template"]["spec"]["dnsConfig"]

    files = tmp_path / "gateway"
    files.mkdir()
    for key, value in config_map["data"].items():
        (files / key).write_text(value)
    files.chmod(0o755)
    for f in files.iterdir():
        f.chmod(0o644)

    # The gateway pod, as rendered (its image stands for the python3 runtime).
    gateway = docker_client.containers.create(
        PYTHON3,
        command=container["command"],
        entrypoint=[],
        user=f"{ctx['runAsUser']}:{ctx['runAsGroup']}",
        read_only=ctx["readOnlyRootFilesystem"],
        cap_drop=ctx["capabilities"]["drop"],
        security_opt=["no-new-privileges:true"],
        sysctls={s["name"]: s["value"] for s in pod["securityContext"]["sysctls"]},
        mem_limit=int(container["resources"]["limits"]["memory"]),
        mounts=[{"Type": "bind", "Source": str(files), "Target": "/gateway", "ReadOnly": True}],
        network=name,
    )
    docker_client.networks.get(name).disconnect(gateway)
    docker_client.networks.get(name).connect(
        gateway, ipv4_address=gateway_ip, aliases=aliases or None
    )
    gateway.start()
    _wait_logs(gateway, b'"kind": "ready"')
    return gateway, dns


def _run_client(
    docker_client: Any,
    name: str,
    gateway_ip: str,
    tmp_path: Path,
    dns: dict[str, Any],
    script: str,
) -> dict[str, Any]:
    """``script`` run in a container set up like the tool's pod; its JSON line."""
    # A client set up like the tool's pod: the gateway is its only resolver.
    (tmp_path / "resolv.conf").write_text(
        "".join(f"nameserver {ns}\n" for ns in dns["nameservers"]) + "options ndots:0\n"
    )
    (tmp_path / "client.py").write_text(script)
    for f in ("resolv.conf", "client.py"):
        (tmp_path / f).chmod(0o644)
    client = docker_client.containers.run(
        PYTHON3,
        ["python3", "/t/client.py", gateway_ip],
        user="65534:65534",
        detach=True,
        network=name,
        mounts=[
            {"Type": "bind", "Source": str(tmp_path), "Target": "/t", "ReadOnly": True},
            {
                "Type": "bind",
                "Source": str(tmp_path / "resolv.conf"),
                "Target": "/etc/resolv.conf",
                "ReadOnly": True,
            },
        ],
    )
    assert client.wait(timeout=60)["StatusCode"] == 0, client.logs().decode()
    out: dict[str, Any] = json.loads(client.logs(stderr=False).decode().strip().splitlines()[-1])
    return out
