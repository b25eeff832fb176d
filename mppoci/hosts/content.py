"""What a tool call sends a `cli` package, and how its output becomes an MCP
result. Pure.

A `cli` package reads one JSON document on stdin, ``{"tool": NAME,
"arguments": {...}}``, and answers on stdout. If stdout is a JSON object with
a ``content`` list of MCP content blocks, that is the result (with its
``structuredContent`` and ``isError`` when given); anything else is returned
as text. A non-zero exit, a timeout or running out of memory is a tool error
result carrying the tail of stderr, so the model can see what went wrong.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from pydantic import TypeAdapter, ValidationError

from mppoci.canonical import canonical_json
from mppoci.limits import KiB, MiB
from mppoci.sandbox.exit_status import stopped_by

# Caps on what a tool may hand back through MCP (mppoci.limits covers what
# packages bring in; these cover what a running tool sends out).
MAX_OUTPUT_BYTES = 4 * MiB
STDERR_TAIL_BYTES = 2 * KiB

_BLOCKS: TypeAdapter[list[types.ContentBlock]] = TypeAdapter(list[types.ContentBlock])


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """What one sandboxed call produced."""

    exit_code: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    oom_killed: bool = False


def tool_input(tool: str, arguments: Mapping[str, Any]) -> bytes:
    """The stdin of a `cli` package for one call (one line of JSON)."""
    return json.dumps({"tool": tool, "arguments": dict(arguments)}).encode() + b"\n"


def arguments_digest(arguments: Mapping[str, Any]) -> str:
    """The audit log's stand-in for a call's arguments (never the values)."""
    try:
        data = canonical_json(dict(arguments))
    except ValueError:  # NaN or infinity: still a stable digest, never a crash
        data = json.dumps(dict(arguments), sort_keys=True, default=str).encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def argument_problem(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> str | None:
    """Why ``arguments`` do not fit the tool's declared input schema (under
    the JSON Schema draft it names), or None. The text may quote the
    arguments: it is for the client, not the audit log."""
    from referencing.exceptions import Unresolvable

    from mppoci.manifest.drafts import validator_for

    validator = validator_for(schema)
    try:
        errors = sorted(validator.iter_errors(dict(arguments)), key=lambda e: list(e.absolute_path))
    except Unresolvable as e:  # mppoci never fetches a $ref: the call cannot be checked
        return f"the tool's input schema refers to {e.ref!r}, which mppoci does not fetch"
    except RecursionError:  # {"$ref": "#"}: no instance ever gets an answer
        return "the tool's input schema refers to itself without end; it cannot be checked"
    if not errors:
        return None
    first = errors[0]
    where = "/".join(str(p) for p in first.absolute_path) or "the arguments"
    return f"{where}: {first.message}"


def error_result(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def stderr_tail(stderr: bytes, limit: int = STDERR_TAIL_BYTES) -> str:
    """The last ``limit`` bytes of stderr as text (what usually says why)."""
    tail = stderr[-limit:]
    text = tail.decode("utf-8", errors="replace").strip()
    return ("..." + text) if len(stderr) > limit else text


def _with_stderr(message: str, stderr: bytes) -> str:
    tail = stderr_tail(stderr)
    return f"{message}\nstderr:\n{tail}" if tail else message


def _structured(document: Mapping[str, Any]) -> types.CallToolResult | None:
    blocks = document.get("content")
    if not isinstance(blocks, list):
        return None
    try:
        content = _BLOCKS.validate_python(blocks, by_name=False)
    except ValidationError:
        return None
    structured = document.get("structuredContent")
    is_error = document.get("isError", False)
    return types.CallToolResult(
        content=content,
        structured_content=structured if isinstance(structured, dict) else None,
        is_error=is_error if isinstance(is_error, bool) else False,
    )


def to_result(
    output: ToolOutput, *, tool: str, timeout: str = "", memory: str = ""
) -> types.CallToolResult:
    """Map one call's output to what the MCP client receives."""
    if output.timed_out:
        return error_result(
            _with_stderr(f"{tool} ran out of time ({timeout}) and was stopped", output.stderr)
        )
    if output.oom_killed:
        return error_result(
            _with_stderr(f"{tool} ran out of memory ({memory}) and was stopped", output.stderr)
        )
    if output.exit_code != 0:
        stopped = stopped_by(output.exit_code)
        said = stopped.describe(tool) if stopped is not None else None
        text = said or f"{tool} failed with exit code {output.exit_code}"
        return error_result(_with_stderr(text, output.stderr))
    text = output.stdout.decode("utf-8", errors="replace")
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict):
            result = _structured(document)
            if result is not None:
                return result
    return types.CallToolResult(content=[types.TextContent(text=text)] if text else [])
