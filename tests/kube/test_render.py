"""`mppoci k8s render`: for a table of packages, every built-in object validates
against the Kubernetes API schemas (strict, 1.30 to 1.35), every pod passes the
restricted checks, the SeccompProfile matches the operator's documented fields
and the Docker profile, and the objects carry exactly the declared grants."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate import utils as kv_utils

from mppoci.kube.restricted import all_problems
from tests.conftest import PINNED_RUNTIME, run_mppoci, write_package

KUBERNETES_VERSIONS = ["1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0", "1.35.0"]
PASSWORD = "pw"
REGISTRY = "10.20.30.40:5000"
DIGEST_IMAGE = "registry.acme.test/mppoci/{}@sha256:" + "c" * 64
RUNTIME_IMAGE = DIGEST_IMAGE.format("busybox")
MPPOCI_IMAGE = DIGEST_IMAGE.format("mppoci")
GATEWAY_IMAGE = DIGEST_IMAGE.format("python3")
GATEWAY_IP = "10.96.200.10"

# The schemas are large; kubernetes-validate re-reads them on every call.
kv_utils.schema_contents = cache(kv_utils.schema_contents)

BASE = f"""\
schemaVersion: 1
version: 1.0.0
description: A tool.
authors: [Ada]
license: MIT
runtime: {PINNED_RUNTIME}
entrypoint: ["/bin/sh", "/pkg/run.sh"]
tools: [{{name: t, description: t}}]
"""

PACKAGES: dict[str, tuple[str, list[str]]] = {
    "no-network": (
        "name: acme/offline\nprotocol: cli\n",
        [],
    ),
    "egress": (
        "name: acme/fetcher\nprotocol: cli\npermissions:\n  network:\n    egress:\n"
        "      - {host: api.acme.test, port: 443, why: API}\n"
        "      - {host: '*.cdn.acme.test', port: 443, why: files}\n"
        "      - {host: db.acme.test, port: 5432, why: data}\n",
        ["--gateway-image", GATEWAY_IMAGE, "--gateway-ip", GATEWAY_IP],
    ),
    "private": (
        "name: acme/dbclient\nprotocol: cli\npermissions:\n  network:\n    egress:\n"
        "      - {host: db.internal, port: 5432, why: data, address: 10.0.12.7}\n",
        ["--gateway-image", GATEWAY_IMAGE, "--gateway-ip", GATEWAY_IP],
    ),
    "mounts": (
        "name: acme/reader\nprotocol: cli\npermissions:\n  filesystem:\n"
        "    - {name: data, path: /data, why: input}\n"
        "    - {name: out, path: /out, access: read-write, why: output}\n"
        "  storage:\n    - {name: cache, path: /cache, size: 64Mi, why: cache}\n",
        ["--volume", "data=configmap:reader-input", "--volume", "out=pvc:reader-out"],
    ),
    "secrets": (
        "name: acme/caller\nprotocol: cli\npermissions:\n  env:\n"
        "    - {name: API_TOKEN, why: auth, secret: true, required: true}\n"
        "    - {name: REGION, why: where}\n",
        ["--secret", "API_TOKEN=caller-creds:token", "--env", "REGION=eu-west-1"],
    ),
    "mcp": (
        "name: acme/mcp-tool\nprotocol: mcp\npermissions:\n  resources:\n"
        "    memory: 128Mi\n    cpus: 0.25\n    timeout: 30s\n    tmp: 8Mi\n",
        ["--stdin"],
    ),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A home with the table's packages built, signed, trusted and approved."""
    root = tmp_path_factory.mktemp("kube")
    home = root / "home"
    ok(run_mppoci(home, "key", "generate", "--output-key-prefix", str(root / "acme")))
    ok(run_mppoci(home, "trust", "add", str(root / "acme.pub"), "--publisher", "acme"))
    digests = {}
    for case, (head, _) in PACKAGES.items():
        folder = write_package(root / case, BASE + head)
        digest = ok(run_mppoci(home, "build", str(folder))).stdout.strip()
        ok(run_mppoci(home, "sign", digest, "--key", str(root / "acme.key")))
        name = head.split("\n", 1)[0].removeprefix("name: ")
        ok(run_mppoci(home, "approve", name, "--yes"))
        digests[case] = (name, digest)
    return {"home": home, "root": root, "digests": digests}


