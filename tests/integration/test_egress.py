"""Network grants against an "outside world" the test builds itself: servers
in containers on a network the test created, with its own DNS server as the
gateway's upstream. Nothing is aimed at any address the test did not create."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mppoci.egress.network import EGRESS_LABEL, EgressSettings, _create_network
from tests.conftest import MPPOCI, run_mppoci
from tests.registry_fixtures import make_cert

pytestmark = pytest.mark.integration
ASSETS = Path(__file__).resolve().parents[1] / "assets" / "world"

MANIFEST = """\
schemaVersion: 1
name: acme/egress
version: 1.0.0
description: Talks to declared services only.
authors: [Ada]
license: MIT
runtime: python3
entrypoint: ["python3", "/pkg/tool.py"]
protocol: cli
tools: [{name: t, description: t, annotations: {readOnlyHint: true}}]
permissions:
  network:
    egress:
      - {host: api.test, port: 8080, why: the HTTP API}
      - {host: "*.svc.test", port: 8443, why: HTTPS services}
      - {host: db.test, port: 5432, why: a database}
  resources: {timeout: 60s}
"""


@pytest.fixture(scope="module")
def python3_runtime() -> None:
    """The gateway and the tool run on the python3 runtime (built once, ~1 min)."""
    inspect = ["docker", "image", "inspect", "mppoci-runtime/python3:latest"]
    if subprocess.run(inspect, capture_output=True, check=False).returncode != 0:
        subprocess.run(
            [str(MPPOCI), "runtime", "build", "python3"], check=True, capture_output=True
        )


@pytest.fixture(scope="module")
def world(
    docker_client: Any, python3_runtime: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("world")
    folder.chmod(0o755)
    ca = make_cert("mppoci test CA", is_ca=True)
    server = make_cert(
        "secure.svc.test", signer=ca, dns_sans=("secure.svc.test",), server_auth=True
    )
    (folder / "ca.pem").write_bytes(ca.cert_pem())
    (folder / "server.pem").write_bytes(server.cert_pem())
    (folder / "server-key.pem").write_bytes(server.key_pem())
    shutil.copy(ASSETS / "servers.py", folder / "servers.py")
    for f in folder.iterdir():
        f.chmod(0o644)
    name = f"mppoci-test-world-{secrets.token_hex(4)}"
    network = docker_client.networks.create(name, driver="bridge")
    containers = []
    try:
        roles = [
            ("http", "8080", "api.test"),
            ("https", "8443", "secure.svc.test"),
            ("echo", "5432", "db.test"),
            ("http", "8080", "other.test"),
            ("dns", "53", "dns.test"),
        ]
        for role, port, alias in roles:
            c = docker_client.containers.run(
                "mppoci-runtime/python3:latest",
                ["python3", "-u", "/world/servers.py", role, port],
                user="0:0" if role == "dns" else "65534:65534",
                detach=True,
                mounts=[
                    {"Type": "bind", "Source": str(folder), "Target": "/world", "ReadOnly": True}
                ],
                network=name,
                labels={"dev.mppoci.test": "world"},
            )
            docker_client.networks.get(name).disconnect(c)
            docker_client.networks.get(name).connect(c, aliases=[alias])
            containers.append(c)
        deadline = time.monotonic() + 30
        for c in containers:
            while b"ready" not in c.logs() and time.monotonic() < deadline:
                time.sleep(0.1)
        ips = {}
        network.reload()
        for c in containers:
            c.reload()
            ips[c.id] = c.attrs["NetworkSettings"]["Networks"][name]["IPAddress"]
        yield {
            "network": name,
            "api_ip": ips[containers[0].id],
            "dns_ip": ips[containers[4].id],
            "host_ip": network.attrs["IPAM"]["Config"][0]["Gateway"],
            "ca": str(folder / "ca.pem"),
            "dns_container": containers[4].id,
        }
    finally:
        for c in containers:
            with contextlib.suppress(Exception):
                c.remove(force=True)
        with contextlib.suppress(Exception):
            network.remove()


_mppoci = run_mppoci


@pytest.fixture(scope="module")
def package(world: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("egress")
    home, folder = root / "home", root / "pkg"
    folder.mkdir()
    (folder / "mpp.yaml").write_text(MANIFEST)
    shutil.copy(ASSETS / "tool.py", folder / "tool.py")
    shutil.copy(world["ca"], folder / "ca.pem")
    for args in (
        ("build", str(folder)),
        ("key", "generate", "--output-key-prefix", str(root / "k")),
        ("trust", "add", str(root / "k.pub"), "--publisher", "acme"),
        ("sign", "acme/egress", "--key", str(root / "k.key")),
        ("approve", "acme/egress", "--yes"),
    ):
        result = _mppoci(home, *args)
        assert result.returncode == 0, (args, result.stderr)
    return home


def _run(home: Path, world: dict[str, str], token: str) -> dict[str, str]:
    env = {"MPPOCI_EGRESS_NETWORK": world["network"], "MPPOCI_EGRESS_DNS": world["dns_ip"]}
    args = [
        f"api_ip={world['api_ip']}",
        f"host_ip={world['host_ip']}",
        f"exfil=exfil-{token}.evil.example",
        f"exfil2=exfil2-{token}.evil.example",
        f"exfil3=exfil3-{token}.evil.example",
    ]
    result = _mppoci(home, "run", "acme/egress", "--", *args, env=env)
    assert result.returncode == 0, result.stderr
    outcomes = {}
    for line in result.stdout.splitlines():
        label, _, rest = line.partition(": ")
        outcomes[label] = rest
    return outcomes


def test_declared_destinations_work_and_everything_else_is_denied(
    package: Path, world: dict[str, str], docker_client: Any
) -> None:
    token = secrets.token_hex(6)
    got = _run(package, world, token)
    assert got["declared http"].startswith("OK hello from http api.test"), got
    # The certificate of secure.test verified against the test's CA: TLS was end to end.
    assert got["declared https"].startswith("OK hello from https secure.svc.test"), got
    assert got["declared tcp"] == "OK ping", got
    for attempt in (
        "other host",
        "other port",
        "direct ip",
        "docker host",
        "dns exfiltration",
        "dns via docker's resolver",
        "dns to the world's server",
    ):
        assert got[attempt].startswith("DENIED"), (attempt, got)
    # The world's DNS server (the gateway's upstream) never saw the tool's names.
    dns_log = docker_client.containers.get(world["dns_container"]).logs().decode()
    assert token.encode().hex() not in dns_log.replace("query ", "")
    for part in ("exfil", "exfil2", "exfil3"):
        assert f"{part}-{token}".encode().hex() not in dns_log


def test_every_attempt_reaching_the_gateway_is_audited(
    package: Path, world: dict[str, str]
) -> None:
    import json

    _run(package, world, secrets.token_hex(6))
    shown = _mppoci(package, "audit", "show", "--event", "network", "--json")
    records = json.loads(shown.stdout)
    decisions = {(r["data"]["host"], r["data"]["decision"]) for r in records}
    assert ("api.test", "allowed") in decisions
    assert ("secure.svc.test", "allowed") in decisions
    assert ("other.test", "refused") in decisions  # its DNS query was refused


def test_no_network_or_container_is_left_behind(
    package: Path, world: dict[str, str], docker_client: Any
) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: _run(package, world, secrets.token_hex(4)), range(4)))
    assert docker_client.networks.list(filters={"label": EGRESS_LABEL}) == []
    assert docker_client.containers.list(all=True, filters={"label": EGRESS_LABEL}) == []


def test_many_run_networks_at_once_do_not_exhaust_dockers_address_pools(docker_client: Any) -> None:
    # Docker's default pools hold about 31 networks; mppoci draws /29s from its own.
    settings = EgressSettings()
    created = []
    try:
        for i in range(40):
            net, _ = _create_network(
                docker_client,
                f"mppoci-pool-test-{secrets.token_hex(3)}-{i}",
                settings.subnet_pool,
                {EGRESS_LABEL: "pool-test"},
            )
            created.append(net)
        subnets = {n.attrs["IPAM"]["Config"][0]["Subnet"] for n in created}
        assert len(subnets) == 40
    finally:
        for net in created:
            with contextlib.suppress(Exception):
                net.remove()
