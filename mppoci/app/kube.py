"""Running a package on Kubernetes: the objects of one Job, as restricted as a
sandbox on Docker, rendered where the package was verified and approved;
and the two steps mppoci's own image runs inside the cluster (fetch and
unpack, see :mod:`mppoci.kube.deliver`).

    rendering = render_for_cluster(session, "acme/word-count", ClusterRequest(
        source="registry.example/acme/word-count",
        mppoci_image="registry.example/mppoci@sha256:...",
        runtime_image="registry.example/runtimes/python3@sha256:...",
        registry_cidrs=("10.0.12.7/32",)), registry=connect, deliver=write_out)
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from mppoci.app.session import Session
from mppoci.errors import DigestMismatchError, Error, UserInputError

if TYPE_CHECKING:
    from mppoci.kube.render import Rendered
    from mppoci.kube.target import ClusterTarget, SeccompSource
    from mppoci.manifest import Manifest
    from mppoci.policy.compiler import Bindings
    from mppoci.policy.spec import ContainerSpec
    from mppoci.registry.client import RegistryClient
    from mppoci.trust.gate import Verified

# A registry client for a registry's name (host[:port]): the front end's
# transport options and credentials.
Connect = Callable[[str], "RegistryClient"]


@dataclass(frozen=True, slots=True)
class ClusterRequest:
    """Where the cluster finds what it runs, and what one run gets.

    ``source``: REGISTRY/REPOSITORY the cluster pulls the package from;
    images are REPOSITORY@sha256:... . ``volumes``: NAME=pvc:CLAIM or
    NAME=configmap:NAME; ``secrets``: VAR=SECRET[:KEY]; ``env``: NAME=VALUE
    for declared, non-secret variables. ``cluster_cidrs``: the ranges closed
    to the egress gateway (None: every private range)."""

    source: str
    mppoci_image: str
    args: tuple[str, ...] = ()
    runtime_image: str | None = None
    gateway_image: str | None = None
    gateway_ip: str | None = None
    registry_cidrs: tuple[str, ...] = ()
    cluster_cidrs: tuple[str, ...] | None = None
    registry_secret: str | None = None
    volumes: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    namespace: str = "default"
    name: str | None = None
    arch: str = "amd64"
    seccomp_from: str = "operator"
    insecure: bool = False  # the registry speaks plain HTTP
    wait_seconds: int = 600  # how long the tool's pod waits for the fetch step
    stdin: bool = False  # kept open for `kubectl attach -i`


@dataclass(frozen=True, slots=True)
class ClusterRendering:
    """The objects that run one invocation, and what they were made from.

    ``unchecked_runtime``: the runtime image digest nobody asked the
    registry about (rendered offline), else None."""

    verified: Verified
    target: ClusterTarget
    spec: ContainerSpec
    rendered: Rendered
    unchecked_runtime: str | None = None

    def text(self) -> str:
        """Every object, as one YAML stream in the order to apply them."""
        import yaml

        return yaml.safe_dump_all(self.rendered.objects, sort_keys=False, width=1000)


@dataclass(frozen=True, slots=True)
class Written:
    """The files :func:`write_rendering` wrote: the objects, and the seccomp
    profile for the nodes (with its path under the kubelet's folder)."""

    objects_file: Path
    count: int
    seccomp_file: tuple[Path, str] | None = None


def render_for_cluster(
    session: Session,
    reference: str,
    request: ClusterRequest,
    *,
    registry: Connect | None,
    deliver: Callable[[ClusterRendering], None],
) -> ClusterRendering:
    """Render the objects that run a package as a Job: verified (first use
    asked through the prompter), approved (rendering grants the declared
    permissions on a cluster: the same approval as a run, never asked for
    here), compiled as for Docker, checked against the restricted profile.
    Last, the one question asked of a registry: whether ``request.runtime_image``
    holds the runtime the package pins (``registry`` None: not asked, see
    :attr:`ClusterRendering.unchecked_runtime`). ``deliver`` then writes the
    objects out, and the render is audited (``k8s.render``).

    Raises NotFoundError, VerificationError, NotApprovedError, UserInputError,
    PolicyError, DigestMismatchError, TransportError; Error for objects
    that break the restricted profile (a defect: nothing is delivered)."""
    from mppoci.app.approving import require_approval
    from mppoci.app.verifying import open_verified
    from mppoci.egress.network import kube_gateway_scripts
    from mppoci.kube.render import render
    from mppoci.kube.restricted import all_problems
    from mppoci.policy.compiler import EgressBinding, compile_spec
    from mppoci.policy.spec import MountKind, VolumeSource

    verified = open_verified(session, reference)
    assert verified.package is not None
    require_approval(session, verified.package, reference=reference)
    manifest = verified.package.manifest
    target = _target(session, manifest, verified, request)
    bindings = _bindings(manifest, request)
    if target.gateway_ip is not None:
        bindings = replace(bindings, egress=EgressBinding("cluster", target.gateway_ip, None))
    spec = compile_spec(
        manifest,
        verified.digest,
        bindings=bindings,
        content_dir=VolumeSource(MountKind.EMPTY_DIR, "package"),
        protected=[],  # no host folder is ever mounted on a cluster
        args=request.args,
        run_id=target.name,
        arch=target.architecture,
    )
    rendered = render(
        spec,
        manifest,
        target,
        trust_policy=_trust_for(session, manifest, target.package.registry),
        gateway_scripts=kube_gateway_scripts(),
    )
    problems = all_problems(rendered.objects)
    if problems:  # a defect in the renderer: refuse rather than write weaker objects
        raise Error(
            "the rendered objects break the restricted profile:\n  " + "\n  ".join(problems)
        )
    unchecked: str | None = None
    if not manifest.runtime.is_registry_reference:
        assert manifest.runtime.digest is not None
        if registry is None:
            unchecked = manifest.runtime.digest
        else:
            _check_runtime_image(session, registry, target.runtime_image, manifest.runtime.digest)
    rendering = ClusterRendering(verified, target, spec, rendered, unchecked)
    deliver(rendering)
    _audit(session, rendering)
    return rendering


def write_rendering(rendering: ClusterRendering, folder: Path) -> Written:
    """Write the objects (``NAME.yaml``) and, with profiles on the nodes, the
    seccomp profile (under ``seccomp/``) into ``folder``, each atomically."""
    from mppoci.fsutil import atomic_write

    objects_file = folder / f"{rendering.target.name}.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(objects_file, rendering.text().encode())
    seccomp: tuple[Path, str] | None = None
    node_file = rendering.rendered.node_seccomp_file
    if node_file is not None:
        relative, profile = node_file
        path = folder / "seccomp" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, profile.encode())
        seccomp = (path, relative)
    return Written(objects_file, len(rendering.rendered.objects), seccomp)


