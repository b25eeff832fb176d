"""What a `cli` package receives for a call, and how its output becomes MCP content."""

from __future__ import annotations

import json

import mcp_types as types

from mppoci.hosts.content import (
    STDERR_TAIL_BYTES,
    ToolOutput,
    argument_problem,
    arguments_digest,
    stderr_tail,
    to_result,
    tool_input,
)


def _text(result: types.CallToolResult) -> str:
    return "".join(b.text for b in result.content if isinstance(b, types.TextContent))


def test_tool_input_is_one_json_line_with_the_declared_name() -> None:
    data = tool_input("say", {"text": "hi"})
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    assert json.loads(data) == {"tool": "say", "arguments": {"text": "hi"}}


def test_plain_stdout_is_returned_as_text() -> None:
    result = to_result(ToolOutput(0, b"hello\n", b""), tool="say")
    assert not result.is_error and _text(result) == "hello\n"


def test_empty_stdout_is_an_empty_result() -> None:
    assert to_result(ToolOutput(0, b"", b""), tool="say").content == []


def test_json_with_a_content_list_is_used_as_mcp_content() -> None:
    out = {
        "content": [
            {"type": "text", "text": "a"},
            {"type": "image", "data": "AAAA", "mimeType": "image/png"},
        ],
        "structuredContent": {"n": 1},
    }
    result = to_result(ToolOutput(0, json.dumps(out).encode(), b""), tool="t")
    assert [b.type for b in result.content] == ["text", "image"]
    assert result.structured_content == {"n": 1} and not result.is_error


def test_a_tool_may_report_its_own_error_in_the_json() -> None:
    out = {"content": [{"type": "text", "text": "no such row"}], "isError": True}
    result = to_result(ToolOutput(0, json.dumps(out).encode(), b""), tool="t")
    assert result.is_error and _text(result) == "no such row"


def test_json_without_valid_content_blocks_is_returned_as_text() -> None:
    for body in (b'{"rows": [1, 2]}', b'{"content": [{"type": "nonsense"}]}', b"{not json"):
        result = to_result(ToolOutput(0, body, b""), tool="t")
        assert not result.is_error and _text(result) == body.decode()


def test_non_zero_exit_is_a_tool_error_with_the_stderr_tail() -> None:
    result = to_result(ToolOutput(3, b"partial", b"line 1\nboom\n"), tool="crash")
    assert result.is_error
    assert "crash failed with exit code 3" in _text(result) and "boom" in _text(result)
    assert "partial" not in _text(result)


def test_timeout_and_out_of_memory_are_named() -> None:
    timed = to_result(ToolOutput(137, b"", b"", timed_out=True), tool="slow", timeout="2s")
    assert timed.is_error and "ran out of time (2s)" in _text(timed)
    oom = to_result(ToolOutput(137, b"", b"", oom_killed=True), tool="big", memory="64Mi")
    assert oom.is_error and "ran out of memory (64Mi)" in _text(oom)


def test_stderr_tail_keeps_the_end() -> None:
    long = b"x" * (STDERR_TAIL_BYTES * 2) + b"the reason"
    tail = stderr_tail(long)
    assert tail.startswith("...") and tail.endswith("the reason")
    assert len(tail) <= STDERR_TAIL_BYTES + 3


def test_arguments_digest_is_stable_and_never_the_values() -> None:
    a = arguments_digest({"b": 1, "a": "secret"})
    assert a == arguments_digest({"a": "secret", "b": 1})
    assert a.startswith("sha256:") and "secret" not in a
    assert arguments_digest({"x": float("nan")}).startswith("sha256:")


def test_arguments_are_checked_against_the_declared_schema() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert argument_problem(schema, {"n": 1}) is None
    assert "required" in (argument_problem(schema, {}) or "")
    assert (argument_problem(schema, {"n": "x"}) or "").startswith("n: ")


DRAFT_07 = "http://json-schema.org/draft-07/schema#"
DRAFT_2019_09 = "https://json-schema.org/draft/2019-09/schema"


def test_arguments_are_validated_under_the_draft_the_schema_names() -> None:
    # In draft-07 a $ref's siblings are ignored; from 2019-09 on they apply.
    def schema(draft: str | None) -> dict[str, object]:
        named = {"$schema": draft} if draft else {}
        return {
            **named,
            "type": "object",
            "properties": {"s": {"$ref": "#/definitions/text", "maxLength": 2}},
            "definitions": {"text": {"type": "string"}},
        }

    long = {"s": "abcdef"}
    assert argument_problem(schema(DRAFT_07), long) is None
    assert "too long" in (argument_problem(schema(DRAFT_2019_09), long) or "")
    assert "too long" in (argument_problem(schema(None), long) or "")
    assert (argument_problem(schema(DRAFT_07), {"s": 3}) or "").startswith("s: ")


def test_draft_07_tuple_items_and_2019_09_dependent_required() -> None:
    pair = {
        "$schema": DRAFT_07,
        "type": "object",
        "properties": {"p": {"type": "array", "items": [{"type": "integer"}, {"type": "string"}]}},
    }
    assert argument_problem(pair, {"p": [1, "a"]}) is None
    assert (argument_problem(pair, {"p": ["a", 1]}) or "").startswith("p/0: ")
    # dependentRequired is 2019-09's; draft-07 does not know the keyword.
    dependent = {"type": "object", "dependentRequired": {"a": ["b"]}}
    assert "'b' is a dependency of 'a'" in (
        argument_problem({"$schema": DRAFT_2019_09, **dependent}, {"a": 1}) or ""
    )
    assert argument_problem({"$schema": DRAFT_07, **dependent}, {"a": 1}) is None


def test_a_tool_killed_by_the_seccomp_filter_is_told_so() -> None:
    result = to_result(ToolOutput(159, b"", b""), tool="probe")
    assert result.is_error
    assert "probe was stopped by the sandbox's seccomp filter" in _text(result)
    assert "a system call it did not declare" in _text(result)


def test_a_crashed_tool_is_pointed_at_the_profile() -> None:
    result = to_result(ToolOutput(139, b"", b"Segmentation fault\n"), tool="node-tool")
    assert "node-tool crashed: exit 139 (SIGSEGV)" in _text(result)
    assert "Segmentation fault" in _text(result)
