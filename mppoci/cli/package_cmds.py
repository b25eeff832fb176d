"""Commands on packages: init, build, inspect, list."""

from __future__ import annotations

import getpass
import json
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mppoci.cli import context
from mppoci.cli.options import JsonFlag
from mppoci.cli.output import echo
from mppoci.digest import Digest
from mppoci.errors import NotFoundError
from mppoci.reference import parse_local

if TYPE_CHECKING:
    from mppoci.cli.render import PackageView
    from mppoci.manifest import RuntimeRef


def _err(message: str) -> None:
    echo(message, err=True)


def is_folder_arg(arg: str) -> bool:
    """Conventions: a path with ``/`` or ``.`` that exists on disk wins over a store name."""
    return ("/" in arg or "." in arg) and Path(arg).exists()


def _resolver(ref: RuntimeRef) -> RuntimeRef:
    # Imported here: docker-py is slow to import and most commands never need it.
    from mppoci.runtimes.images import resolve_runtime

    return resolve_runtime(ref)


def _no_resolution(ref: RuntimeRef) -> RuntimeRef:
    return ref


def init(
    folder: Annotated[Path, typer.Argument(help="Folder to create (must be new or empty).")],
    name: Annotated[
        str | None, typer.Option(help="Package name, publisher/tool (default local/<folder>).")
    ] = None,
) -> None:
    """Scaffold a working sample package (a Python tool)."""
    from mppoci.package.scaffold import default_name, scaffold

    package_name = name or default_name(folder)
    parse_local(package_name)  # the same grammar as references, checked before writing
    author = f"{getpass.getuser()} <{getpass.getuser()}@{socket.gethostname()}>"
    for path in scaffold(folder, name=package_name, author=author):
        _err(f"wrote {path}")
    _err(f"next: mppoci build {folder}")


def build_folder(folder: Path) -> Digest:
    """Build ``folder`` into the store; say what happened on stderr."""
    from mppoci.package.artifact import build_into_store

    artifact, replaced = build_into_store(
        folder,
        context.store(),
        resolve_runtime=_resolver,
        source_date_epoch=context.source_date_epoch(),
    )
    if replaced is not None and replaced.digest != artifact.digest:
        _err(f"note: {artifact.ref_name} was {replaced.digest}; the tag now names the new build")
    _err(f"built {artifact.ref_name} (unsigned)")
    return artifact.digest


def build(
    folder: Annotated[Path, typer.Argument(help="The package folder (holds mpp.yaml).")],
) -> None:
    """Build a package folder into the local store and print its digest."""
    echo(build_folder(folder))


def _verification_status(digest: Digest) -> tuple[str, str]:
    """Re-verify as every load does, but report instead of refusing."""
    from mppoci.errors import DigestMismatchError, RollbackError, VerificationError
    from mppoci.trust import files
    from mppoci.trust.gate import verify
    from mppoci.trust.verdict import Verdict

    locations = context.locations()
    try:
        verified = verify(
            context.store(),
            digest,
            policy=files.load_policy(locations),
            rollback=files.load_rollback(locations),
        )
    except DigestMismatchError as e:
        return "tampered", e.message
    except RollbackError as e:
        return "rollback", e.message
    except VerificationError as e:
        if isinstance(e.verdict, Verdict) and not e.verdict.results:
            return "unsigned", "no signature; sign it with `mppoci sign` before you share it"
        return "untrusted", e.message
    accepted = verified.verdict.accepted
    return "verified", accepted.detail if accepted else ""


def inspect(
    ref: Annotated[str, typer.Argument(help="A package folder, or a store reference.")],
    json_out: JsonFlag = False,
) -> None:
    """Show a package's identity, digest, runtime, tools and permissions."""
    from mppoci.cli.render import PackageView, as_json, text

    if is_folder_arg(ref):
        view = _inspect_folder(Path(ref))
        echo(json.dumps(as_json(view), indent=2) if json_out else text(view))
        return
    from mppoci.api import load_audited

    digest = context.resolve_local(context.pinned(ref))
    package = load_audited(context.store(), context.locations(), digest)
    status, detail = _verification_status(package.digest)
    view = PackageView(package.manifest, package.digest, "store", status, detail)
    echo(json.dumps(as_json(view), indent=2) if json_out else text(view))


def _inspect_folder(folder: Path) -> PackageView:
    from mppoci.cli.render import PackageView
    from mppoci.package.artifact import preview, read_source_manifest

    epoch = context.source_date_epoch()
    try:
        artifact = preview(folder, resolve_runtime=_resolver, source_date_epoch=epoch)
    except NotFoundError as e:
        if not (folder / "mpp.yaml").is_file():
            raise
        manifest = read_source_manifest(folder)
        return PackageView(manifest, None, "folder", "not-built", e.message)
    detail = "a fresh build from a folder, never signed; `mppoci build` stores it"
    return PackageView(artifact.manifest, artifact.digest, "folder", "unsigned", detail)


def list_(json_out: JsonFlag = False) -> None:
    """List the packages in the local store."""
    from mppoci.package.stored import package_tags
    from mppoci.signing.cosign_manifest import signature_tag

    store = context.store()
    tagged = {
        entry.annotations.get("org.opencontainers.image.ref.name") for entry in store.entries()
    }
    rows: list[dict[str, str | bool]] = []
    for tag, digest in sorted(package_tags(store).items()):
        name, _, version = tag.partition(":")
        signed = signature_tag(digest) in tagged
        rows.append({"name": name, "version": version, "digest": digest, "signed": signed})
    if json_out:
        echo(json.dumps(rows, indent=2))
        return
    if not rows:
        _err(f"the store at {store.root} holds no packages; `mppoci build DIR` adds one")
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
    from mppoci.package.stored import package_tags
    from mppoci.signing.cosign_manifest import signature_tag

    store = context.store()
    digest = context.resolve_local(ref)
    names = [tag for tag, d in package_tags(store).items() if d == digest]
    for name in names:
        store.untag(name)
    store.untag(signature_tag(digest))
    _err(f"removed {', '.join(names) or digest} from the store")


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(build)
    app.command()(inspect)
    app.command("list")(list_)
    app.command()(remove)
