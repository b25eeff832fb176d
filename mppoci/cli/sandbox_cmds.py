"""Commands of the sandbox: approve, approvals, policy show, run."""

from __future__ import annotations

import getpass
import json
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from mppoci.cli import context, prompts, verifying
from mppoci.cli.options import AllowDowngrade
from mppoci.cli.output import echo
from mppoci.cli.tool_output import TerminalSafeWriter, for_terminal
from mppoci.errors import Error, UserInputError
from mppoci.text import terminal_safe

if TYPE_CHECKING:
    from mppoci.approval.records import Decision
    from mppoci.manifest import Manifest
    from mppoci.sandbox.launch import RunRequest
    from mppoci.trust.gate import Verified

approvals_app = typer.Typer(help="List and revoke approvals.", no_args_is_help=True)
policy_app = typer.Typer(help="Show what a sandbox enforces.", no_args_is_help=True)

MountOpt = Annotated[
    list[str] | None,
    typer.Option("--mount", help="NAME=HOST_PATH for a declared filesystem entry."),
]
EnvOpt = Annotated[
    list[str] | None,
    typer.Option("--env", help="NAME=VALUE, or NAME to take it from your environment."),
]

EXIT_MPPOCI_FAILED = 125  # Docker's convention: mppoci itself refused or failed


def _verified(reference: str, allow_downgrade: bool = False) -> Verified:
    pinned = context.pinned(reference)
    verified = verifying.verify_or_ask(
        context.store(), context.resolve_local(pinned), allow_downgrade=allow_downgrade
    )
    if verified.package is None:
        raise UserInputError(f"{reference} is an OCI image, not an mppoci package")
    verifying.remember(verified)
    return verified


def _show_permissions(manifest: Manifest, decision: Decision) -> None:
    from mppoci.approval.records import Status
    from mppoci.approval.words import permission_lines

    echo(f"\n{manifest.name} {manifest.version} by {manifest.publisher} asks to:", err=True)
    for line in permission_lines(manifest):
        echo(f"  - {terminal_safe(line)}", err=True)
    if decision.status is Status.CHANGED:
        echo("\nCompared with what you approved before:", err=True)
        for line in decision.added:
            echo(f"  + {terminal_safe(line)}", err=True)
        for line in decision.removed:
            echo(f"  - {terminal_safe(line)}", err=True)
        if not decision.added and not decision.removed:
            echo(
                "  (the same sentences, but your approval was recorded by an older mppoci "
                "that did not bind all of them; approve again)",
                err=True,
            )


def _record(manifest: Manifest, verified: Verified, how: str) -> None:
    from functools import partial

    from mppoci.approval.binding import approval_digest
    from mppoci.approval.files import update_approvals
    from mppoci.approval.records import Approval, Approvals
    from mppoci.approval.words import permission_lines

    approval = Approval(
        package=manifest.name,
        publisher=manifest.publisher,
        digest=verified.digest,
        permissions=approval_digest(manifest),
        lines=permission_lines(manifest),
        approved_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        approved_by=getpass.getuser(),
        how=how,
    )
    from mppoci.audit import events

    with events.change(context.locations()):
        update_approvals(context.locations(), partial(Approvals.with_approval, approval=approval))
        events.approval(
            context.locations(),
            "grant",
            manifest.name,
            digest=verified.digest,
            permissions=approval.permissions,
            how=how,
            allows=list(approval.lines),
        )


def _ask_and_record(manifest: Manifest, verified: Verified, decision: Decision) -> bool:
    _show_permissions(manifest, decision)
    if not prompts.confirm("\nAllow this package to run with these permissions?"):
        return False
    _record(manifest, verified, "terminal")
    return True


def approve(
    reference: Annotated[str, typer.Argument(help="A package in the local store.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Approve without asking (recorded as scripted).")
    ] = False,
) -> None:
    """Show what a package may do, and approve it to run with exactly that."""
    from mppoci.approval.check import decide
    from mppoci.approval.records import Status

    verified = _verified(reference)
    assert verified.package is not None
    manifest = verified.package.manifest
    decision = decide(context.locations(), manifest)
    if decision.status is Status.APPROVED:
        echo(f"{manifest.name} is already approved with these permissions", err=True)
        return
    if yes:
        _show_permissions(manifest, decision)
        _record(manifest, verified, "--yes (scripted)")
    elif not prompts.interactive():
        raise UserInputError(
            "approval needs a person at a terminal",
            hint="run it on a terminal, or pass --yes in a script (recorded as such)",
        )
    elif not _ask_and_record(manifest, verified, decision):
        raise UserInputError(f"{manifest.name} was not approved")
    echo(f"approved {manifest.name} {manifest.version}", err=True)