def ok(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return result


def render(
    world: dict[str, Any],
    case: str,
    *extra: str,
    root: tuple[str, ...] = (),
    cwd: Path | None = None,
) -> Any:
    name, _ = world["digests"][case]
    return run_mppoci(
        world["home"],
        *root,
        "k8s", "render", name,
        "--from", f"{REGISTRY}/acme/{case}",
        "--mppoci-image", MPPOCI_IMAGE,
        "--runtime-image", RUNTIME_IMAGE,
        "--name", f"run-{case}",
        "--offline",
        *PACKAGES[case][1],
        *extra,
        cwd=cwd,
    )  # fmt: skip


def objects(world: dict[str, Any], case: str) -> list[dict[str, Any]]:
    key = f"objects-{case}"
    if key not in world:
        world[key] = list(yaml.safe_load_all(ok(render(world, case)).stdout))
    return world[key]


def by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def the(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name} in {[(o['kind'], o['metadata']['name']) for o in objs]}"
    return found[0]


def tool_pod(objs: list[dict[str, Any]], case: str) -> dict[str, Any]:
    return the(objs, "Job", f"run-{case}")["spec"]["template"]["spec"]


# --- schema and restricted checks for the whole table ---------------------------


@pytest.mark.parametrize("case", list(PACKAGES))
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_builtin_object_validates_strictly(
    world: dict[str, Any], case: str, version: str
) -> None:
    builtins = [o for o in objects(world, case) if o["kind"] != "SeccompProfile"]
    assert builtins
    for obj in builtins:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("case", list(PACKAGES))
def test_every_pod_passes_the_restricted_checks(world: dict[str, Any], case: str) -> None:
    objs = objects(world, case)
    assert all_problems(objs) == []
    pods = [o for o in objs if o["kind"] in ("Job", "Deployment")]
    assert len(pods) == (3 if case in ("egress", "private") else 2)  # fetch, tool (+ gateway)


@pytest.mark.parametrize("case", list(PACKAGES))
def test_the_seccomp_profile_object_has_the_operators_fields_and_the_docker_rules(
    world: dict[str, Any], case: str
) -> None:
    objs = objects(world, case)
    (profile,) = by_kind(objs, "SeccompProfile")
    assert profile["apiVersion"] == "security-profiles-operator.x-k8s.io/v1beta1"
    check_seccomp_profile_fields(profile)
    docker = json.loads(
        ok(run_mppoci(world["home"], "policy", "show", world["digests"][case][0], "--format",
                      "seccomp", *(["--env", "API_TOKEN=x"] if case == "secrets" else []))).stdout
    )  # fmt: skip
    assert profile["spec"]["defaultAction"] == docker["defaultAction"] == "SCMP_ACT_ERRNO"
    assert profile["spec"]["architectures"] == ["SCMP_ARCH_X86_64"]
    assert _allowed(profile["spec"]["syscalls"]) == _allowed(docker["syscalls"])
    localhost = f"operator/default/{profile['metadata']['name']}.json"
    tool = tool_pod(objs, case)["containers"][0]
    assert tool["securityContext"]["seccompProfile"] == {
        "type": "Localhost",
        "localhostProfile": localhost,
    }


def _allowed(rules: list[dict[str, Any]]) -> set[str]:
    return {
        n
        for r in rules
        if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args")
        for n in r["names"]
    }


# The operator's v1beta1 SeccompProfileSpec (api/seccompprofile/v1beta1).
SPEC_FIELDS = {
    "baseProfileName", "defaultAction", "architectures", "listenerPath",
    "listenerMetadata", "syscalls", "flags",
}  # fmt: skip
ACTIONS = {
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
}  # fmt: skip
ARCHES = {"SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_NATIVE"}
OPS = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
       "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"}  # fmt: skip


def check_seccomp_profile_fields(profile: dict[str, Any]) -> None:
    """The documented fields and types of the operator's custom resource."""
    assert set(profile) == {"apiVersion", "kind", "metadata", "spec"}
    assert profile["kind"] == "SeccompProfile"
    assert set(profile["metadata"]) <= {"name", "namespace", "labels", "annotations"}
    spec = profile["spec"]
    assert set(spec) <= SPEC_FIELDS, set(spec) - SPEC_FIELDS
    assert spec["defaultAction"] in ACTIONS
    assert set(spec.get("architectures", [])) <= ARCHES
    for rule in spec.get("syscalls", []):
        assert set(rule) <= {"names", "action", "errnoRet", "args"}, rule
        assert rule["names"] and all(isinstance(n, str) for n in rule["names"])
        assert rule["action"] in ACTIONS
        assert isinstance(rule.get("errnoRet", ""), str)  # a string in the operator's schema
        assert len(rule.get("args", [])) <= 6
        for arg in rule.get("args", []):
            assert set(arg) <= {"index", "value", "valueTwo", "op"} and "op" in arg
            assert arg["op"] in OPS
            for field in ("index", "value", "valueTwo"):
                assert isinstance(arg.get(field, 0), int) and arg.get(field, 0) >= 0