def fetch(
    session: Session, reference: str, *, trust: Path, output: Path, registry: Connect
) -> Verified:
    """(In the cluster) pull a package by digest (REGISTRY/REPOSITORY@sha256:...),
    verify it against the trust policy in the file ``trust``, and write it
    as a bundle to ``output``."""
    from mppoci.kube.deliver import fetch_bundle, read_trust
    from mppoci.reference import parse_remote

    remote = parse_remote(reference)
    client = registry(remote.registry)
    return fetch_bundle(client, remote, read_trust(trust), session.store, output)


def unpack(
    session: Session,
    bundle: Path,
    *,
    digest: str,
    origin: str,
    trust: Path,
    into: Path,
    wait: float = 0,
) -> Verified:
    """(In the cluster) verify a bundle offline against the trust policy in
    ``trust`` and unpack the content of the package ``digest`` (the one the
    render pinned) into the new folder ``into``; wait up to ``wait`` seconds
    for the fetch step to write the bundle."""
    from mppoci.digest import Digest, is_digest
    from mppoci.kube.deliver import read_trust, unpack_bundle, wait_for

    if not is_digest(digest):
        raise UserInputError(f"--digest {digest!r} is not a sha256 digest")
    policy = read_trust(trust)
    if wait:
        wait_for(bundle, wait)
    return unpack_bundle(bundle, Digest(digest), policy, session.store, into, origin=origin)


