"""Planning a sandbox without running it: the container a run would get.

``mppoci policy show`` prints it; ``mppoci serve`` compiles it at start, so
that what every call would be refused for (a required variable not given, a
folder that may not be bound, a name nobody declares) is refused once,
before any client connects. What exists only during a run (the unpacked
content, the storage filesystems, the egress relay) is stood in for by
placeholders that name it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mppoci.app.session import Session

if TYPE_CHECKING:
    from mppoci.policy.spec import ContainerSpec
    from mppoci.sandbox.launch import RunRequest
    from mppoci.trust.gate import Verified

CONTENT_PLACEHOLDER = "<unpacked package content>"


@dataclass(frozen=True, slots=True)
class SandboxPlan:
    """The container a run of a verified package would get, and what it
    declares, in the words an approval binds."""

    spec: ContainerSpec
    lines: tuple[str, ...]  # the permission sentences

    @property
    def shm_mount(self) -> str:
        from mppoci.policy.spec import SHM_MOUNT

        return SHM_MOUNT

    def docker_run_text(self) -> str:
        """The ``docker run`` command line, for people to read."""
        from mppoci.policy.render_docker import docker_run_text

        return docker_run_text(self.spec)

    def docker_create_kwargs(self) -> dict[str, Any]:
        """What mppoci passes to the engine to create the container."""
        from mppoci.policy.render_docker import docker_create_kwargs

        return docker_create_kwargs(self.spec)


def plan_sandbox(
    session: Session, verified: Verified, request: RunRequest, *, placeholders: bool
) -> SandboxPlan:
    """Compile the sandbox of a run with ``request``, with placeholders for
    what only a run prepares. ``placeholders``: required variables and
    folders the request does not give are shown as ``<NAME>`` and
    ``<the folder you bind with --mount NAME=PATH>`` (to show a plan) rather
    than refused (to check one).

    Raises PolicyError, UserInputError (a binding that cannot be granted)."""
    from mppoci.approval.words import permission_lines
    from mppoci.policy.compiler import EgressBinding, compile_spec
    from mppoci.sandbox.launch import resolve_bindings

    assert verified.package is not None
    manifest = verified.package.manifest
    environ = dict(session.environ)
    if placeholders:
        given = {v.name: f"<{v.name}>" for v in manifest.permissions.env if v.required}
        request = replace(request, env={**given, **request.env})
        environ.update(given)
    bindings = resolve_bindings(
        manifest,
        request,
        session.locations,
        environ,
        storage={
            v.name: f"<storage {v.name}: {v.size.text} filesystem>"
            for v in manifest.permissions.storage
        },
    )
    if manifest.permissions.egress:
        relay = EgressBinding("container:<run relay>", "127.0.0.1", "<generated resolv.conf>")
        bindings = replace(bindings, egress=relay)
    spec = compile_spec(
        manifest,
        verified.digest,
        bindings=bindings,
        content_dir=CONTENT_PLACEHOLDER,
        protected=[str(p) for p in session.locations.protected()],
        placeholders=placeholders,
    )
    return SandboxPlan(spec, permission_lines(manifest))