# --- what each package gets, and nothing more -----------------------------------


def test_without_network_the_tool_pod_may_reach_nothing(world: dict[str, Any]) -> None:
    objs = objects(world, "no-network")
    policies = by_kind(objs, "NetworkPolicy")
    deny = the(objs, "NetworkPolicy", "run-no-network-deny-all")["spec"]
    assert deny == {
        "podSelector": {"matchLabels": {"dev.mppoci/run": "run-no-network"}},
        "ingress": [],
        "egress": [],
        "policyTypes": ["Ingress", "Egress"],
    }
    # The only other policy opens the registry to the fetch pod, by address.
    others = [p for p in policies if p["metadata"]["name"] != "run-no-network-deny-all"]
    assert [p["spec"]["podSelector"]["matchLabels"]["dev.mppoci/role"] for p in others] == ["fetch"]
    assert others[0]["spec"]["egress"] == [
        {
            "to": [{"ipBlock": {"cidr": "10.20.30.40/32"}}],
            "ports": [{"protocol": "TCP", "port": 5000}],
        }
    ]
    assert not by_kind(objs, "Service") and not by_kind(objs, "Deployment")


def test_the_tool_pod_gets_verified_content_and_never_the_registry(world: dict[str, Any]) -> None:
    objs = objects(world, "no-network")
    _, digest = world["digests"]["no-network"]
    job = the(objs, "Job", "run-no-network")
    pod = job["spec"]["template"]["spec"]
    (verify,) = pod["initContainers"]
    assert verify["image"] == MPPOCI_IMAGE
    assert verify["command"][:4] == ["mppoci", "k8s", "unpack", f"/bundle/{digest[7:]}.tar"]
    assert verify["command"][verify["command"].index("--digest") + 1] == digest
    (tool,) = pod["containers"]
    assert tool["image"] == RUNTIME_IMAGE
    assert tool["command"] == ["/bin/sh", "/pkg/run.sh"]
    pkg = next(m for m in tool["volumeMounts"] if m["mountPath"] == "/pkg")
    assert pkg == {"name": "package", "mountPath": "/pkg", "subPath": "content", "readOnly": True}
    assert {m["name"] for m in tool["volumeMounts"]} == {"package", "tmp", "shm"}  # not the bundle
    assert job["metadata"]["annotations"]["dev.mppoci/digest"] == digest
    fetch = the(objs, "Job", "run-no-network-fetch")["spec"]["template"]["spec"]["containers"][0]
    assert fetch["command"][:4] == [
        "mppoci",
        "k8s",
        "fetch",
        f"{REGISTRY}/acme/no-network@{digest}",
    ]
    # The trust ConfigMap holds exactly the key that covers the package.
    trust = json.loads(the(objs, "ConfigMap", "run-no-network-trust")["data"]["trust.json"])
    assert [k["scopes"] for k in trust["keys"]] == [["acme/*"]]


def test_an_mcp_package_reads_its_requests_from_an_attached_stdin(world: dict[str, Any]) -> None:
    tool = tool_pod(objects(world, "mcp"), "mcp")["containers"][0]
    assert (tool["stdin"], tool["stdinOnce"]) == (True, True)
    offline = tool_pod(objects(world, "no-network"), "no-network")["containers"][0]
    assert "stdin" not in offline  # closed unless asked for


def test_resource_limits_come_from_the_declaration(world: dict[str, Any]) -> None:
    tool = tool_pod(objects(world, "mcp"), "mcp")["containers"][0]
    assert tool["resources"]["limits"] == {"cpu": "250m", "memory": str(128 * 1024 * 1024)}
    assert tool["resources"]["requests"] == tool["resources"]["limits"]
    deadline = the(objects(world, "mcp"), "Job", "run-mcp")["spec"]["activeDeadlineSeconds"]
    assert deadline == 600 + 30 + 60  # waiting for the bundle, the tool's 30 s, verification