def _bundle_bytes(session: Session, verified: Verified) -> int:
    from mppoci.signing.cosign_manifest import signature_tag

    store = session.store
    assert verified.package is not None
    oci = verified.package.oci
    sizes = [store.blob_path(verified.digest).stat().st_size, oci.config.size]
    sizes += [layer.size for layer in oci.layers]
    sig = store.lookup(signature_tag(verified.digest))
    if sig is not None:
        sizes.append(sig.size + 64 * 1024)  # its config and payload blobs are small
    return sum(sizes)


def _trust_for(session: Session, manifest: Manifest, registry: str) -> bytes:
    """Only the keys that may sign this package from this registry."""
    from mppoci.trust.files import load_policy
    from mppoci.trust.policy import policy_bytes

    policy = load_policy(session.locations)
    keys = tuple(
        k
        for k in policy.keys
        if k.covers(manifest.name)
        and k.accepts_origin(registry)
        and not policy.is_revoked(k.key_id)
    )
    if not keys:
        raise UserInputError(
            f"no trusted key covers {manifest.name} from {registry}",
            hint="the cluster verifies against your trust policy: `mppoci trust add` the "
            "publisher's key for this package (and registry), then render again",
        )
    return policy_bytes(replace(policy, keys=keys))


def _bindings(manifest: Manifest, request: ClusterRequest) -> Bindings:
    from mppoci.kube.target import secret_binding, volume_binding
    from mppoci.policy.compiler import Bindings
    from mppoci.policy.spec import MountKind, SecretRef, VolumeSource

    storage_decl = {s.name: s for s in manifest.permissions.storage}
    mounts: dict[str, str | VolumeSource] = {}
    storage: dict[str, str | VolumeSource] = {
        name: VolumeSource(MountKind.EMPTY_DIR, f"storage-{i}", s.size.byte_count)
        for i, (name, s) in enumerate(storage_decl.items())
    }
    for item in request.volumes:
        name, source = volume_binding(item)
        if name in storage_decl:
            storage[name] = source
        else:
            mounts[name] = source  # the compiler refuses names the package does not declare
    secret_vars = {v.name for v in manifest.permissions.env if v.secret}
    values: dict[str, str | SecretRef] = {}
    for item in request.env:
        name, sep, value = item.partition("=")
        if not name or not sep:
            raise UserInputError(f"--env {item!r}: expected NAME=VALUE")
        if name in secret_vars:
            raise UserInputError(
                f"--env {name}: {manifest.name} declares {name} as secret, and secret values "
                "are never written into manifests",
                hint=f"store it in a Secret and pass --secret {name}=SECRET[:KEY]",
            )
        values[name] = value
    for item in request.secrets:
        name, ref = secret_binding(item)
        values[name] = ref
    return Bindings(mounts=mounts, env=values, storage=storage)


