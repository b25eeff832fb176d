"""`mppoci k8s`: run packages as Kubernetes Jobs with the same guarantees.

``render`` runs where the package was verified and approved and writes the
objects; ``fetch`` and ``unpack`` are the steps mppoci's own image runs inside
the cluster (see mppoci.kube.deliver).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mppoci.cli import context, registry_opts
from mppoci.cli.output import echo
from mppoci.errors import Error, UserInputError

if TYPE_CHECKING:
    from mppoci.kube.target import ClusterTarget
    from mppoci.manifest import Manifest
    from mppoci.trust.gate import Verified

app = typer.Typer(no_args_is_help=True, help="Run packages on Kubernetes.")


def _verified(reference: str) -> Verified:
    from mppoci.api import require_approval
    from mppoci.cli import verifying

    pinned = context.pinned(reference)
    verified = verifying.verify_or_ask(context.store(), context.resolve_local(pinned))
    if verified.package is None:
        raise UserInputError(f"{reference} is an OCI image, not an mppoci package")
    verifying.remember(verified)
    # Rendering grants the declared permissions on a cluster: the same approval as a run.
    require_approval(
        context.locations(),
        verified.package,
        approving_lock=context.approving_lock(),
        reference=reference,
    )
    return verified


def _bundle_bytes(verified: Verified) -> int:
    from mppoci.signing.cosign_manifest import signature_tag

    store = context.store()
    assert verified.package is not None
    oci = verified.package.oci
    sizes = [store.blob_path(verified.digest).stat().st_size, oci.config.size]
    sizes += [layer.size for layer in oci.layers]
    sig = store.lookup(signature_tag(verified.digest))
    if sig is not None:
        sizes.append(sig.size + 64 * 1024)  # its config and payload blobs are small
    return sum(sizes)


def _trust_for(manifest: Manifest, registry: str) -> bytes:
    """Only the keys that may sign this package from this registry."""
    from dataclasses import replace

    from mppoci.trust.files import load_policy
    from mppoci.trust.policy import policy_bytes

    policy = load_policy(context.locations())
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


def _bindings(
    manifest: Manifest,
    volume: list[str],
    secret: list[str],
    env: list[str],
) -> Any:
    from mppoci.kube.target import secret_binding, volume_binding
    from mppoci.policy.compiler import Bindings
    from mppoci.policy.spec import MountKind, SecretRef, VolumeSource

    storage_decl = {s.name: s for s in manifest.permissions.storage}
    mounts: dict[str, str | VolumeSource] = {}
    storage: dict[str, str | VolumeSource] = {
        name: VolumeSource(MountKind.EMPTY_DIR, f"storage-{i}", s.size.byte_count)
        for i, (name, s) in enumerate(storage_decl.items())
    }
    for item in volume:
        name, source = volume_binding(item)
        if name in storage_decl:
            storage[name] = source
        else:
            mounts[name] = source  # the compiler refuses names the package does not declare
    secret_vars = {v.name for v in manifest.permissions.env if v.secret}
    values: dict[str, str | SecretRef] = {}
    for item in env:
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
    for item in secret:
        name, ref = secret_binding(item)
        values[name] = ref
    return Bindings(mounts=mounts, env=values, storage=storage)


def _target(
    manifest: Manifest,
    verified: Verified,
    *,
    name: str | None,
    namespace: str,
    arch: str,
    seccomp_from: str,
    source: str,
    runtime_image: str | None,
    mppoci_image: str,
    gateway_image: str | None,
    gateway_ip: str | None,
    registry_cidr: list[str],
    registry_secret: str | None,
    insecure: bool,
    cluster_cidr: list[str] | None = None,
    wait: int,
    stdin: bool,
) -> ClusterTarget:
    from mppoci.kube import target as t
    from mppoci.reference import RemoteRef, parse_remote

    remote = parse_remote(source)
    if remote.digest is not None and remote.digest != verified.digest:
        raise UserInputError(f"--from {source} names another digest than {verified.digest}")
    package = RemoteRef(remote.registry, remote.repository, digest=verified.digest)
    runtime = manifest.runtime
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
    if insecure and ":" not in package.registry:
        port = 80
    cidrs = tuple(t.cidr(c) for c in registry_cidr)
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
    return t.ClusterTarget(
        name=t.object_name(name or default_name.lower()[:50], "--name"),
        namespace=t.namespace_name(namespace),
        architecture=t.architecture(arch),
        seccomp_source=_seccomp_source(seccomp_from),
        package=package,
        runtime_image=pinned_runtime,
        mppoci_image=t.pinned_image(mppoci_image, "--mppoci-image"),
        registry_cidrs=cidrs,
        registry_port=port,
        registry_secret=t.object_name(registry_secret, "--registry-secret")
        if registry_secret
        else None,
        registry_plain_http=insecure,
        gateway_image=t.pinned_image(gateway_image, "--gateway-image") if gateway_image else None,
        gateway_ip=t.service_ip(gateway_ip) if gateway_ip else None,
        gateway_denied_cidrs=tuple(t.cidr(c, "--cluster-cidr") for c in cluster_cidr or ()),
        bundle_bytes=_bundle_bytes(verified),
        fetch_wait_seconds=wait,
        stdin=stdin,
    )


def _check_runtime_image(
    runtime_image: str, image_id: str, ca_file: Path | None, insecure: bool, timeout: float
) -> None:
    """The cluster pulls by manifest digest; the package pins the image ID (its
    config's digest). Ask the registry which image that manifest holds."""
    from mppoci.errors import DigestMismatchError
    from mppoci.limits import DEFAULT_LIMITS
    from mppoci.oci.model import parse_image_manifest
    from mppoci.reference import parse_remote

    remote = parse_remote(runtime_image)
    assert remote.digest is not None
    client = registry_opts.client(remote.registry, ca_file, insecure, timeout)
    body, _, _ = client.get_manifest(
        remote.repository, remote.digest, max_bytes=DEFAULT_LIMITS.oci_manifest_bytes
    )
    held = parse_image_manifest(body, limits=DEFAULT_LIMITS).config.digest
    if held != image_id:
        raise DigestMismatchError(
            f"--runtime-image {runtime_image} holds the image {held}, "
            f"but the package pins {image_id}",
            hint="push the pinned runtime (`mppoci runtime push NAME REPO`) and use the "
            "digest it prints",
        )


def _seccomp_source(text: str) -> Any:
    from mppoci.kube.target import SeccompSource

    try:
        return SeccompSource(text)
    except ValueError:
        raise UserInputError(
            f"--seccomp-from {text!r}: use operator (Security Profiles Operator) or node"
        ) from None


@app.command()
def render(
    reference: Annotated[str, typer.Argument(help="A verified, approved package in the store.")],
    source: Annotated[
        str,
        typer.Option("--from", help="REGISTRY/REPOSITORY the cluster pulls the package from."),
    ],
    mppoci_image: Annotated[
        str, typer.Option(help="mppoci's own image, REPOSITORY@sha256:..., for the verify steps.")
    ],
    args: Annotated[
        list[str] | None, typer.Argument(help="Arguments for the tool (after --).")
    ] = None,
    runtime_image: Annotated[
        str | None, typer.Option(help="Where the cluster pulls the runtime: REPOSITORY@sha256:...")
    ] = None,
    gateway_image: Annotated[
        str | None, typer.Option(help="The python3 runtime, REPOSITORY@sha256:..., for egress.")
    ] = None,
    gateway_ip: Annotated[
        str | None, typer.Option(help="A free Service address for the egress gateway.")
    ] = None,
    registry_cidr: Annotated[
        list[str] | None, typer.Option(help="Addresses the fetch step may reach (repeat).")
    ] = None,
    cluster_cidr: Annotated[
        list[str] | None,
        typer.Option(
            help="The cluster's pod and Service ranges, closed to the egress gateway (repeat; "
            "default: every private range). Metadata and loopback are always closed."
        ),
    ] = None,
    registry_secret: Annotated[
        str | None, typer.Option(help="A dockerconfigjson Secret with registry credentials.")
    ] = None,
    volume: Annotated[
        list[str] | None,
        typer.Option(help="NAME=pvc:CLAIM or NAME=configmap:NAME for a declared entry."),
    ] = None,
    secret: Annotated[
        list[str] | None, typer.Option(help="VAR=SECRET[:KEY] for a declared variable.")
    ] = None,
    env: Annotated[
        list[str] | None, typer.Option(help="NAME=VALUE for a declared, non-secret variable.")
    ] = None,
    namespace: Annotated[str, typer.Option("--namespace", "-n")] = "default",
    name: Annotated[str | None, typer.Option(help="Name of this invocation's objects.")] = None,
    arch: Annotated[str, typer.Option(help="Node architecture: amd64 or arm64.")] = "amd64",
    seccomp_from: Annotated[
        str, typer.Option(help="operator (Security Profiles Operator) or node (a file).")
    ] = "operator",
    insecure: registry_opts.Insecure = False,
    ca_file: registry_opts.CaFile = None,
    timeout: registry_opts.Timeout = 30.0,
    offline: Annotated[
        bool,
        typer.Option(
            help="Do not ask the registry whether --runtime-image holds the pinned runtime."
        ),
    ] = False,
    wait: Annotated[
        int, typer.Option(help="Seconds the tool's pod waits for the fetch step.", min=10)
    ] = 600,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Folder to write the files to.")
    ] = None,
    stdin: Annotated[
        bool,
        typer.Option(help="Keep the tool's stdin open for `kubectl attach -i` (mcp packages)."),
    ] = False,
) -> None:
    """Write the Kubernetes objects that run a package as a Job, as restricted as on Docker."""
    from mppoci.egress.network import kube_gateway_scripts
    from mppoci.kube.render import render as render_objects
    from mppoci.kube.restricted import all_problems
    from mppoci.policy.compiler import EgressBinding, compile_spec
    from mppoci.policy.spec import MountKind, VolumeSource

    verified = _verified(reference)
    assert verified.package is not None
    manifest = verified.package.manifest
    target = _target(
        manifest,
        verified,
        name=name,
        namespace=namespace,
        arch=arch,
        seccomp_from=seccomp_from,
        source=source,
        runtime_image=runtime_image,
        mppoci_image=mppoci_image,
        gateway_image=gateway_image,
        gateway_ip=gateway_ip,
        registry_cidr=registry_cidr or [],
        registry_secret=registry_secret,
        insecure=insecure,
        cluster_cidr=cluster_cidr,
        wait=wait,
        stdin=stdin,
    )
    from dataclasses import replace

    bindings = _bindings(manifest, volume or [], secret or [], env or [])
    if target.gateway_ip is not None:
        bindings = replace(bindings, egress=EgressBinding("cluster", target.gateway_ip, None))
    spec = compile_spec(
        manifest,
        verified.digest,
        bindings=bindings,
        content_dir=VolumeSource(MountKind.EMPTY_DIR, "package"),
        protected=[],  # no host folder is ever mounted on a cluster
        args=args or (),
        run_id=target.name,
        arch=target.architecture,
    )
    rendered = render_objects(
        spec,
        manifest,
        target,
        trust_policy=_trust_for(manifest, target.package.registry),
        gateway_scripts=kube_gateway_scripts(),
    )
    problems = all_problems(rendered.objects)
    if problems:  # a defect in the renderer: refuse rather than write weaker objects
        raise Error(
            "the rendered objects break the restricted profile:\n  " + "\n  ".join(problems)
        )
    # Last, after every local check: the one question asked of a registry.
    if not manifest.runtime.is_registry_reference:
        assert manifest.runtime.digest is not None
        if offline:
            echo(
                f"warning: --offline: not checked that {target.runtime_image} holds "
                f"{manifest.runtime.digest}",
                err=True,
            )
        else:
            _check_runtime_image(
                target.runtime_image, manifest.runtime.digest, ca_file, insecure, timeout
            )
    _write(rendered, target, output)
    _audit(manifest, verified, target, spec)


