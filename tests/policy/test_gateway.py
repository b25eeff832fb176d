"""The egress gateway's spec: the lock-down is in the spec (so both backends
render the same), and each renderer shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mppoci.egress.network import EgressSettings, gateway_specs
from mppoci.policy.gateway import (
    GATEWAY_MEMORY_BYTES,
    GATEWAY_PIDS,
    UNPRIVILEGED_PORTS,
    GatewayRole,
    compile_gateway,
)
from mppoci.policy.render_docker import docker_create_kwargs
from mppoci.policy.spec import (
    RUNTIME_DEFAULT_SECCOMP,
    ContainerSpec,
    Mount,
    MountKind,
    Network,
)
from tests.kube.helpers import render_pure
from tests.kube.test_render import BASE

IMAGE = "sha256:" + "9" * 64


def _gateway(role: GatewayRole = GatewayRole.GATEWAY) -> ContainerSpec:
    return compile_gateway(
        image=IMAGE,
        role=role,
        scripts="/egress",
        mounts=(Mount(MountKind.BIND, "/run/x/code", "/egress", True, "egress scripts"),),
        network=Network.OUTSIDE,
        network_name="bridge",
        labels={"dev.mppoci.owner": "me"},
    )


@pytest.mark.parametrize("role", list(GatewayRole))
def test_the_gateway_spec_is_locked_down(role: GatewayRole) -> None:
    spec = _gateway(role)
    assert spec.read_only_root is True
    assert spec.cap_drop == ("ALL",)
    assert spec.user == "65534:65534" and not spec.user.startswith("0")
    assert spec.seccomp_profile == RUNTIME_DEFAULT_SECCOMP  # the runtime's default, not none
    assert spec.no_new_privileges is True
    assert (spec.memory_bytes, spec.pids_limit) == (GATEWAY_MEMORY_BYTES, GATEWAY_PIDS)
    assert spec.env == () and spec.stdin is False
    assert spec.argv == ("python3", "-u", f"/egress/{role.value}.py", "/egress/config.json")
    assert all(m.read_only for m in spec.mounts)
    assert spec.sysctls == {}


def test_docker_renders_the_lockdown_with_a_bounded_log() -> None:
    kwargs = docker_create_kwargs(_gateway())
    assert kwargs["read_only"] is True and kwargs["cap_drop"] == ["ALL"]
    assert kwargs["user"] == "65534:65534"
    # Docker's default seccomp profile applies: no seccomp= option overrides it.
    assert kwargs["security_opt"] == ["no-new-privileges:true"]
    assert kwargs["mem_limit"] == kwargs["memswap_limit"] == 64 * 1024 * 1024
    assert kwargs["pids_limit"] == 64
    assert kwargs["log_config"] == {
        "Type": "json-file",
        "Config": {"max-size": "10m", "max-file": "1"},
    }
    assert kwargs["network"] == "bridge" and "network_mode" not in kwargs
    assert kwargs["stdin_open"] is False
    for absent in ("tmpfs", "shm_size", "nano_cpus", "sysctls", "dns"):
        assert absent not in kwargs


def test_the_docker_relay_has_no_network_and_listens_on_low_ports(tmp_path: Path) -> None:
    settings = EgressSettings(outside_network="egress-out", upstream_dns=("10.0.0.53",))
    gateway, relay = gateway_specs(IMAGE, tmp_path, {"k": "v"}, settings)
    g, r = docker_create_kwargs(gateway), docker_create_kwargs(relay)
    assert (g["network"], g["dns"]) == ("egress-out", ["10.0.0.53"])
    assert r["network_mode"] == "none" and "network" not in r
    assert r["sysctls"] == dict(UNPRIVILEGED_PORTS) and "sysctls" not in g
    assert g["labels"]["dev.mppoci.role"] == "egress-gateway"
    assert r["labels"]["dev.mppoci.role"] == "egress-relay"
    sock = (
        {m["Target"]: m["ReadOnly"] for m in g["mounts"]},
        {m["Target"]: m["ReadOnly"] for m in r["mounts"]},
    )
    assert sock == ({"/egress": True, "/sock": False}, {"/egress": True, "/sock": True})


def test_kubernetes_renders_the_same_lockdown() -> None:
    manifest = BASE.replace(
        "runtime:",
        "name: acme/fetcher\nprotocol: cli\npermissions:\n  network:\n    egress:\n"
        "      - {host: api.acme.test, port: 443, why: API}\nruntime:",
    )
    objs = render_pure(manifest, name="run-gw", gateway_ip="10.96.200.10")
    deployment = next(o for o in objs if o["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["python3", "-u", "/gateway/gateway.py", "/gateway/config.json"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 65534,
        "runAsGroup": 65534,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    limits = {"cpu": "250m", "memory": str(64 * 1024 * 1024)}
    assert container["resources"] == {"limits": limits, "requests": limits}
    assert pod["securityContext"]["sysctls"] == [
        {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}
    ]
    assert container["volumeMounts"] == [
        {"name": "gateway", "mountPath": "/gateway", "readOnly": True}
    ]