@approvals_app.command("list")
def approvals_list(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List approved packages."""
    from mppoci.approval.files import load_approvals

    approvals = sorted(
        load_approvals(context.locations()).by_package.values(), key=lambda a: a.package
    )
    if json_out:
        echo(
            json.dumps(
                [
                    {
                        "package": a.package,
                        "publisher": a.publisher,
                        "digest": a.digest,
                        "permissions": a.permissions,
                        "approvedAt": a.approved_at,
                        "approvedBy": a.approved_by,
                        "how": a.how,
                        "allows": list(a.lines),
                    }
                    for a in approvals
                ],
                indent=2,
            )
        )
        return
    if not approvals:
        echo("no package is approved", err=True)
    for a in approvals:
        echo(f"{a.package:<30} {a.approved_at}  by {a.approved_by} ({a.how})  {a.digest[:19]}")


@approvals_app.command("revoke")
def approvals_revoke(
    reference: Annotated[str, typer.Argument(help="A package name (publisher/tool[:version]).")],
) -> None:
    """Withdraw an approval: the package will not run until approved again."""
    from functools import partial

    from mppoci.approval.files import load_approvals, update_approvals
    from mppoci.approval.records import Approvals
    from mppoci.errors import NotFoundError

    name = reference.split(":", 1)[0]
    if name not in load_approvals(context.locations()).by_package:
        raise NotFoundError(f"{name} has no approval", hint="see `mppoci approvals list`")
    from mppoci.audit import events

    # Remembered, so that a lock file can never approve it again; only a new approval can.
    revoked_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with events.change(context.locations()):
        update_approvals(
            context.locations(), partial(Approvals.without, package=name, revoked_at=revoked_at)
        )
        events.approval(context.locations(), "revoke", name)
    echo(f"revoked the approval of {name}", err=True)


def _request(mount: list[str] | None, env: list[str] | None, args: list[str] | None) -> RunRequest:
    from mppoci.sandbox.launch import RunRequest

    mounts: dict[str, str] = {}
    for item in mount or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise UserInputError(f"--mount {item!r}: expected NAME=HOST_PATH")
        mounts[name] = path
    values: dict[str, str | None] = {}
    for item in env or []:
        name, sep, value = item.partition("=")
        if not name:
            raise UserInputError(f"--env {item!r}: expected NAME=VALUE or NAME")
        values[name] = value if sep else None
    return RunRequest(mounts=mounts, env=values, args=tuple(args or ()))


@policy_app.command("show")
def policy_show(
    reference: Annotated[str, typer.Argument(help="A package in the local store.")],
    output: Annotated[
        str, typer.Option("--format", help="text, json, docker or seccomp.")
    ] = "text",
    mount: MountOpt = None,
    env: EnvOpt = None,
) -> None:
    """Show exactly what a sandbox for this package enforces."""
    from pathlib import Path

    from mppoci.policy.compiler import compile_spec
    from mppoci.policy.render_docker import docker_create_kwargs, docker_run_text
    from mppoci.policy.spec import SHM_MOUNT
    from mppoci.sandbox.launch import resolve_bindings

    if output not in ("text", "json", "docker", "seccomp"):
        raise UserInputError(f"--format {output!r}: use text, json, docker or seccomp")
    verified = _verified(reference)
    assert verified.package is not None
    manifest = verified.package.manifest
    request = _request(mount, env, None)
    # Required variables the user did not give are shown as placeholders.
    placeholders = {v.name: f"<{v.name}>" for v in manifest.permissions.env if v.required}
    request_env = {**placeholders, **{k: v for k, v in request.env.items()}}
    bindings = resolve_bindings(
        manifest,
        type(request)(request.mounts, request_env, ()),
        context.locations(),
        {**os.environ, **placeholders},
        storage={
            v.name: f"<storage {v.name}: {v.size.text} filesystem>"
            for v in manifest.permissions.storage
        },
    )
    if manifest.permissions.egress:
        from dataclasses import replace

        from mppoci.policy.compiler import EgressBinding

        placeholder = EgressBinding("container:<run relay>", "127.0.0.1", "<generated resolv.conf>")
        bindings = replace(bindings, egress=placeholder)
    spec = compile_spec(
        manifest,
        verified.digest,
        bindings=bindings,
        content_dir=str(Path("<unpacked package content>")),
        protected=[str(p) for p in context.locations().protected()],
    )
    if output == "seccomp":
        echo(json.dumps(json.loads(spec.seccomp_profile), indent=2))
    elif output == "docker":
        echo(docker_run_text(spec))
    elif output == "json":
        kwargs = docker_create_kwargs(spec)
        kwargs["security_opt"] = [
            o if not o.startswith("seccomp=") else "seccomp=<profile>"
            for o in kwargs["security_opt"]
        ]
        kwargs["environment"] = {e.name: ("<secret>" if e.secret else e.value) for e in spec.env}
        echo(json.dumps({"docker": kwargs, "seccompAllowed": spec.seccomp_allowed}, indent=2))
    else:
        from mppoci.approval.words import permission_lines

        echo(f"{manifest.name} {manifest.version} ({verified.digest})")
        for line in permission_lines(manifest):
            echo(f"  - {terminal_safe(line)}")
        echo(
            f"\nEnforced: read-only root, user {spec.user}, all capabilities dropped, "
            f"no-new-privileges, network {spec.network.value}, seccomp allows "
            f"{spec.seccomp_allowed} syscalls, /tmp noexec tmpfs of {spec.tmp_bytes} bytes, "
            f"{SHM_MOUNT} noexec tmpfs of {spec.shm_bytes} bytes,\n"
            f"memory {spec.memory_bytes} bytes (no swap), {spec.nano_cpus / 1e9:g} CPU, "
            f"{spec.pids_limit} processes, timeout {spec.timeout_seconds:g} s"
        )
        echo("Mounts:")
        for m in spec.mounts:
            access = "read-only" if m.read_only else "read-write"
            echo(f"  {m.target} <- {m.source} ({access}, {m.purpose})")


def run(
    reference: Annotated[str, typer.Argument(help="A package in the local store.")],
    args: Annotated[
        list[str] | None, typer.Argument(help="Arguments for the tool (after --).")
    ] = None,
    mount: MountOpt = None,
    env: EnvOpt = None,
    allow_downgrade: AllowDowngrade = False,
    audit_args: Annotated[
        bool,
        typer.Option(
            "--audit-args", help="Keep the arguments in the audit log (default: a digest)."
        ),
    ] = False,
    raw_output: Annotated[
        bool,
        typer.Option(
            "--raw-output",
            help="Pass the tool's output to the terminal unescaped (it may then forge "
            "mppoci's messages or send terminal commands).",
        ),
    ] = False,
) -> None:
    """Verify, check approval, and run a package in a fresh locked-down container.

    On a terminal, the tool's stdout and stderr are escaped (controls and
    invisible characters shown as \\x1b, \\u202e ...); through a pipe they
    are passed byte for byte.

    Exits with the tool's exit code; 125 when mppoci itself refused or failed."""
    try:
        code = _run(reference, args, mount, env, allow_downgrade, audit_args, raw_output)
    except Error as e:
        echo(f"mppoci: error: {e.diagnostics()}", err=True)
        raise typer.Exit(EXIT_MPPOCI_FAILED) from None
    raise typer.Exit(code)


