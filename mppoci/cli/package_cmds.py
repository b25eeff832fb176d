"""Commands on packages: init, build, inspect, list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mppoci.cli import context
from mppoci.cli.options import JsonFlag
from mppoci.cli.output import echo

if TYPE_CHECKING:
    from mppoci.app import Digest


def _err(message: str) -> None:
    echo(message, err=True)


def init(
    folder: Annotated[Path, typer.Argument(help="Folder to create (must be new or empty).")],
    name: Annotated[
        str | None, typer.Option(help="Package name, publisher/tool (default local/<folder>).")
    ] = None,
) -> None:
    """Scaffold a working sample package (a Python tool)."""
    from mppoci.app.packages import scaffold

    for path in scaffold(context.session(), folder, name=name):
        _err(f"wrote {path}")
    _err(f"next: mppoci build {folder}")


def build_folder(folder: Path) -> Digest:
    """Build ``folder`` into the store; say what happened on stderr."""
    from mppoci.app.packages import build as build_package

    built = build_package(context.session(), folder)
    if built.replaced is not None:
        _err(f"note: {built.ref_name} was {built.replaced}; the tag now names the new build")
    _err(f"built {built.ref_name} (unsigned)")
    return built.digest


def build(
    folder: Annotated[Path, typer.Argument(help="The package folder (holds mpp.yaml).")],
) -> None:
    """Build a package folder into the local store and print its digest."""
    echo(build_folder(folder))


def inspect(
    ref: Annotated[str, typer.Argument(help="A package folder, or a store reference.")],
    json_out: JsonFlag = False,
) -> None:
    """Show a package's identity, digest, runtime, tools and permissions."""
    from mppoci.app.packages import assess, assess_folder
    from mppoci.app.references import names_folder
    from mppoci.cli.render import as_json, text

    session = context.session()
    view = assess_folder(session, Path(ref)) if names_folder(ref) else assess(session, ref)
    echo(json.dumps(as_json(view), indent=2) if json_out else text(view))


def list_(json_out: JsonFlag = False) -> None:
    """List the packages in the local store."""
    from mppoci.app.packages import list_packages

    session = context.session()
    rows = [
        {"name": p.name, "version": p.version, "digest": p.digest, "signed": p.signed}
        for p in list_packages(session)
    ]
    if json_out:
        echo(json.dumps(rows, indent=2))
        return
    if not rows:
        _err(f"the store at {session.store.root} holds no packages; `mppoci build DIR` adds one")
        return
    width = max(len(str(r["name"])) for r in rows)
    echo(f"{'NAME':<{width}}  {'VERSION':<12}  {'DIGEST':<19}  SIGNED")
    for r in rows:
        short, mark = str(r["digest"])[:19], "yes" if r["signed"] else "no"
        echo(f"{r['name']!s:<{width}}  {r['version']!s:<12}  {short:<19}  {mark}")


def remove(
    ref: Annotated[str, typer.Argument(help="A package in the local store.")],
) -> None:
    """Remove a package and its signatures from the local store's index."""
    from mppoci.app.packages import remove as remove_package

    removed = remove_package(context.session(), ref)
    _err(f"removed {', '.join(removed.names) or removed.digest} from the store")


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(build)
    app.command()(inspect)
    app.command("list")(list_)
    app.command()(remove)
