"""``mppoci audit``: read, check and export the audit trail."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mppoci.app import UntrustedContentError, terminal_safe
from mppoci.cli import context
from mppoci.cli.output import echo

if TYPE_CHECKING:
    from mppoci.app.auditing import AuditFilter

app = typer.Typer(help="Show, verify and export the audit trail.", no_args_is_help=True)

PackageOpt = Annotated[str | None, typer.Option("--package", help="Only this package.")]
EventOpt = Annotated[
    str | None, typer.Option("--event", help="Only events starting with this (run, verify, trust).")
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="From this UTC time (2026-11-24T10:00).")
]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Before this UTC time.")]


def _selection(
    package: str | None, event: str | None, since: str | None, until: str | None
) -> AuditFilter:
    from mppoci.app.auditing import AuditFilter

    return AuditFilter(package, event, since, until)


def _summary(record: dict[str, Any]) -> str:
    data = record.get("data") or {}
    event = record.get("event", "")
    if event == "run":
        what = f"{data.get('package')} {data.get('version')} -> {data.get('outcome')}"
        if data.get("exitCode") is not None:
            what += f" (exit {data.get('exitCode')}, {data.get('durationMs')} ms)"
    elif event == "verify":
        what = f"{data.get('subject')}: {data.get('outcome')} ({data.get('detail')})"
    else:
        what = ", ".join(f"{k}={v}" for k, v in sorted(data.items()) if k not in ("allows",))
    user = (record.get("actor") or {}).get("user", "?")
    return f"{record.get('seq'):>6}  {record.get('time')}  {user:<10} {event:<16} {what}"


@app.command("show")
def show(
    package: PackageOpt = None,
    event: EventOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show audit records, newest last."""
    from mppoci.app.auditing import audit_records

    selected = audit_records(context.session(), _selection(package, event, since, until))
    if json_out:
        echo(json.dumps(selected, indent=2))
        return
    for record in selected:
        # One record, one line: a tool-sent host name may carry a newline.
        echo(terminal_safe(_summary(record)))


@app.command("export")
def export(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
    package: PackageOpt = None,
    event: EventOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
) -> None:
    """Export records as JSON lines for a SIEM (fields: docs/audit.md)."""
    from mppoci.app.auditing import export as export_records
    from mppoci.app.auditing import export_lines

    selection = _selection(package, event, since, until)
    if output is None:
        sys.stdout.writelines(export_lines(context.session(), selection))
        return
    count = export_records(context.session(), output, selection)
    echo(f"exported {count} records to {output}", err=True)


@app.command("checkpoint")
def checkpoint(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Print the head of the log (sequence and hash); keep it elsewhere to detect
    records later cut off the end."""
    from mppoci.app.auditing import checkpoint as take_checkpoint

    point = take_checkpoint(context.session(), output)
    if output is None:
        echo(point.text, nl=False)
    else:
        echo(f"checkpoint at record {point.seq} written to {output}", err=True)


@app.command("verify")
def verify(
    checkpoint_file: Annotated[
        Path | None, typer.Option("--checkpoint", help="A checkpoint from `audit checkpoint`.")
    ] = None,
    key: Annotated[
        Path | None, typer.Option("--key", help="Audit public key (PEM) to check signatures.")
    ] = None,
) -> None:
    """Check the hash chain (and signatures); name every broken record."""
    from mppoci.app.auditing import verify_trail

    check = verify_trail(context.session(), checkpoint_file=checkpoint_file, key_file=key)
    report, where = check.report, check.path
    if report.torn_tail:
        echo(
            "note: the last line is incomplete (a write was cut off); it is not a record", err=True
        )
    if report.intact:
        for seq, reason in check.cuts:
            echo(terminal_safe(f"note: record {seq} acknowledges a cut: {reason}"), err=True)
        signed = f", {report.signed} signatures checked" if report.signed else ""
        echo(
            f"{where}: {report.records} records, chain intact{signed}; "
            f"head {report.head_seq} {report.head_hash}"
        )
        return
    lines = [
        f"line {p.line} (record {p.seq if p.seq is not None else '?'}): {p.what}"
        for p in report.problems
    ]
    raise UntrustedContentError(
        f"the audit log {where} has been tampered with:\n  " + "\n  ".join(lines),
        hint="keep the file as evidence; compare it with your last exported copy or checkpoint. "
        "While the log does not reach its head, nothing more is recorded; once you accept the "
        "log as it is, `mppoci audit acknowledge-cut` records where it was cut",
    )


@app.command("acknowledge-cut")
def acknowledge_cut_cmd() -> None:
    """Accept the log as it is after a cut (or a lost audit.head): write an
    `audit.cut` record saying where the head was and where the log ends, and
    start the head there so mppoci records again."""
    from mppoci.app.auditing import acknowledge_cut

    seq, why = acknowledge_cut(context.session())
    echo(f"recorded the cut as record {seq}: {why}", err=True)


@app.command("key")
def key_init() -> None:
    """Create the local audit key: from now on every record is signed."""
    from mppoci.app.auditing import create_audit_key

    path, public = create_audit_key(context.session())
    echo(f"audit key written to {path}; its public key (keep a copy elsewhere):", err=True)
    echo(public.decode(), nl=False)