def _target(
    session: Session, manifest: Manifest, verified: Verified, request: ClusterRequest
) -> ClusterTarget:
    from mppoci.kube import target as t
    from mppoci.reference import RemoteRef, parse_remote

    remote = parse_remote(request.source)
    if remote.digest is not None and remote.digest != verified.digest:
        raise UserInputError(f"--from {request.source} names another digest than {verified.digest}")
    package = RemoteRef(remote.registry, remote.repository, digest=verified.digest)
    runtime = manifest.runtime
    runtime_image = request.runtime_image
    if runtime.is_registry_reference:
        pinned_runtime = t.pinned_image(f"{runtime.name}@{runtime.digest}", "the package's runtime")
        if runtime_image is not None and runtime_image != pinned_runtime:
            raise UserInputError(
                f"--runtime-image {runtime_image} is not the runtime the package pins "
                f"({pinned_runtime})"
            )
    elif runtime_image is None:
        raise UserInputError(
            f"{manifest.name} pins the local runtime image {runtime.digest}, which a cluster "
            "cannot pull",
            hint=f"push it (`mppoci runtime push {runtime.name} REGISTRY/REPO`) and pass "
            "--runtime-image REGISTRY/REPO@sha256:... as printed",
        )
    else:
        pinned_runtime = t.pinned_image(runtime_image, "--runtime-image")
    gateway_image, gateway_ip = request.gateway_image, request.gateway_ip
    egress = bool(manifest.permissions.egress)
    if egress and (gateway_image is None or gateway_ip is None):
        raise UserInputError(
            f"{manifest.name} declares network destinations, so it needs the egress gateway",
            hint="pass --gateway-image (the python3 runtime, pushed by digest) and "
            "--gateway-ip (a free address in your cluster's Service CIDR)",
        )
    if not egress and (gateway_image or gateway_ip):
        raise UserInputError(f"{manifest.name} declares no network; it gets no gateway")
    ip, port = t.registry_address(package.registry)
    if request.insecure and ":" not in package.registry:
        port = 80
    cidrs = tuple(t.cidr(c) for c in request.registry_cidrs)
    if not cidrs:
        if ip is None:
            raise UserInputError(
                f"the fetch step may reach only the registry, and {package.registry} is a name",
                hint="NetworkPolicy knows addresses, not names: pass --registry-cidr with the "
                "registry's addresses (for example 10.0.12.7/32)",
            )
        cidrs = (f"{ip}/32" if ":" not in ip else f"{ip}/128",)
    suffix = secrets.token_hex(3)
    default_name = f"{manifest.name.rsplit('/', 1)[-1]}-{verified.digest[7:15]}-{suffix}"
    registry_secret = request.registry_secret
    return t.ClusterTarget(
        name=t.object_name(request.name or default_name.lower()[:50], "--name"),
        namespace=t.namespace_name(request.namespace),
        architecture=t.architecture(request.arch),
        seccomp_source=_seccomp_source(request.seccomp_from),
        package=package,
        runtime_image=pinned_runtime,
        mppoci_image=t.pinned_image(request.mppoci_image, "--mppoci-image"),
        registry_cidrs=cidrs,
        registry_port=port,
        registry_secret=t.object_name(registry_secret, "--registry-secret")
        if registry_secret
        else None,
        registry_plain_http=request.insecure,
        gateway_image=t.pinned_image(gateway_image, "--gateway-image") if gateway_image else None,
        gateway_ip=t.service_ip(gateway_ip) if gateway_ip else None,
        gateway_denied_cidrs=tuple(
            t.cidr(c, "--cluster-cidr") for c in request.cluster_cidrs or ()
        ),
        bundle_bytes=_bundle_bytes(session, verified),
        fetch_wait_seconds=request.wait_seconds,
        stdin=request.stdin,
    )


def _seccomp_source(text: str) -> SeccompSource:
    from mppoci.kube.target import SeccompSource

    try:
        return SeccompSource(text)
    except ValueError:
        raise UserInputError(
            f"--seccomp-from {text!r}: use operator (Security Profiles Operator) or node"
        ) from None


def _check_runtime_image(
    session: Session, registry: Connect, runtime_image: str, image_id: str
) -> None:
    """The cluster pulls by manifest digest; the package pins the image ID (its
    config's digest). Ask the registry which image that manifest holds."""
    from mppoci.oci.model import parse_image_manifest
    from mppoci.reference import parse_remote

    remote = parse_remote(runtime_image)
    assert remote.digest is not None
    client = registry(remote.registry)
    body, _, _ = client.get_manifest(
        remote.repository, remote.digest, max_bytes=session.limits.oci_manifest_bytes
    )
    held = parse_image_manifest(body, limits=session.limits).config.digest
    if held != image_id:
        raise DigestMismatchError(
            f"--runtime-image {runtime_image} holds the image {held}, "
            f"but the package pins {image_id}",
            hint="push the pinned runtime (`mppoci runtime push NAME REPO`) and use the "
            "digest it prints",
        )


def _audit(session: Session, rendering: ClusterRendering) -> None:
    from mppoci.audit import events
    from mppoci.manifest import permissions_digest

    verified, target, spec = rendering.verified, rendering.target, rendering.spec
    assert verified.package is not None
    manifest = verified.package.manifest
    events.cluster_render(
        session.locations,
        package=manifest.name,
        version=manifest.version,
        digest=verified.digest,
        permissions=permissions_digest(manifest),
        name=target.name,
        namespace=target.namespace,
        args=spec.argv[len(manifest.entrypoint) :],
        env_names=[e.name for e in spec.env],
        volumes={m.target: f"{m.kind.value}:{m.source}" for m in spec.mounts},
    )