def _audit(manifest: Manifest, verified: Verified, target: ClusterTarget, spec: Any) -> None:
    from mppoci.audit import events
    from mppoci.manifest import permissions_digest

    events.cluster_render(
        context.locations(),
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


def _write(rendered: Any, target: ClusterTarget, output: Path | None) -> None:
    import yaml

    from mppoci.fsutil import atomic_write

    text = yaml.safe_dump_all(rendered.objects, sort_keys=False, width=1000)
    if output is None:
        if rendered.node_seccomp_file is not None:
            raise UserInputError(
                "--seccomp-from node writes a profile file for your nodes",
                hint="pass --output DIR",
            )
        echo(text, nl=False)
        return
    objects_file = output / f"{target.name}.yaml"
    output.mkdir(parents=True, exist_ok=True)
    atomic_write(objects_file, text.encode())
    lines = [f"wrote {objects_file} ({len(rendered.objects)} objects)"]
    if rendered.node_seccomp_file is not None:
        relative, profile = rendered.node_seccomp_file
        path = output / "seccomp" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, profile.encode())
        lines.append(f"wrote {path}: copy it to /var/lib/kubelet/seccomp/{relative} on every node")
    lines.append(
        f"apply: kubectl apply -f {objects_file}\n"
        f"wait:  kubectl -n {target.namespace} wait --for=condition=complete "
        f"job/{target.name} --timeout=15m\n"
        f"logs:  kubectl -n {target.namespace} logs job/{target.name} -c tool"
    )
    echo("\n".join(lines), err=True)


