"""`mppoci k8s`: run packages as Kubernetes Jobs with the same guarantees.

``render`` runs where the package was verified and approved and writes the
objects; ``fetch`` and ``unpack`` are the steps mppoci's own image runs inside
the cluster (see mppoci.kube.deliver).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mppoci.app import UserInputError
from mppoci.cli import context, registry_opts
from mppoci.cli.output import echo

if TYPE_CHECKING:
    from collections.abc import Callable

    from mppoci.app import ClusterRendering, RegistryClient

app = typer.Typer(no_args_is_help=True, help="Run packages on Kubernetes.")


def _registry(
    ca_file: Path | None, insecure: bool, timeout: float
) -> Callable[[str], RegistryClient]:
    """How the use case reaches a registry it names, with the options typed."""
    from mppoci.app import connect

    options = registry_opts.options(ca_file, insecure, timeout)
    return lambda registry: connect(context.session(), registry, options)


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
    from mppoci.app import ClusterRequest, render_for_cluster

    request = ClusterRequest(
        source=source,
        mppoci_image=mppoci_image,
        args=tuple(args or ()),
        runtime_image=runtime_image,
        gateway_image=gateway_image,
        gateway_ip=gateway_ip,
        registry_cidrs=tuple(registry_cidr or ()),
        cluster_cidrs=tuple(cluster_cidr) if cluster_cidr is not None else None,
        registry_secret=registry_secret,
        volumes=tuple(volume or ()),
        secrets=tuple(secret or ()),
        env=tuple(env or ()),
        namespace=namespace,
        name=name,
        arch=arch,
        seccomp_from=seccomp_from,
        insecure=insecure,
        wait_seconds=wait,
        stdin=stdin,
    )

    def deliver(rendering: ClusterRendering) -> None:
        if rendering.unchecked_runtime is not None:
            echo(
                f"warning: --offline: not checked that {rendering.target.runtime_image} holds "
                f"{rendering.unchecked_runtime}",
                err=True,
            )
        _write(rendering, output)

    render_for_cluster(
        context.session(),
        reference,
        request,
        registry=None if offline else _registry(ca_file, insecure, timeout),
        deliver=deliver,
    )


def _write(rendering: ClusterRendering, output: Path | None) -> None:
    from mppoci.app import write_rendering

    target = rendering.target
    if output is None:
        if rendering.rendered.node_seccomp_file is not None:
            raise UserInputError(
                "--seccomp-from node writes a profile file for your nodes",
                hint="pass --output DIR",
            )
        echo(rendering.text(), nl=False)
        return
    written = write_rendering(rendering, output)
    lines = [f"wrote {written.objects_file} ({written.count} objects)"]
    if written.seccomp_file is not None:
        path, relative = written.seccomp_file
        lines.append(f"wrote {path}: copy it to /var/lib/kubelet/seccomp/{relative} on every node")
    lines.append(
        f"apply: kubectl apply -f {written.objects_file}\n"
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
    from mppoci.app import kube

    verified = kube.fetch(
        context.session(),
        reference,
        trust=trust,
        output=output,
        registry=_registry(ca_file, insecure, timeout),
    )
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
    from mppoci.app import kube

    verified = kube.unpack(
        context.session(), bundle, digest=digest, origin=origin, trust=trust, into=into, wait=wait
    )
    assert verified.package is not None
    m = verified.package.manifest
    echo(f"verified {m.name} {m.version} ({verified.digest}); unpacked into {into}", err=True)
