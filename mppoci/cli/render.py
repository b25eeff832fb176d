"""How packages look to people (text) and to machines (``--json``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mppoci.app import Access, PackageView
from mppoci.app import terminal_safe as one

if TYPE_CHECKING:
    from mppoci.app import Tool

__all__ = ["PackageView", "as_json", "text"]


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


def _prose(text: str, indent: str) -> str:
    # A description may span lines; each line stays under its indent, so it
    # cannot pass for a field or a permission of ours.
    return ("\n" + indent).join(one(line) for line in text.splitlines() or [""])


def text(view: PackageView) -> str:
    """The inspect screen. Every outside-supplied field is escaped here, one
    line each (``mppoci.text.terminal_safe``)."""
    m = view.manifest
    p = m.permissions
    r = p.resources
    status = view.verification.upper().replace("-", " ")
    lines = [
        f"{one(m.name)} {one(m.version)}",
        f"  {_prose(m.description, '  ')}",
        "",
        f"  status:      {status}: {one(view.verification_detail)}",
        f"  digest:      {view.digest or '(not built)'}",
        f"  runtime:     {one(str(m.runtime))}",
        f"  entrypoint:  {one(' '.join(m.entrypoint))}   (protocol: {m.protocol.value})",
        f"  authors:     {one(', '.join(m.authors))}",
        f"  license:     {one(m.license)}",
        "",
        f"Tools ({len(m.tools)})",
    ]
    for tool in m.tools:
        lines.append(f"  {one(tool.name)}: {_prose(tool.description, '      ')}")
        lines.append(f"      [{_tool_flags(tool)}]")
    lines += ["", "Permissions (everything not listed is denied)"]
    if p.filesystem:
        lines.append("  Files:")
        for f in p.filesystem:
            mode = "read-write" if f.access is Access.READ_WRITE else "read-only"
            mode += ", required" if f.required else ""
            lines.append(
                f"    {one(f.name)}: a folder you choose, at {one(f.path)} ({mode}) - {one(f.why)}"
            )
    else:
        lines.append("  Files:       none")
    if p.egress:
        lines.append("  Network:")
        for e in p.egress:
            warn = "  !! ANY HOST !!" if e.dangerously_allow_any_host else ""
            lines.append(f"    {one(e.host)}:{e.port} - {one(e.why)}{warn}")
    else:
        lines.append("  Network:     none (no network at all)")
    if p.env:
        lines.append("  Environment:")
        for v in p.env:
            if v.value is not None:
                fixed = f"{one(v.name)}={one(v.value)}"
                lines.append(f"    {fixed} (set by the package) - {one(v.why)}")
                continue
            tags = [t for t, on in (("secret", v.secret), ("required", v.required)) if on]
            suffix = f" ({', '.join(tags)})" if tags else ""
            lines.append(f"    {one(v.name)}{suffix} - {one(v.why)}")
    else:
        lines.append("  Environment: none")
    if p.storage:
        lines.append("  Storage:")
        for s in p.storage:
            lines.append(f"    {one(s.name)}: {s.size.text} at {one(s.path)} - {one(s.why)}")
    else:
        lines.append("  Storage:     none (nothing persists between runs)")
    lines.append(
        f"  Resources:   memory {r.memory.text}, cpus {r.cpus}, pids {r.pids}, "
        f"timeout {r.timeout.text}, /tmp {r.tmp.text}"
    )
    lines.append(f"  permission set: {view.permissions_digest}")
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
        "permissionsDigest": view.permissions_digest,
        "manifest": view.document(),
    }
