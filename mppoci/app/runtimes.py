"""Runtime images: the base images tools run on, built here from recipes,
moved through registries by their image ID."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mppoci.app.remote import DEFAULT_OPTIONS, RegistryOptions
from mppoci.app.session import Session

if TYPE_CHECKING:
    from mppoci.digest import Digest
    from mppoci.runtimes.images import RuntimeImage


@dataclass(frozen=True, slots=True)
class BuiltRuntime:
    """A runtime image built here and loaded into Docker."""

    image: RuntimeImage
    # The egress gateway runs on the python3 runtime: building it pins the
    # gateway to this image ID.
    gateway_pinned: bool


def build_runtime(session: Session, name: str, *, log: Callable[[str], None]) -> BuiltRuntime:
    """Build a runtime image locally from its recipe (SOURCE_DATE_EPOCH from
    the session, else 0) and load it into Docker; ``log`` hears the steps."""
    from mppoci.runtimes.images import build_runtime as build_image

    image = build_image(
        name, log=log, source_date_epoch=session.source_date_epoch() or 0, engine=session.engine()
    )
    log(f"built runtime {image.name} as {image.tag}")
    if image.name != "python3":
        return BuiltRuntime(image, gateway_pinned=False)
    from mppoci.egress.pin import write_pin

    write_pin(session.locations, image.image_id)
    return BuiltRuntime(image, gateway_pinned=True)


@dataclass(frozen=True, slots=True)
class RuntimeRow:
    """A recipe of the runtime listing."""

    name: str
    description: str
    image_id: Digest | None  # None: not built here


def list_runtimes(session: Session) -> tuple[RuntimeRow, ...]:
    """Every runtime recipe, and the image it is built as here (if it is)."""
    from mppoci.errors import RuntimeEngineError
    from mppoci.runtimes.images import local_runtime_id
    from mppoci.runtimes.recipes import list_recipes

    rows = []
    for recipe in list_recipes():
        try:
            image_id = local_runtime_id(recipe.name, session.engine())
        except RuntimeEngineError:
            image_id = None
        rows.append(RuntimeRow(recipe.name, recipe.description, image_id))
    return tuple(rows)


@dataclass(frozen=True, slots=True)
class PushedRuntime:
    """A runtime image in a registry, tagged by its ID."""

    image_id: Digest
    repository: str  # registry/repository
    tag: str
    manifest: Digest  # what Kubernetes pulls: repository@manifest


def push_runtime(
    session: Session,
    runtime: str,
    destination: str,
    options: RegistryOptions = DEFAULT_OPTIONS,
) -> PushedRuntime:
    """Push a runtime image (a recipe name built here, or an image ID) to
    ``destination``, tagged by its ID. Raises NotFoundError when not built."""
    from mppoci.app.remote import connect
    from mppoci.digest import Digest, is_digest
    from mppoci.errors import NotFoundError
    from mppoci.reference import parse_remote
    from mppoci.runtimes.images import local_runtime_id
    from mppoci.runtimes.transfer import push_runtime as push_image

    engine = session.engine()
    image_id = Digest(runtime) if is_digest(runtime) else local_runtime_id(runtime, engine)
    if image_id is None:
        raise NotFoundError(
            f"runtime {runtime!r} is not built here", hint=f"`mppoci runtime build {runtime}`"
        )
    dest = parse_remote(destination)
    client = connect(session, dest.registry, options)
    with session.store.staging() as scratch:
        tag, manifest = push_image(engine, client, image_id, dest, scratch)
    return PushedRuntime(image_id, f"{dest.registry}/{dest.repository}", tag, manifest)


def pull_runtime(
    session: Session, source: str, options: RegistryOptions = DEFAULT_OPTIONS
) -> Digest:
    """Pull a runtime image by its ID (``REGISTRY/REPOSITORY@sha256:<id>``,
    the digest a package pins) into Docker. Returns the image ID."""
    from mppoci.app.remote import connect
    from mppoci.reference import parse_remote
    from mppoci.runtimes.transfer import pull_runtime as pull_image

    ref = parse_remote(source)
    client = connect(session, ref.registry, options)
    with session.store.staging() as scratch:
        return pull_image(session.engine(), client, ref, scratch)