@app.command()
def fetch(
    reference: Annotated[str, typer.Argument(help="REGISTRY/REPOSITORY@sha256:...")],
    trust: Annotated[Path, typer.Option(help="The trust policy (JSON) to verify against.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The bundle file to write.")],
    ca_file: registry_opts.CaFile = None,
    insecure: registry_opts.Insecure = False,
    timeout: registry_opts.Timeout = 30.0,
) -> None:
    """(In the cluster) pull a package by digest, verify it, write it as a bundle."""
    from mppoci.kube.deliver import fetch_bundle, read_trust
    from mppoci.reference import parse_remote

    remote = parse_remote(reference)
    client = registry_opts.client(remote.registry, ca_file, insecure, timeout)
    verified = fetch_bundle(client, remote, read_trust(trust), context.store(), output)
    echo(f"verified {verified.digest}; wrote {output}", err=True)


@app.command()
def unpack(
    bundle: Annotated[Path, typer.Argument(help="The bundle the fetch step wrote.")],
    digest: Annotated[str, typer.Option(help="The package digest the render pinned.")],
    origin: Annotated[str, typer.Option(help="The registry the package came from.")],
    trust: Annotated[Path, typer.Option(help="The trust policy (JSON) to verify against.")],
    into: Annotated[Path, typer.Option(help="A new folder for the package content.")],
    wait: Annotated[float, typer.Option(help="Seconds to wait for the bundle to appear.")] = 0,
) -> None:
    """(In the cluster) verify a bundle offline and unpack the pinned package's content."""
    from mppoci.digest import Digest, is_digest
    from mppoci.kube.deliver import read_trust, unpack_bundle, wait_for

    if not is_digest(digest):
        raise UserInputError(f"--digest {digest!r} is not a sha256 digest")
    policy = read_trust(trust)
    if wait:
        wait_for(bundle, wait)
    verified = unpack_bundle(bundle, Digest(digest), policy, context.store(), into, origin=origin)
    assert verified.package is not None
    m = verified.package.manifest
    echo(f"verified {m.name} {m.version} ({verified.digest}); unpacked into {into}", err=True)
