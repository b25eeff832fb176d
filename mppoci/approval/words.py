"""A package's permissions in words a person understands. Pure.

Each permission is one sentence; the sentences are also what approvals
compare, so "what changed" is shown in the same words as "what you allow".
"""

from __future__ import annotations

from mppoci.manifest import Access, Manifest


def permission_lines(manifest: Manifest) -> tuple[str, ...]:
    p = manifest.permissions
    lines = []
    for f in p.filesystem:
        verb = "Read and WRITE" if f.access is Access.READ_WRITE else "Read"
        lines.append(f"{verb} files in a folder you choose ({f.name}), seen at {f.path}: {f.why}")
    for e in p.egress:
        host = "ANY HOST ON THE INTERNET" if e.dangerously_allow_any_host else e.host
        if e.address is None:
            lines.append(f"Connect to {host} on port {e.port}: {e.why}")
        elif "/" in e.address:
            lines.append(
                f"Connect to machines on your private network in {e.address}, port {e.port} "
                f"(as {host}): {e.why}"
            )
        else:
            where = f"[{e.address}]" if ":" in e.address else e.address
            lines.append(
                f"Connect to a machine on your private network: {where}:{e.port} "
                f"(as {host}): {e.why}"
            )
    for v in p.env:
        if v.value is not None:
            lines.append(f"Set {v.name}={v.value} in the tool's environment: {v.why}")
            continue
        kind = "the secret" if v.secret else "the value of"
        need = " (required)" if v.required else ""
        lines.append(f"Receive {kind} environment variable {v.name}{need}: {v.why}")
    for s in p.storage:
        lines.append(f"Keep up to {s.size.text} of data between runs at {s.path}: {s.why}")
    r = p.resources
    lines.append(
        f"Use at most {r.memory.text} of memory, {r.cpus} CPU, {r.pids} processes, "
        f"{r.tmp.text} of scratch space in /tmp, and run for at most {r.timeout.text}"
    )
    if not p.egress:
        lines.append("No network access at all")
    for tool in manifest.tools:
        if tool.requires_confirmation:
            lines.append(f"Tool {tool.name} may change things: each call needs your confirmation")
        else:
            # Said too, so that an update dropping a confirmation shows as a change.
            lines.append(
                f"Tool {tool.name} runs without asking you (it declares it changes nothing "
                "or nothing destructively)"
            )
    return tuple(lines)