def test_dev_shm_is_a_memory_volume_of_the_declared_tmp_size_not_the_runtimes_64_mib(
    world: dict[str, Any],
) -> None:
    for case, size in (("mcp", 8 << 20), ("no-network", 64 << 20)):  # declared, default
        pod = tool_pod(objects(world, case), case)
        (tool,) = pod["containers"]
        [mount] = [m for m in tool["volumeMounts"] if m["mountPath"] == "/dev/shm"]
        [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        assert volume["emptyDir"] == {"medium": "Memory", "sizeLimit": str(size)}, case


def test_egress_goes_only_to_the_gateway_which_knows_the_declared_hosts(
    world: dict[str, Any],
) -> None:
    objs = objects(world, "egress")
    pod = tool_pod(objs, "egress")
    assert pod["dnsPolicy"] == "None"
    assert pod["dnsConfig"]["nameservers"] == [GATEWAY_IP]
    to_gateway = the(objs, "NetworkPolicy", "run-egress-tool-to-gateway")["spec"]
    assert to_gateway["podSelector"]["matchLabels"]["dev.mppoci/role"] == "tool"
    (rule,) = to_gateway["egress"]
    assert rule["to"] == [
        {
            "podSelector": {
                "matchLabels": {"dev.mppoci/run": "run-egress", "dev.mppoci/role": "gateway"}
            }
        }
    ]
    assert {(p["protocol"], p["port"]) for p in rule["ports"]} == {
        ("UDP", 53), ("TCP", 443), ("TCP", 5432)
    }  # fmt: skip
    service = the(objs, "Service", "run-egress-gateway")["spec"]
    assert service["clusterIP"] == GATEWAY_IP
    config = json.loads(the(objs, "ConfigMap", "run-egress-gateway")["data"]["config.json"])
    assert config["ip"] == GATEWAY_IP
    assert sorted((r["host"], r["port"]) for r in config["rules"]) == [
        ("*.cdn.acme.test", 443), ("api.acme.test", 443), ("db.acme.test", 5432)
    ]  # fmt: skip
    gateway = the(objs, "Deployment", "run-egress-gateway")["spec"]["template"]["spec"]
    assert gateway["containers"][0]["image"] == GATEWAY_IMAGE
    # The tool's pod may not resolve through the cluster DNS (it forwards anything).
    assert "kube-dns" not in json.dumps(to_gateway)


def _gateway_egress(objs: list[dict[str, Any]], case: str) -> list[dict[str, Any]]:
    egress: list[dict[str, Any]] = the(objs, "NetworkPolicy", f"run-{case}-gateway")["spec"][
        "egress"
    ]
    return egress


def test_the_gateway_pod_may_not_reach_the_cluster_metadata_or_private_ranges_by_default(
    world: dict[str, Any],
) -> None:
    (outside, dns) = _gateway_egress(objects(world, "egress"), "egress")
    assert outside["to"] == [
        {
            "ipBlock": {
                "cidr": "0.0.0.0/0",
                "except": [
                    "0.0.0.0/8",
                    "10.0.0.0/8",
                    "10.96.200.10/32",  # the gateway's own Service address
                    "100.64.0.0/10",
                    "127.0.0.0/8",
                    "168.63.129.16/32",
                    "169.254.0.0/16",
                    "172.16.0.0/12",
                    "192.168.0.0/16",
                    "224.0.0.0/4",
                    "240.0.0.0/4",
                ],
            }
        }
    ]
    assert {p["port"] for p in outside["ports"]} == {443, 5432}
    assert "podSelector" in json.dumps(dns["to"]) and dns["ports"][0]["port"] == 53


def test_cluster_cidr_names_the_ranges_closed_to_the_gateway_and_metadata_stays_closed(
    world: dict[str, Any],
) -> None:
    ranges = ("--cluster-cidr", "10.244.0.0/16", "--cluster-cidr", "10.96.0.0/12")
    objs = list(yaml.safe_load_all(ok(render(world, "egress", *ranges)).stdout))
    outside = _gateway_egress(objs, "egress")[0]
    assert outside["to"][0]["ipBlock"]["except"] == [
        "0.0.0.0/8",
        "10.244.0.0/16",
        "10.96.0.0/12",
        "10.96.200.10/32",
        "100.64.0.0/10",  # CGNAT stays closed whatever --cluster-cidr says
        "127.0.0.0/8",
        "168.63.129.16/32",
        "169.254.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
    ]
    refused = render(world, "egress", "--cluster-cidr", "0.0.0.0/0")
    assert refused.returncode == 1
    assert "--cluster-cidr 0.0.0.0/0: that is every address" in refused.stderr


def test_a_declared_private_address_gets_its_own_opening_and_goes_to_the_gateway(
    world: dict[str, Any],
) -> None:
    objs = objects(world, "private")
    outside, private, _ = _gateway_egress(objs, "private")
    assert "10.0.0.0/8" in outside["to"][0]["ipBlock"]["except"]
    assert private == {
        "to": [{"ipBlock": {"cidr": "10.0.12.7/32"}}],
        "ports": [{"protocol": "TCP", "port": 5432}],
    }
    data = the(objs, "ConfigMap", "run-private-gateway")["data"]
    assert json.loads(data["config.json"])["rules"] == [
        {"host": "db.internal", "port": 5432, "address": "10.0.12.7"}
    ]
    # The address policy travels with the gateway.
    assert set(data) == {"gateway.py", "addresses.py", "names.py", "config.json"}


def test_volumes_are_the_ones_the_user_named_with_the_declared_access(
    world: dict[str, Any],
) -> None:
    pod = tool_pod(objects(world, "mounts"), "mounts")
    tool = pod["containers"][0]
    mounts = {m["mountPath"]: m for m in tool["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts["/data"]["readOnly"] is True
    assert volumes[mounts["/data"]["name"]]["configMap"] == {"name": "reader-input"}
    assert mounts["/out"]["readOnly"] is False
    assert volumes[mounts["/out"]["name"]]["persistentVolumeClaim"] == {
        "claimName": "reader-out",
        "readOnly": False,
    }
    # Storage nobody bound is scratch space of the declared size.
    assert volumes[mounts["/cache"]["name"]]["emptyDir"] == {"sizeLimit": str(64 * 1024 * 1024)}
    assert not any("hostPath" in v for v in pod["volumes"])


def test_secret_values_are_referenced_never_written(world: dict[str, Any]) -> None:
    tool = tool_pod(objects(world, "secrets"), "secrets")["containers"][0]
    assert tool["env"] == [
        {
            "name": "API_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "caller-creds", "key": "token"}},
        },
        {"name": "REGION", "value": "eu-west-1"},
    ]


def test_a_secret_variable_given_as_a_value_is_refused(world: dict[str, Any]) -> None:
    name, _ = world["digests"]["secrets"]
    result = run_mppoci(
        world["home"], "k8s", "render", name, "--from", f"{REGISTRY}/acme/secrets",
        "--mppoci-image", MPPOCI_IMAGE, "--runtime-image", RUNTIME_IMAGE,
        "--env", "API_TOKEN=hunter2-value", "--offline",
    )  # fmt: skip
    assert result.returncode == 1
    assert "never written into manifests" in result.stderr and "--secret API_TOKEN" in result.stderr
    assert "hunter2-value" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("case", "args", "message"),
    [
        ("egress", ["--gateway-image", GATEWAY_IMAGE], "--gateway-ip"),
        ("no-network", ["--gateway-ip", GATEWAY_IP], "declares no network"),
        (
            "no-network",
            ["--runtime-image", "registry.acme.test/busybox:latest"],
            "not pinned by digest",
        ),
        ("mounts", ["--volume", "nothere=pvc:x"], "declares no filesystem entry named 'nothere'"),
        ("mounts", ["--volume", "out=configmap:x"], "ConfigMap is always read-only"),
        ("secrets", [], "requires the environment variable API_TOKEN"),
        ("no-network", ["--arch", "s390x"], "--arch 's390x' is not supported"),
        ("no-network", ["--registry-cidr", "0.0.0.0/0"], "that is every address"),
    ],
)
def test_bad_requests_are_refused_with_what_to_do(
    world: dict[str, Any], case: str, args: list[str], message: str
) -> None:
    name, _ = world["digests"][case]
    base = [
        "k8s",
        "render",
        name,
        "--from",
        f"{REGISTRY}/acme/{case}",
        "--mppoci-image",
        MPPOCI_IMAGE,
        "--offline",  # made-up image names: never ask a registry about them
    ]
    if "--runtime-image" not in args:
        base += ["--runtime-image", RUNTIME_IMAGE]
    result = run_mppoci(world["home"], *base, *args)
    assert result.returncode == 1, result.stdout
    assert message in result.stderr
    assert not result.stdout


def test_a_registry_by_name_needs_its_addresses(world: dict[str, Any]) -> None:
    name, _ = world["digests"]["no-network"]
    args = ["k8s", "render", name, "--from", "registry.acme.test/acme/offline",
            "--mppoci-image", MPPOCI_IMAGE, "--runtime-image", RUNTIME_IMAGE,
            "--offline"]  # fmt: skip
    refused = run_mppoci(world["home"], *args)
    assert refused.returncode == 1 and "--registry-cidr" in refused.stderr
    objs = list(yaml.safe_load_all(ok(run_mppoci(world["home"], *args, "--registry-cidr",
                                                 "192.0.2.8/32")).stdout))  # fmt: skip
    fetch = next(
        p
        for p in by_kind(objs, "NetworkPolicy")
        if p["metadata"]["name"].endswith("-fetch-registry")
    )
    # By name, the fetch pod also needs the cluster DNS, and only that.
    assert fetch["spec"]["egress"][1]["to"][0]["podSelector"] == {
        "matchLabels": {"k8s-app": "kube-dns"}
    }
    assert fetch["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 443}]


def test_an_unapproved_package_is_not_rendered(world: dict[str, Any]) -> None:
    name, _ = world["digests"]["no-network"]
    ok(run_mppoci(world["home"], "approvals", "revoke", name))
    try:
        result = render(world, "no-network")
        assert result.returncode == 1
        assert "mppoci approve" in result.stderr and not result.stdout
    finally:
        ok(run_mppoci(world["home"], "approve", name, "--yes"))


def test_lock_in_working_folder_does_not_approve_a_render(
    world: dict[str, Any], tmp_path: Path
) -> None:
    name, _ = world["digests"]["no-network"]
    ok(run_mppoci(world["home"], "lock", "add", name, cwd=tmp_path))
    ok(run_mppoci(world["home"], "approvals", "revoke", name))
    try:
        result = render(world, "no-network", cwd=tmp_path)
        assert result.returncode == 1
        assert "has not been approved" in result.stderr and not result.stdout
        # Opted in, the lock still does not revive the revoked approval.
        ci = ("--lock", str(tmp_path / "mppoci.lock"), "--approved-by-lock")
        result = render(world, "no-network", root=ci, cwd=tmp_path)
        assert result.returncode == 1
        assert "you revoked the approval" in result.stderr and not result.stdout
    finally:
        ok(run_mppoci(world["home"], "approve", name, "--yes"))


def test_node_profiles_are_written_as_files_for_the_kubelet(
    world: dict[str, Any], tmp_path: Path
) -> None:
    result = ok(
        render(world, "egress", "--seccomp-from", "node", "--arch", "arm64", "-o", str(tmp_path))
    )
    (objects_file,) = tmp_path.glob("*.yaml")
    objs = list(yaml.safe_load_all(objects_file.read_text()))
    assert not by_kind(objs, "SeccompProfile")
    localhost = tool_pod(objs, "egress")["securityContext"]["seccompProfile"]["localhostProfile"]
    assert localhost.startswith("mppoci/") and localhost.endswith(".json")
    profile = json.loads((tmp_path / "seccomp" / localhost).read_text())
    assert profile["architectures"] == ["SCMP_ARCH_AARCH64"]
    assert (
        "kubectl apply -f" in result.stderr
        and f"/var/lib/kubelet/seccomp/{localhost}" in result.stderr
    )
    for obj in objs:
        kubernetes_validate.validate(obj, "1.35.0", strict=True)
    assert all_problems(objs) == []


def test_each_render_is_audited(world: dict[str, Any]) -> None:
    objects(world, "secrets")
    _, digest = world["digests"]["secrets"]
    shown = ok(run_mppoci(world["home"], "audit", "show", "--json")).stdout
    parsed = json.loads(shown)
    records = parsed if isinstance(parsed, list) else parsed.get("records", [])
    renders = [r for r in records if "k8s.render" in json.dumps(r) and digest in json.dumps(r)]
    assert renders, shown[-2000:]
    text = json.dumps(renders[-1])
    assert "API_TOKEN" in text and "run-secrets" in text
    assert "eu-west-1" not in text  # variables by name only, never values
    ok(run_mppoci(world["home"], "audit", "verify"))
