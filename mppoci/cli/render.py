"""How packages look to people (text) and to machines (``--json``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mppoci.digest import Digest
from mppoci.manifest import Manifest, permissions_digest, to_document
from mppoci.manifest.model import Access, Tool


@dataclass(frozen=True, slots=True)
class PackageView:
    """What ``inspect`` shows: the manifest, where it came from, and its status."""

    manifest: Manifest
    digest: Digest | None
    source: str  # "store" or "folder"
    # verified, unsigned, untrusted, tampered, rollback, or not-built (a folder)
    verification: str
    verification_detail: str


def _tool_flags(tool: Tool) -> str:
    a = tool.annotations
    flags = ["read-only" if a.read_only_hint else "writes"]
    if a.destructive:
        flags.append("destructive")
    if a.idempotent_hint:
        flags.append("idempotent")
    if a.open_world_hint:
        flags.append("open-world")
    if tool.requires_confirmation:
        flags.append("needs confirmation")
    return ", ".join(flags)


def text(view: PackageView) -> str:
    m = view.manifest
    p = m.permissions
    r = p.resources
    status = view.verification.upper().replace("-", " ")
    lines = [
        f"{m.name} {m.version}",
        f"  {m.description}",
        "",
        f"  status:      {status}: {view.verification_detail}",
        f"  digest:      {view.digest or '(not built)'}",
        f"  runtime:     {m.runtime}",
        f"  entrypoint:  {' '.join(m.entrypoint)}   (protocol: {m.protocol.value})",
        f"  authors:     {', '.join(m.authors)}",
        f"  license:     {m.license}",
        "",
        f"Tools ({len(m.tools)})",
    ]
    for tool in m.tools:
        lines.append(f"  {tool.name}: {tool.description}")
        lines.append(f"      [{_tool_flags(tool)}]")
    lines += ["", "Permissions (everything not listed is denied)"]
    if p.filesystem:
        lines.append("  Files:")
        for f in p.filesystem:
            mode = "read-write" if f.access is Access.READ_WRITE else "read-only"
            lines.append(f"    {f.name}: a folder you choose, at {f.path} ({mode}) - {f.why}")
    else:
        lines.append("  Files:       none")
    if p.egress:
        lines.append("  Network:")
        for e in p.egress:
            warn = "  !! ANY HOST !!" if e.dangerously_allow_any_host else ""
            lines.append(f"    {e.host}:{e.port} - {e.why}{warn}")
    else:
        lines.append("  Network:     none (no network at all)")
    if p.env:
        lines.append("  Environment:")
        for v in p.env:
            tags = [t for t, on in (("secret", v.secret), ("required", v.required)) if on]
            suffix = f" ({', '.join(tags)})" if tags else ""
            lines.append(f"    {v.name}{suffix} - {v.why}")
    else:
        lines.append("  Environment: none")
    if p.storage:
        lines.append("  Storage:")
        for s in p.storage:
            lines.append(f"    {s.name}: {s.size.text} at {s.path} - {s.why}")
    else:
        lines.append("  Storage:     none (nothing persists between runs)")
    lines.append(
        f"  Resources:   memory {r.memory.text}, cpus {r.cpus}, pids {r.pids}, "
        f"timeout {r.timeout.text}, /tmp {r.tmp.text}"
    )
    lines.append(f"  permission set: {permissions_digest(m)}")
    return "\n".join(lines)


def as_json(view: PackageView) -> dict[str, Any]:
    m = view.manifest
    return {
        "name": m.name,
        "version": m.version,
        "digest": view.digest,
        "source": view.source,
        "verification": {"status": view.verification, "detail": view.verification_detail},
        "runtime": str(m.runtime),
        "permissionsDigest": permissions_digest(m),
        "manifest": to_document(m),
    }
