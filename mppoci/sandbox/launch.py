"""One run of a verified, approved package: bindings resolved on the host,
content unpacked fresh from verified bytes, spec compiled, container run."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from mppoci.egress.network import OWNER_LABEL, EgressSettings, egress_network, owner, sweep
from mppoci.egress.pin import gateway_image
from mppoci.engine.protocol import Engine
from mppoci.errors import ImageMissingError, NotFoundError, RuntimeEngineError, UserInputError
from mppoci.locations import Locations
from mppoci.manifest import Manifest
from mppoci.package.extract import extract_content
from mppoci.package.stored import StoredPackage
from mppoci.policy.compiler import (
    Bindings,
    EgressBinding,
    compile_spec,
    refuse_fixed,
    refuse_unbound,
)
from mppoci.policy.spec import ContainerSpec
from mppoci.sandbox.docker_runner import RunResult, run_container
from mppoci.sandbox.host_facts import gather
from mppoci.sandbox.storage import mounted_storage
from mppoci.store.layout import Store


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What the user asked for: ``mounts`` name -> host path as typed; ``env``
    name -> value, or None to take the value from the host's environment."""

    mounts: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str | None] = field(default_factory=dict)
    args: tuple[str, ...] = ()


def _host_folder(name: str, typed: str) -> str:
    path = Path(typed).expanduser()
    if not path.exists():
        raise NotFoundError(f"--mount {name}={typed}: {path} does not exist")
    # Resolved here, so the compiler judges where a symlink really points.
    return os.path.realpath(path)


def refuse_at_start(manifest: Manifest, request: RunRequest) -> None:
    """What the request lacks or may not ask for, whatever the host holds: a
    required folder not bound, a fixed variable given. Checked before
    anything is unpacked or made (the compiler checks again).

    Raises PolicyError."""
    refuse_unbound(manifest, request.mounts)
    refuse_fixed(manifest, request.env)


def resolve_bindings(
    manifest: Manifest,
    request: RunRequest,
    locations: Locations,
    environ: Mapping[str, str],
    *,
    storage: Mapping[str, str] | None = None,
) -> Bindings:
    refuse_fixed(manifest, request.env)
    env: dict[str, str] = {}
    for name, value in request.env.items():
        if value is None:
            if name not in environ:
                raise UserInputError(
                    f"--env {name}: {name} is not set in your environment",
                    hint=f"set it, or pass --env {name}=VALUE",
                )
            value = environ[name]
        env[name] = value
    return Bindings(
        mounts={name: _host_folder(name, path) for name, path in request.mounts.items()},
        env=env,
        storage=dict(storage or {}),
    )


def prepare_spec(
    package: StoredPackage,
    request: RunRequest,
    locations: Locations,
    content_dir: Path,
    environ: Mapping[str, str],
    egress: EgressBinding | None = None,
    run_id: str = "",
    storage: Mapping[str, str] | None = None,
) -> ContainerSpec:
    bindings = replace(
        resolve_bindings(package.manifest, request, locations, environ, storage=storage),
        egress=egress,
    )
    sources = [s for s in bindings.mounts.values() if isinstance(s, str)]
    return compile_spec(
        package.manifest,
        package.digest,
        bindings=bindings,
        content_dir=str(content_dir),
        protected=[str(p) for p in locations.protected()],
        host=gather(locations, sources),
        args=request.args,
        run_id=run_id or secrets.token_hex(8),
        labels={OWNER_LABEL: owner()},
    )


def unpack(store: Store, package: StoredPackage, target: Path) -> None:
    """Unpack the content layer fresh from the store (re-hashed while read)."""
    with store.open_verified(package.oci.layers[0].digest, what="package content") as f:
        extract_content(f, target, limits=store.limits)


def launch(
    store: Store,
    package: StoredPackage,
    request: RunRequest,
    locations: Locations,
    *,
    stdin: IO[bytes] | None,
    stdout: IO[bytes],
    stderr: IO[bytes],
    environ: Mapping[str, str] | None = None,
) -> RunResult:
    """Run a package that the caller verified and whose approval it checked.

    Raises PolicyError, RuntimeEngineError, UntrustedContentError."""
    import requests

    try:
        return _launch(store, package, request, locations, stdin, stdout, stderr, environ)
    except (requests.exceptions.ConnectionError, ConnectionError) as e:
        # The engine went away mid-run (stopped, crashed, restarted). What it
        # could not remove is swept by the next run once it is back.
        raise RuntimeEngineError(
            "the Docker engine stopped answering during the run; the tool's result is unknown",
            hint="start the engine again (`make system-deps` starts it here); the next "
            "`mppoci run` removes what this run left behind",
        ) from e


def _launch(
    store: Store,
    package: StoredPackage,
    request: RunRequest,
    locations: Locations,
    stdin: IO[bytes] | None,
    stdout: IO[bytes],
    stderr: IO[bytes],
    environ: Mapping[str, str] | None,
) -> RunResult:
    from mppoci.engine.docker_engine import connect

    env = environ if environ is not None else os.environ
    engine = connect(environ=env)
    refuse_at_start(package.manifest, request)  # before anything is made or swept
    sweep(engine)  # what runs killed on this host left behind
    run_id = secrets.token_hex(8)
    with (
        tempfile.TemporaryDirectory(prefix="mppoci-run-") as tmp,
        mounted_storage(locations, package.manifest) as storage,
    ):
        content = Path(tmp) / "pkg"
        unpack(store, package, content)
        if not package.manifest.permissions.egress:
            spec = prepare_spec(
                package, request, locations, content, env, run_id=run_id, storage=storage
            )
            check_runtime(engine, spec)
            return run_container(engine, spec, stdin=stdin, stdout=stdout, stderr=stderr)
        with egress_network(
            engine,
            rules=package.manifest.permissions.egress,
            run_id=run_id,
            gateway_image=gateway_image(locations, env),
            settings=EgressSettings.from_environ(env),
        ) as egress:
            binding = EgressBinding(egress.network, "127.0.0.1", egress.resolv_conf)
            spec = prepare_spec(package, request, locations, content, env, binding, run_id, storage)
            check_runtime(engine, spec)
            result = run_container(engine, spec, stdin=stdin, stdout=stdout, stderr=stderr)
        return replace(result, network_events=tuple(egress.events))


def check_runtime(engine: Engine, spec: ContainerSpec) -> None:
    image_id = engine.image_id(spec.image)
    if image_id is None:
        raise ImageMissingError(spec.image, pinned=True)
    if spec.image.startswith("sha256:") and image_id != spec.image:
        raise RuntimeEngineError(f"the engine resolved {spec.image} to another image ({image_id})")
