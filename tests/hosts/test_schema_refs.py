"""Red team (issue #19): a tool's input schema may name a ``$ref`` anywhere.
Validating a call's arguments must never make the host fetch it: not over
the network (an egress the sandbox never granted, from outside it), not from
the host's files (``file:///dev/zero`` would hang the server)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mppoci.hosts.content import argument_problem

DRAFTS = (
    None,
    "https://json-schema.org/draft/2020-12/schema",
    "https://json-schema.org/draft/2019-09/schema",
    "http://json-schema.org/draft-07/schema#",
)


def _schema(draft: str | None, ref: str) -> dict[str, object]:
    schema: dict[str, object] = {"type": "object", "properties": {"a": {"$ref": ref}}}
    if draft is not None:
        schema["$schema"] = draft
    return schema


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 that records every request and answers a schema."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = json.dumps({"type": "integer"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/schema.json", hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("draft", DRAFTS)
def test_remote_ref_in_an_input_schema_is_never_fetched_by_the_host(
    draft: str | None, listener: tuple[str, list[str]]
) -> None:
    url, hits = listener
    problem = argument_problem(_schema(draft, url), {"a": "text"})
    assert hits == []
    # Refused, not waved through: the schema cannot be checked without it.
    assert problem is not None
    assert url in problem


@pytest.mark.parametrize("draft", DRAFTS)
def test_file_ref_in_an_input_schema_is_never_read_by_the_host(
    draft: str | None, tmp_path: Path
) -> None:
    planted = tmp_path / "int.json"
    planted.write_text(json.dumps({"type": "integer"}))
    problem = argument_problem(_schema(draft, planted.as_uri()), {"a": "text"})
    assert problem is not None
    assert "is not of type" not in problem  # the file was not used as a schema


def test_ref_to_dev_zero_does_not_hang_the_host() -> None:
    problem = argument_problem(_schema(None, "file:///dev/zero"), {"a": 1})
    assert problem is not None


def test_local_and_embedded_refs_still_resolve() -> None:
    draft07 = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "definitions": {"n": {"type": "integer"}},
        "properties": {"a": {"$ref": "#/definitions/n"}},
    }
    assert argument_problem(draft07, {"a": 1}) is None
    assert argument_problem(draft07, {"a": "x"}) == "a: 'x' is not of type 'integer'"
    embedded = {
        "type": "object",
        "$defs": {"n": {"$id": "https://schemas.example.test/n", "type": "integer"}},
        "properties": {"a": {"$ref": "https://schemas.example.test/n"}},
    }
    assert argument_problem(embedded, {"a": "x"}) == "a: 'x' is not of type 'integer'"
    # The drafts' own meta-schemas ship with jsonschema: no fetch needed.
    meta = {
        "type": "object",
        "properties": {"a": {"$ref": "http://json-schema.org/draft-07/schema#"}},
    }
    assert argument_problem(meta, {"a": {"type": "string"}}) is None


@pytest.mark.parametrize("draft", DRAFTS)
def test_a_schema_referring_to_itself_without_end_refuses_the_call(draft: str | None) -> None:
    schema: dict[str, object] = {"type": "object", "$ref": "#"}
    if draft is not None:
        schema["$schema"] = draft
    problem = argument_problem(schema, {"a": 1})
    assert problem is not None
    assert "refers to itself without end" in problem
