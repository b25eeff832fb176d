"""What mppoci records, in one place, so every caller writes the same fields.

Secrets are never written: environment variables appear by name only, and a
run's arguments appear as a digest unless the user opts in to keep them.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from mppoci.audit.chain import MAX_RECORD_BYTES
from mppoci.audit.log import append, ensure_appendable
from mppoci.canonical import canonical_json
from mppoci.locations import Locations
from mppoci.signals import signals_deferred

# What a run record's own fields may take, leaving room in MAX_RECORD_BYTES
# for the envelope (seq, time, actor, prev, sig).
_RUN_DATA_BYTES = MAX_RECORD_BYTES - 8 * 1024
_ARGS_BYTES = 32 * 1024
_ERROR_CHARS = 2048


@contextlib.contextmanager
def change(locations: Locations) -> Iterator[None]:
    """A state change and its audit record as one step: a log that refuses
    records refuses the change before it is made, and Ctrl-C, SIGTERM and
    SIGHUP are held back until both are written (then delivered). Raises
    AuditLogCutError, StoreError."""
    with signals_deferred():
        ensure_appendable(locations)
        yield


def recorded_args(args: Sequence[str]) -> tuple[list[str], bool]:
    """The arguments as a run record keeps them (with ``--audit-args``), and
    whether some were cut: whole arguments while they fit the record's
    budget, then one cut short. ``argsDigest`` always covers all of them."""
    kept: list[str] = []
    used = 2  # the list's brackets
    for arg in args:
        size = len(canonical_json(arg)) + 1
        if used + size <= _ARGS_BYTES:
            kept.append(arg)
            used += size
            continue
        room = _ARGS_BYTES - used - 3
        if room > 0:
            # Cut by characters until the encoded form fits (escapes grow it).
            part = arg[:room]
            while part and len(canonical_json(part)) + 1 > _ARGS_BYTES - used:
                part = part[: len(part) * 3 // 4]
            if part:
                kept.append(part)
        return kept, True
    return kept, False


def args_digest(args: Sequence[str]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(list(args))).hexdigest()


def verification(
    locations: Locations,
    *,
    digest: str,
    subject: str,
    accepted: bool,
    detail: str,
    signer: str | None = None,
    origin: str | None = None,
) -> None:
    append(
        locations,
        "verify",
        {
            "digest": digest,
            "subject": subject,
            "outcome": "accepted" if accepted else "refused",
            "detail": detail,
            "signer": signer,
            "origin": origin,
        },
    )


def trust(locations: Locations, action: str, key_id: str, **details: Any) -> None:
    append(locations, f"trust.{action}", {"keyId": key_id, **details})


def approval(locations: Locations, action: str, package: str, **details: Any) -> None:
    append(locations, f"approval.{action}", {"package": package, **details})


def run(
    locations: Locations,
    *,
    package: str,
    version: str,
    digest: str,
    signer: str | None,
    permissions: str,
    args: Sequence[str],
    record_args: bool,
    env_names: Sequence[str],
    mounts: Mapping[str, str],
    outcome: str,
    exit_code: int | None = None,
    duration_ms: int | None = None,
    timed_out: bool = False,
    oom_killed: bool = False,
    error: str | None = None,
    signal: str | None = None,
) -> None:
    """``signal``: the one that ended the tool (exit code 128 + N), recorded only then."""
    data: dict[str, Any] = {
        "package": package,
        "version": version,
        "digest": digest,
        "signer": signer,
        "permissions": permissions,
        "argsDigest": args_digest(args),
        "env": sorted(env_names),
        "mounts": dict(mounts),
        "outcome": outcome,
        "exitCode": exit_code,
        "durationMs": duration_ms,
        "timedOut": timed_out,
        "oomKilled": oom_killed,
    }
    if signal:
        data["signal"] = signal
    if record_args:
        kept, cut = recorded_args(args)
        data["args"] = kept
        if cut:
            data["argsTruncated"] = True
    if error:
        data["error"] = error[:_ERROR_CHARS]
    if len(canonical_json(data)) > _RUN_DATA_BYTES:
        # Many long mount paths or variable names: keep their digests, so the
        # run is still recorded and the values can be matched later.
        data["env"] = {"digest": args_digest(sorted(env_names)), "truncated": True}
        data["mounts"] = {
            "digest": "sha256:" + hashlib.sha256(canonical_json(dict(mounts))).hexdigest(),
            "truncated": True,
        }
    append(locations, "run", data)


def cluster_render(
    locations: Locations,
    *,
    package: str,
    version: str,
    digest: str,
    permissions: str,
    name: str,
    namespace: str,
    args: Sequence[str],
    env_names: Sequence[str],
    volumes: Mapping[str, str],
) -> None:
    """Objects written for a cluster: the grant is given here, the run happens there."""
    append(
        locations,
        "k8s.render",
        {
            "package": package,
            "version": version,
            "digest": digest,
            "permissions": permissions,
            "name": name,
            "namespace": namespace,
            "argsDigest": args_digest(args),
            "env": sorted(env_names),
            "volumes": dict(volumes),
        },
    )


def network(locations: Locations, *, package: str, digest: str, event: Mapping[str, Any]) -> None:
    """One DNS query or connection attempt the egress gateway saw, or
    (``network.suppressed``) how many more there were past the cap, or
    (``network.stopped``) that the relay or the gateway ended early (its exit
    code; OOM-killed or not): the tool's connections ended with it."""
    kind = event.get("kind", "unknown")
    if kind == "suppressed":
        append(
            locations,
            "network.suppressed",
            {
                "package": package,
                "digest": digest,
                "counts": event.get("counts"),
                "total": event.get("total"),
            },
        )
        return
    if kind == "stopped":
        append(
            locations,
            "network.stopped",
            {
                "package": package,
                "digest": digest,
                "role": event.get("role"),
                "exit_code": event.get("exit_code"),
                "oom_killed": event.get("oom_killed"),
            },
        )
        return
    extra = {k: event[k] for k in ("address", "address_class") if event.get(k) is not None}
    append(
        locations,
        f"network.{kind}",
        {
            "package": package,
            "digest": digest,
            "decision": event.get("decision"),
            "host": event.get("host") or event.get("name"),
            "port": event.get("port"),
            "reason": event.get("reason"),
            **extra,
        },
    )


def sandbox_refused(locations: Locations, *, package: str, digest: str, reason: str) -> None:
    """A prepared sandbox discarded before it started: a folder bound into it
    was swapped (for a symlink to somewhere else, say) after it was checked."""
    append(locations, "sandbox.refused", {"package": package, "digest": digest, "reason": reason})


def tool_call(
    locations: Locations,
    *,
    package: str,
    digest: str,
    tool: str,
    args_digest: str,
    outcome: str,
    duration_ms: int,
    confirmed: bool | None,
    version: str | None = None,
    exit_code: int | None = None,
    error: str | None = None,
) -> None:
    """One tool call an MCP host (`mppoci serve`) received: allowed, refused or
    failed. ``confirmed`` is None when the tool needs no confirmation; the
    arguments appear only as a digest."""
    data: dict[str, Any] = {
        "package": package,
        "version": version,
        "digest": digest,
        "tool": tool,
        "argsDigest": args_digest,
        "outcome": outcome,
        "durationMs": duration_ms,
        "confirmed": confirmed,
        "exitCode": exit_code,
    }
    if error:
        data["error"] = error
    append(locations, "tool.call", data)
