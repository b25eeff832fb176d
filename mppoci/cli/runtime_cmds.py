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


@app.command("build")
def build(
    name: Annotated[str, typer.Argument(help="A recipe name, e.g. busybox or python3.")],
) -> None:
    """Build a runtime image locally from Debian packages and print its image ID."""
    from mppoci.runtimes.images import build_runtime

    image = build_runtime(
        name,
        log=lambda msg: echo(msg, err=True),
        source_date_epoch=context.source_date_epoch() or 0,
    )
    echo(f"built runtime {image.name} as {image.tag}", err=True)
    if image.name == "python3":  # the egress gateway's runtime: pinned by ID from now on
        from mppoci.egress.pin import write_pin

        write_pin(context.locations(), image.image_id)
        echo(f"the egress gateway now runs on {image.image_id}", err=True)
    echo(image.image_id)


@app.command("list")
def list_(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List runtime recipes and the image each is built as here."""
    from mppoci.errors import RuntimeEngineError
    from mppoci.runtimes.images import local_runtime_id
    from mppoci.runtimes.recipes import list_recipes

    rows = []
    for recipe in list_recipes():
        try:
            image_id = local_runtime_id(recipe.name)
        except RuntimeEngineError:
            image_id = None
        rows.append({"name": recipe.name, "description": recipe.description, "imageId": image_id})
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
    from mppoci.digest import Digest, is_digest
    from mppoci.engine.docker_engine import connect
    from mppoci.errors import NotFoundError
    from mppoci.reference import parse_remote
    from mppoci.runtimes.images import local_runtime_id
    from mppoci.runtimes.transfer import push_runtime

    image_id = Digest(runtime) if is_digest(runtime) else local_runtime_id(runtime)
    if image_id is None:
        raise NotFoundError(
            f"runtime {runtime!r} is not built here", hint=f"`mppoci runtime build {runtime}`"
        )
    dest = parse_remote(destination)
    client = registry_opts.client(dest.registry, ca_file, insecure, timeout)
    with context.store().staging() as scratch:
        tag, manifest = push_runtime(connect(), client, image_id, dest, scratch)
    repository = f"{dest.registry}/{dest.repository}"
    echo(
        f"pushed {image_id} as {repository}:{tag}\n"
        f"on Kubernetes: --runtime-image {repository}@{manifest}",
        err=True,
    )
    echo(image_id)


@app.command("pull")
def pull(
    source: Annotated[str, typer.Argument(help="REGISTRY/REPOSITORY@sha256:<image id>")],
    ca_file: registry_opts.CaFile = None,
    insecure: registry_opts.Insecure = False,
    timeout: registry_opts.Timeout = 30.0,
) -> None:
    """Pull a runtime image by its ID (the digest a package pins) into Docker."""
    from mppoci.engine.docker_engine import connect
    from mppoci.reference import parse_remote
    from mppoci.runtimes.transfer import pull_runtime

    ref = parse_remote(source)
    client = registry_opts.client(ref.registry, ca_file, insecure, timeout)
    with context.store().staging() as scratch:
        image_id = pull_runtime(connect(), client, ref, scratch)
    echo(f"loaded runtime {image_id}", err=True)
    echo(image_id)
