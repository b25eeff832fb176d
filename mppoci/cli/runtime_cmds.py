"""``mppoci runtime``: build and list the base images tools run on."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mppoci.cli import context, registry_opts
from mppoci.cli.output import echo

app = typer.Typer(
    help="Build and list runtime images (recipes in runtimes/).", no_args_is_help=True
)


def _log(message: str) -> None:
    echo(message, err=True)


@app.command("build")
def build(
    name: Annotated[str, typer.Argument(help="A recipe name, e.g. busybox or python3.")],
) -> None:
    """Build a runtime image locally from Debian packages and print its image ID."""
    from mppoci.app.runtimes import build_runtime

    built = build_runtime(context.session(), name, log=_log)
    if built.gateway_pinned:  # the egress gateway's runtime: pinned by ID from now on
        echo(f"the egress gateway now runs on {built.image.image_id}", err=True)
    echo(built.image.image_id)


@app.command("list")
def list_(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List runtime recipes and the image each is built as here."""
    from mppoci.app.runtimes import list_runtimes

    rows = [
        {"name": r.name, "description": r.description, "imageId": r.image_id}
        for r in list_runtimes(context.session())
    ]
    if json_out:
        echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        built = r["imageId"] or "not built (mppoci runtime build NAME)"
        echo(f"{r['name']:<10}  {built}  {r['description']}")


@app.command("push")
def push(
    runtime: Annotated[str, typer.Argument(help="A recipe name built here, or an image ID.")],
    destination: Annotated[str, typer.Argument(help="REGISTRY/REPOSITORY to push to.")],
    ca_file: registry_opts.CaFile = None,
    insecure: registry_opts.Insecure = False,
    timeout: registry_opts.Timeout = 30.0,
) -> None:
    """Push a runtime image so packages pinned to it can run on other machines."""
    from mppoci.app.runtimes import push_runtime

    options = registry_opts.options(ca_file, insecure, timeout)
    pushed = push_runtime(context.session(), runtime, destination, options)
    echo(
        f"pushed {pushed.image_id} as {pushed.repository}:{pushed.tag}\n"
        f"on Kubernetes: --runtime-image {pushed.repository}@{pushed.manifest}",
        err=True,
    )
    echo(pushed.image_id)


@app.command("pull")
def pull(
    source: Annotated[str, typer.Argument(help="REGISTRY/REPOSITORY@sha256:<image id>")],
    ca_file: registry_opts.CaFile = None,
    insecure: registry_opts.Insecure = False,
    timeout: registry_opts.Timeout = 30.0,
) -> None:
    """Pull a runtime image by its ID (the digest a package pins) into Docker."""
    from mppoci.app.runtimes import pull_runtime

    options = registry_opts.options(ca_file, insecure, timeout)
    image_id = pull_runtime(context.session(), source, options)
    echo(f"loaded runtime {image_id}", err=True)
    echo(image_id)
