"""The normalised document of a manifest: every default filled in, camelCase keys.

It is itself a valid source manifest, and its canonical JSON is the package
config that gets signed.
"""

from __future__ import annotations

from typing import Any

from mppoci.canonical import canonical_json
from mppoci.digest import Digest, sha256_digest
from mppoci.manifest.model import Manifest, Permissions, Tool


def to_document(m: Manifest) -> dict[str, Any]:
    """The normalised full form of ``m`` as plain JSON values (a fresh copy each call).

    Quantities and durations keep the text the author wrote (an int of bytes
    becomes its decimal text); cpus becomes normalised decimal text ("0.5");
    the permission lists are sorted; an annotation title that was not given is
    left out (it has no default).
    """
    return {
        "schemaVersion": m.schema_version,
        "name": m.name,
        "version": m.version,
        "description": m.description,
        "authors": list(m.authors),
        "license": m.license,
        "runtime": str(m.runtime),
        "entrypoint": list(m.entrypoint),
        "protocol": str(m.protocol),
        "tools": [_tool(t) for t in m.tools],
        "permissions": _permissions(m.permissions),
    }


def _tool(t: Tool) -> dict[str, Any]:
    a = t.annotations
    annotations: dict[str, Any] = {} if a.title is None else {"title": a.title}
    annotations |= {
        "readOnlyHint": a.read_only_hint,
        "destructiveHint": a.destructive_hint,
        "idempotentHint": a.idempotent_hint,
        "openWorldHint": a.open_world_hint,
    }
    return {
        "name": t.name,
        "description": t.description,
        "inputSchema": t.input_schema,
        "annotations": annotations,
        "requiresConfirmation": t.requires_confirmation,
    }


def _permissions(p: Permissions) -> dict[str, Any]:
    r = p.resources
    return {
        "filesystem": [
            {
                "name": g.name,
                "path": g.path,
                "access": str(g.access),
                "why": g.why,
                # Only when set, so packages without it keep their digests.
                **({"required": True} if g.required else {}),
            }
            for g in p.filesystem
        ],
        "network": {
            "egress": [
                {
                    "host": e.host,
                    "port": e.port,
                    "why": e.why,
                    "dangerouslyAllowAnyHost": e.dangerously_allow_any_host,
                    # Only when set, so packages without it keep their digests.
                    **({"address": e.address} if e.address is not None else {}),
                }
                for e in p.egress
            ]
        },
        "env": [
            {
                "name": v.name,
                "why": v.why,
                "secret": v.secret,
                "required": v.required,
                # Only when set, so packages without it keep their digests.
                **({"value": v.value} if v.value is not None else {}),
            }
            for v in p.env
        ],
        "storage": [
            {"name": s.name, "path": s.path, "size": s.size.text, "why": s.why} for s in p.storage
        ],
        "resources": {
            "memory": r.memory.text,
            "cpus": r.cpus,
            "pids": r.pids,
            "timeout": r.timeout.text,
            "tmp": r.tmp.text,
        },
    }


def permissions_digest(m: Manifest) -> Digest:
    """sha256 of the canonical JSON of the normalised ``permissions``: what an
    approval is bound to. Descriptions, tools and the version do not enter it;
    every permission field (each ``why`` included) and the resources do."""
    return sha256_digest(canonical_json(to_document(m)["permissions"]))
