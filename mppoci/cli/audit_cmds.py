"""``mppoci audit``: read, check and export the audit trail."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mppoci.cli import context
from mppoci.cli.output import echo
from mppoci.errors import UntrustedContentError, UserInputError
from mppoci.text import terminal_safe

app = typer.Typer(help="Show, verify and export the audit trail.", no_args_is_help=True)

PackageOpt = Annotated[str | None, typer.Option("--package", help="Only this package.")]
EventOpt = Annotated[
    str | None, typer.Option("--event", help="Only events starting with this (run, verify, trust).")
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="From this UTC time (2026-11-24T10:00).")
]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Before this UTC time.")]


def _selected(
    package: str | None, event: str | None, since: str | None, until: str | None
) -> list[dict[str, Any]]:
    from mppoci.audit.log import records

    out = []
    for record in records(context.locations()):
        raw = record.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        when = str(record.get("time", ""))
        if (
            package
            and data.get("package") != package
            and not str(data.get("subject", "")).startswith(package + " ")
        ):
            continue
        if event and not str(record.get("event", "")).startswith(event):
            continue
        if since and when < since:
            continue
        if until and when >= until:
            continue
        out.append(record)
    return out


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
    selected = _selected(package, event, since, until)
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
    lines = [
        json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n"
        for r in _selected(package, event, since, until)
    ]
    if output is None:
        sys.stdout.writelines(lines)
        return
    from mppoci.fsutil import atomic_write

    atomic_write(output, "".join(lines).encode())
    echo(f"exported {len(lines)} records to {output}", err=True)


@app.command("checkpoint")
def checkpoint(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Print the head of the log (sequence and hash); keep it elsewhere to detect
    records later cut off the end."""
    from datetime import UTC, datetime

    from mppoci.audit.log import verify_log
    from mppoci.fsutil import atomic_write

    report = verify_log(context.locations())
    if not report.intact:
        raise UntrustedContentError("the audit log does not verify; run `mppoci audit verify`")
    doc = {
        "seq": report.head_seq,
        "hash": report.head_hash,
        "takenAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    text = json.dumps(doc, indent=2) + "\n"
    if output is None:
        echo(text, nl=False)
    else:
        atomic_write(output, text.encode())
        echo(f"checkpoint at record {report.head_seq} written to {output}", err=True)


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
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from mppoci.audit.log import log_path, records, verify_log

    cp: tuple[int, str] | None = None
    if checkpoint_file is not None:
        try:
            doc = json.loads(checkpoint_file.read_text())
            cp = (int(doc["seq"]), str(doc["hash"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserInputError(f"{checkpoint_file} is not a checkpoint: {e}") from None
    public = None
    if key is not None:
        loaded = serialization.load_pem_public_key(key.read_bytes())
        if not isinstance(loaded, ec.EllipticCurvePublicKey):
            raise UserInputError(f"{key} is not an ECDSA public key")
        public = loaded
    report = verify_log(context.locations(), key=public, checkpoint=cp)
    where = log_path(context.locations())
    if report.torn_tail:
        echo(
            "note: the last line is incomplete (a write was cut off); it is not a record", err=True
        )
    if report.intact:
        for record in records(context.locations()):
            if record.get("event") == "audit.cut":
                data = record.get("data") or {}
                echo(
                    terminal_safe(
                        f"note: record {record.get('seq')} acknowledges a cut: {data.get('reason')}"
                    ),
                    err=True,
                )
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
    from mppoci.audit.log import acknowledge_cut

    seq, why = acknowledge_cut(context.locations())
    echo(f"recorded the cut as record {seq}: {why}", err=True)


@app.command("key")
def key_init() -> None:
    """Create the local audit key: from now on every record is signed."""
    from cryptography.hazmat.primitives import serialization

    from mppoci.audit.log import append, create_signing_key, load_signing_key

    path = create_signing_key(context.locations())
    signer = load_signing_key(context.locations())
    assert signer is not None
    from mppoci.signing.keys import key_id

    # Signed by the new key: from this record on, every record must be signed.
    append(context.locations(), "audit.key", {"keyId": key_id(signer.public_key())})
    public = signer.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    echo(f"audit key written to {path}; its public key (keep a copy elsewhere):", err=True)
    echo(public.decode(), nl=False)
