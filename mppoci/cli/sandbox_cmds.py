"""Commands of the sandbox: approve, approvals, policy show, run."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from mppoci.app import Error, UserInputError, terminal_safe
from mppoci.cli import context, prompts, run_opts
from mppoci.cli.options import AllowDowngrade
from mppoci.cli.output import echo
from mppoci.cli.run_opts import EnvOpt, MountOpt
from mppoci.cli.tool_output import TerminalSafeWriter, for_terminal

approvals_app = typer.Typer(help="List and revoke approvals.", no_args_is_help=True)
policy_app = typer.Typer(help="Show what a sandbox enforces.", no_args_is_help=True)

EXIT_MPPOCI_FAILED = 125  # Docker's convention: mppoci itself refused or failed


def approve(
    reference: Annotated[str, typer.Argument(help="A package in the local store.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Approve without asking (recorded as scripted).")
    ] = False,
) -> None:
    """Show what a package may do, and approve it to run with exactly that."""
    from mppoci.app import approve as approve_reviewed
    from mppoci.app import open_verified, review

    session = context.session()
    reviewed = review(session, open_verified(session, reference))
    question = reviewed.question
    if reviewed.approved:
        echo(f"{question.package} is already approved with these permissions", err=True)
        return
    if yes:
        prompts.show_permissions(question)
        approve_reviewed(session, reviewed, scripted=True)
    elif not prompts.interactive():
        raise UserInputError(
            "approval needs a person at a terminal",
            hint="run it on a terminal, or pass --yes in a script (recorded as such)",
        )
    elif not approve_reviewed(session, reviewed):
        raise UserInputError(f"{question.package} was not approved")
    echo(f"approved {question.package} {question.version}", err=True)


@approvals_app.command("list")
def approvals_list(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List approved packages."""
    from mppoci.app import approvals as approvals_of

    approvals = approvals_of(context.session())
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
    from mppoci.app import revoke

    # Remembered, so that a lock file can never approve it again; only a new approval can.
    name = revoke(context.session(), reference)
    echo(f"revoked the approval of {name}", err=True)


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
    from mppoci.app import open_verified, plan_sandbox

    if output not in ("text", "json", "docker", "seccomp"):
        raise UserInputError(f"--format {output!r}: use text, json, docker or seccomp")
    session = context.session()
    verified = open_verified(session, reference)
    assert verified.package is not None
    manifest = verified.package.manifest
    # Required variables the user did not give are shown as placeholders.
    plan = plan_sandbox(session, verified, run_opts.request(mount, env, None), placeholders=True)
    spec = plan.spec
    if output == "seccomp":
        echo(json.dumps(json.loads(spec.seccomp_profile), indent=2))
    elif output == "docker":
        echo(plan.docker_run_text())
    elif output == "json":
        kwargs = plan.docker_create_kwargs()
        kwargs["security_opt"] = [
            o if not o.startswith("seccomp=") else "seccomp=<profile>"
            for o in kwargs["security_opt"]
        ]
        kwargs["environment"] = {e.name: ("<secret>" if e.secret else e.value) for e in spec.env}
        echo(json.dumps({"docker": kwargs, "seccompAllowed": spec.seccomp_allowed}, indent=2))
    else:
        echo(f"{manifest.name} {manifest.version} ({verified.digest})")
        for line in plan.lines:
            echo(f"  - {terminal_safe(line)}")
        echo(
            f"\nEnforced: read-only root, user {spec.user}, all capabilities dropped, "
            f"no-new-privileges, network {spec.network.value}, seccomp allows "
            f"{spec.seccomp_allowed} syscalls, /tmp noexec tmpfs of {spec.tmp_bytes} bytes, "
            f"{plan.shm_mount} noexec tmpfs of {spec.shm_bytes} bytes,\n"
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
    from mppoci.app import authorize, execute, open_verified, stopped_by

    session = context.session()
    request = run_opts.request(mount, env, args)
    verified = open_verified(session, reference, allow_downgrade=allow_downgrade)
    assert verified.package is not None
    manifest = verified.package.manifest
    authorize(session, verified, reference=reference)
    stdout = for_terminal(sys.stdout.buffer, is_terminal=sys.stdout.isatty(), raw=raw_output)
    stderr = for_terminal(sys.stderr.buffer, is_terminal=sys.stderr.isatty(), raw=raw_output)
    try:
        result = execute(
            session,
            verified,
            request,
            stdin=sys.stdin.buffer,
            stdout=stdout,
            stderr=stderr,
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
    stopped = None if result.timed_out or result.oom_killed else stopped_by(result.exit_code)
    said = stopped.describe(manifest.name) if stopped is not None else None
    if said is not None:
        echo(f"mppoci: {said}", err=True)
    return result.exit_code


def register(app: typer.Typer) -> None:
    app.command()(approve)
    app.add_typer(approvals_app, name="approvals")
    app.add_typer(policy_app, name="policy")
    app.command()(run)