def _run(
    reference: str,
    args: list[str] | None,
    mount: list[str] | None,
    env: list[str] | None,
    allow_downgrade: bool,
    audit_args: bool,
    raw_output: bool = False,
) -> int:
    from mppoci.api import execute, require_approval
    from mppoci.approval.check import decide
    from mppoci.errors import NotApprovedError

    request = _request(mount, env, args)
    verified = _verified(reference, allow_downgrade)
    assert verified.package is not None
    manifest = verified.package.manifest
    try:
        require_approval(
            context.locations(),
            verified.package,
            approving_lock=context.approving_lock(),
            reference=reference,
        )
    except NotApprovedError:
        decision = decide(context.locations(), manifest)
        if not (prompts.interactive() and _ask_and_record(manifest, verified, decision)):
            raise
    stdout = for_terminal(sys.stdout.buffer, is_terminal=sys.stdout.isatty(), raw=raw_output)
    stderr = for_terminal(sys.stderr.buffer, is_terminal=sys.stderr.isatty(), raw=raw_output)
    try:
        result = execute(
            context.store(),
            context.locations(),
            verified,
            request,
            stdin=sys.stdin.buffer,
            stdout=stdout,
            stderr=stderr,
            environ=os.environ,
            record_args=audit_args,
        )
    finally:
        for stream in (stdout, stderr):
            if isinstance(stream, TerminalSafeWriter):
                stream.finish()
    resources = manifest.permissions.resources
    if result.timed_out:
        echo(
            f"mppoci: {manifest.name} ran out of time ({resources.timeout.text}) and was stopped",
            err=True,
        )
    if result.oom_killed:
        echo(
            f"mppoci: {manifest.name} ran out of memory ({resources.memory.text}) and was stopped",
            err=True,
        )
    return result.exit_code


def register(app: typer.Typer) -> None:
    app.command()(approve)
    app.add_typer(approvals_app, name="approvals")
    app.add_typer(policy_app, name="policy")
    app.command()(run)
