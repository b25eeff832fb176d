"""Objects from the pure renderer, for tests that need no store or CLI."""

from __future__ import annotations

import copy
from typing import Any

from mppoci.digest import Digest
from mppoci.egress.network import kube_gateway_scripts
from mppoci.kube.render import render
from mppoci.kube.target import ClusterTarget, SeccompSource
from mppoci.manifest import parse_source
from mppoci.policy.compiler import Bindings, EgressBinding, compile_spec
from mppoci.policy.spec import MountKind, VolumeSource
from mppoci.reference import parse_remote

DIGEST = Digest("sha256:" + "d" * 64)
IMAGE = "registry.acme.test/x@sha256:" + "e" * 64


def render_pure(manifest_text: str, *, name: str, gateway_ip: str) -> list[dict[str, Any]]:
    """Render a package that declares egress, as `mppoci k8s render` would."""
    manifest = parse_source(manifest_text.encode())
    spec = compile_spec(
        manifest,
        DIGEST,
        bindings=Bindings(egress=EgressBinding("cluster", gateway_ip, None)),
        content_dir=VolumeSource(MountKind.EMPTY_DIR, "package"),
        protected=[],
        arch="amd64",
    )
    target = ClusterTarget(
        name=name,
        namespace="tools",
        architecture="amd64",
        seccomp_source=SeccompSource.OPERATOR,
        package=parse_remote(f"10.1.2.3:5000/{manifest.name}@{DIGEST}"),
        runtime_image=IMAGE,
        mppoci_image=IMAGE,
        registry_cidrs=("10.1.2.3/32",),
        registry_port=5000,
        gateway_image=IMAGE,
        gateway_ip=gateway_ip,
    )
    out = render(spec, manifest, target, trust_policy=b"{}", gateway_scripts=kube_gateway_scripts())
    return [copy.deepcopy(o) for o in out.objects]
