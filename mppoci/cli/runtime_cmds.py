"""``mppoci runtime``: build and list the base images tools run on."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mppoci.cli import context

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
        log=lambda msg: typer.echo(msg, err=True),
        source_date_epoch=context.source_date_epoch() or 0,
    )
    typer.echo(f"built runtime {image.name} as {image.tag}", err=True)
    typer.echo(image.image_id)


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
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        built = r["imageId"] or "not built (mppoci runtime build NAME)"
        typer.echo(f"{r['name']:<10}  {built}  {r['description']}")
