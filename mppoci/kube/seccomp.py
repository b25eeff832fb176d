"""The generated seccomp profile in the two forms a cluster loads it from.

- A Security Profiles Operator ``SeccompProfile``: the operator writes it to
  every node, at ``operator/<namespace>/<name>.json`` under the kubelet's
  seccomp folder.
- A plain JSON file for nodes that load profiles from disk, copied by the
  cluster's admin to ``<kubelet root>/seccomp/mppoci/<name>.json``.

Both carry exactly the rules of the Docker profile. The operator's schema has
no ``defaultErrnoRet``; the default action SCMP_ACT_ERRNO then returns EPERM,
which is what the Docker profile's ``defaultErrnoRet: 1`` says. Pure.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mppoci.kube.target import SeccompSource

SPO_API_VERSION = "security-profiles-operator.x-k8s.io/v1beta1"
NODE_FOLDER = "mppoci"
_EPERM = 1


def profile_name(profile_text: str) -> str:
    """Named by content: one file per distinct profile, shared across packages."""
    return "mppoci-" + hashlib.sha256(profile_text.encode()).hexdigest()[:16]


def localhost_path(source: SeccompSource, name: str, namespace: str) -> str:
    """``localhostProfile``: a path relative to the kubelet's seccomp folder."""
    if source is SeccompSource.OPERATOR:
        return f"operator/{namespace}/{name}.json"
    return f"{NODE_FOLDER}/{name}.json"


def seccomp_profile_object(
    profile_text: str, *, name: str, namespace: str, labels: dict[str, str]
) -> dict[str, Any]:
    profile = json.loads(profile_text)
    if profile.get("defaultErrnoRet", _EPERM) != _EPERM:
        raise ValueError("the operator's SeccompProfile cannot carry another default errno")
    syscalls = []
    for rule in profile["syscalls"]:
        out: dict[str, Any] = {"names": list(rule["names"]), "action": rule["action"]}
        if "errnoRet" in rule:
            out["errnoRet"] = str(rule["errnoRet"])  # the operator's type is a string
        if rule.get("args"):
            out["args"] = [
                {"index": a["index"], "value": a["value"], "valueTwo": a["valueTwo"], "op": a["op"]}
                for a in rule["args"]
            ]
        syscalls.append(out)
    return {
        "apiVersion": SPO_API_VERSION,
        "kind": "SeccompProfile",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "defaultAction": profile["defaultAction"],
            "architectures": list(profile["architectures"]),
            "syscalls": syscalls,
        },
    }
