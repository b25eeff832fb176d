"""The restricted checks catch every weakening of a rendered pod, one at a time.

The objects come from the pure renderer; each case changes one field the way a
careless edit (or a renderer bug) would, and the checks must name it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest

from mppoci.kube.restricted import all_problems
from tests.conftest import PINNED_RUNTIME
from tests.kube.helpers import render_pure

MANIFEST = f"""\
schemaVersion: 1
name: acme/tool
version: 1.0.0
description: d
authors: [Ada]
license: MIT
runtime: {PINNED_RUNTIME}
entrypoint: ["/bin/sh", "/pkg/run.sh"]
protocol: cli
tools: [{{name: t, description: t}}]
permissions:
  network:
    egress: [{{host: api.acme.test, port: 443, why: api}}]
"""


def rendered() -> list[dict[str, Any]]:
    return render_pure(MANIFEST, name="t1", gateway_ip="10.96.0.53")


def tool_pod(objs: list[dict[str, Any]]) -> dict[str, Any]:
    job = next(o for o in objs if o["kind"] == "Job" and o["metadata"]["name"] == "t1")
    return job["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def tool(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return tool_pod(objs)["containers"][0]  # type: ignore[no-any-return]


def gateway_pod(objs: list[dict[str, Any]]) -> dict[str, Any]:
    dep = next(o for o in objs if o["kind"] == "Deployment")
    return dep["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def _set(path: Callable[[list[dict[str, Any]]], dict[str, Any]], key: str, value: Any) -> Any:
    def change(objs: list[dict[str, Any]]) -> None:
        path(objs)[key] = value

    return change


def _ctx(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return tool(objs)["securityContext"]  # type: ignore[no-any-return]


def _pod_ctx(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return tool_pod(objs)["securityContext"]  # type: ignore[no-any-return]


def _init_ctx(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return tool_pod(objs)["initContainers"][0]["securityContext"]  # type: ignore[no-any-return]


def _drop_key(path: Callable[[list[dict[str, Any]]], dict[str, Any]], key: str) -> Any:
    def change(objs: list[dict[str, Any]]) -> None:
        del path(objs)[key]

    return change


def _add_volume(volume: dict[str, Any]) -> Any:
    def change(objs: list[dict[str, Any]]) -> None:
        tool_pod(objs)["volumes"].append(volume)

    return change


def _caps_add(objs: list[dict[str, Any]]) -> None:
    _ctx(objs)["capabilities"]["add"] = ["SYS_ADMIN"]


def _caps_keep(objs: list[dict[str, Any]]) -> None:
    _ctx(objs)["capabilities"]["drop"] = ["NET_RAW"]


def _host_port(objs: list[dict[str, Any]]) -> None:
    gateway_pod(objs)["containers"][0]["ports"][0]["hostPort"] = 53


def _unsafe_sysctl(objs: list[dict[str, Any]]) -> None:
    gateway_pod(objs)["securityContext"]["sysctls"].append({"name": "kernel.msgmax", "value": "1"})


def _no_limits(objs: list[dict[str, Any]]) -> None:
    del tool(objs)["resources"]["limits"]["memory"]


def _tag_image(objs: list[dict[str, Any]]) -> None:
    tool(objs)["image"] = "registry.acme.test/x:latest"


def _tool_default_seccomp(objs: list[dict[str, Any]]) -> None:
    _ctx(objs)["seccompProfile"] = {"type": "RuntimeDefault"}
    _pod_ctx(objs)["seccompProfile"] = {"type": "RuntimeDefault"}


def _root_everywhere(objs: list[dict[str, Any]]) -> None:
    _ctx(objs)["runAsUser"] = 0


WEAKENINGS: dict[str, tuple[Any, str]] = {
    "privileged": (_set(_ctx, "privileged", True), "privileged"),
    "privilege escalation": (
        _set(_ctx, "allowPrivilegeEscalation", True),
        "allowPrivilegeEscalation is not false",
    ),
    "escalation left unset": (
        _drop_key(_init_ctx, "allowPrivilegeEscalation"),
        "allowPrivilegeEscalation is not false",
    ),
    "capability added": (_caps_add, "adds capabilities SYS_ADMIN"),
    "capabilities kept": (_caps_keep, "do not drop ALL"),
    "root user": (_root_everywhere, "runAsUser is 0"),
    "runAsNonRoot false": (_set(_ctx, "runAsNonRoot", False), "runAsNonRoot is not true"),
    "seccomp unconfined": (
        _set(_ctx, "seccompProfile", {"type": "Unconfined"}),
        "not RuntimeDefault or Localhost",
    ),
    "tool off its own profile": (_tool_default_seccomp, "not on its generated seccomp profile"),
    "writable root": (_set(_ctx, "readOnlyRootFilesystem", False), "root filesystem is writable"),
    "host network": (_set(tool_pod, "hostNetwork", True), "hostNetwork is set"),
    "host pid": (_set(tool_pod, "hostPID", True), "hostPID is set"),
    "host path": (
        _add_volume({"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}),
        "may not use (hostPath)",
    ),
    "host port": (_host_port, "uses hostPort 53"),
    "unsafe sysctl": (_unsafe_sysctl, "kernel.msgmax is not a safe sysctl"),
    "service account token": (
        _set(tool_pod, "automountServiceAccountToken", True),
        "service account token is mounted",
    ),
    "no memory limit": (_no_limits, "no memory limit"),
    "image by tag": (_tag_image, "not pinned by digest"),
    "unmasked proc": (_set(_ctx, "procMount", "Unmasked"), "procMount is not Default"),
}


def test_the_rendered_objects_pass() -> None:
    objs = rendered()
    assert all_problems(objs) == []


@pytest.mark.parametrize("case", list(WEAKENINGS))
def test_each_weakening_is_caught(case: str) -> None:
    weaken, message = WEAKENINGS[case]
    objs = rendered()
    weaken(objs)
    problems = all_problems(objs)
    assert any(message in p for p in problems), problems


def test_the_api_schema_alone_accepts_a_privileged_pod() -> None:
    """Why the restricted checks exist: the schema is about form, not safety."""
    objs = rendered()
    _set(_ctx, "privileged", True)(objs)
    job = next(o for o in objs if o["kind"] == "Job" and o["metadata"]["name"] == "t1")
    kubernetes_validate.validate(job, "1.35.0", strict=True)  # no error
    assert any("privileged" in p for p in all_problems(objs))


# The pod's and each container's securityContext go through the same checks:
# a weakening is caught at whichever level it is made.
LEVELS: dict[str, tuple[Callable[[list[dict[str, Any]]], dict[str, Any]], str]] = {
    "pod": (_pod_ctx, "Job/t1 spec.template.spec: "),
    "container": (_ctx, "Job/t1 spec.template.spec.containers[0](tool): "),
    "init container": (_init_ctx, "Job/t1 spec.template.spec.initContainers[0]("),
}
SELINUX_WEAKENINGS = {
    "role": {"role": "sysadm_r"},
    "user": {"user": "sysadm_u"},
    "type": {"type": "spc_t"},
}


@pytest.mark.parametrize("option", list(SELINUX_WEAKENINGS))
@pytest.mark.parametrize("level", list(LEVELS))
def test_selinux_options_are_caught_at_every_level(level: str, option: str) -> None:
    context, at = LEVELS[level]
    objs = rendered()
    context(objs)["seLinuxOptions"] = SELINUX_WEAKENINGS[option]
    problems = all_problems(objs)
    caught = [p for p in problems if p.startswith(at) and "SELinux options are not allowed" in p]
    assert len(caught) == 1, problems


@pytest.mark.parametrize("level", list(LEVELS))
def test_unconfined_apparmor_is_caught_at_every_level(level: str) -> None:
    context, at = LEVELS[level]
    objs = rendered()
    context(objs)["appArmorProfile"] = {"type": "Unconfined"}
    problems = all_problems(objs)
    assert any(p.startswith(at) and "AppArmor is unconfined" in p for p in problems), problems
