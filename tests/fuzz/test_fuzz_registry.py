"""Fuzzing of what registries send back: status lines, headers (Content-Length,
Content-Encoding, Docker-Content-Digest, WWW-Authenticate), error bodies and
token answers. A scripted HTTP server on 127.0.0.1 writes the raw bytes, so
the real client code parses them through requests and urllib3.

Nothing leaves this machine: the client's session only connects to
127.0.0.1; any other address (a fuzzed token realm) fails as an unreachable
host would.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import event, example, given
from hypothesis import strategies as st

from mppoci.digest import Digest
from mppoci.errors import Error
from mppoci.oci.model import Descriptor
from mppoci.registry.challenge import parse_challenge
from mppoci.registry.client import RegistryClient
from mppoci.registry.credentials import Credentials
from mppoci.registry.transport import TransportOptions
from mppoci.store.layout import Store
from tests.fuzz.support import DEEP_JSON, byte_edits, documents, parsed_or_our_error

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(300)]

Response = tuple[int, list[tuple[bytes, bytes]], bytes]


@dataclass
class Script:
    responses: list[Response] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    script = Script()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = self.headers.get("Content-Length")
        if length and length.isdigit():
            self.rfile.read(int(length))
        script = self.server.script  # type: ignore[attr-defined]
        script.requests.append(f"{self.command} {self.path}")
        status, headers, body = script.responses.pop(0) if script.responses else (404, [], b"")
        head = b"HTTP/1.1 %d Fuzz\r\n" % status
        head += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        self.wfile.write(head + b"Connection: close\r\n\r\n" + body)
        self.wfile.flush()
        self.close_connection = True

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = _answer  # noqa: N815


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


class _LoopbackOnly(requests.adapters.HTTPAdapter):
    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        if urlsplit(request.url or "").hostname != "127.0.0.1":
            raise requests.exceptions.ConnectionError("blocked by the test: not 127.0.0.1")
        return super().send(request, *args, **kwargs)


def _client(srv: _Server, credentials: Credentials | None) -> RegistryClient:
    registry = f"127.0.0.1:{srv.server_address[1]}"
    client = RegistryClient(
        registry, options=TransportOptions(timeout=10, retries=0), credentials=credentials
    )
    for prefix in ("http://", "https://"):
        client.transport.session.mount(prefix, _LoopbackOnly())
    return client


def test_the_session_never_leaves_loopback(server: _Server) -> None:
    client = _client(server, None)
    with pytest.raises(Error, match="blocked by the test"):
        client.transport.request("GET", "http://192.0.2.1/v2/")


# --- strategies --------------------------------------------------------------------------------

BODY = b'{"schemaVersion":2}'
BODY_DIGEST = "sha256:" + hashlib.sha256(BODY).hexdigest()
ERRORS = {"errors": [{"code": "DENIED", "message": "no", "detail": {"x": 1}}]}
TOKEN = {"token": "abc.def", "access_token": "abc.def", "expires_in": 300}

header_values = st.sampled_from(
    [
        b"",
        b"0",
        b"-1",
        b"19",
        b"99999999999999999999",
        b"gzip",
        b"deflate",
        b"br",
        b"chunked",
        b"application/json",
        b"text/plain; charset=\xff",
        BODY_DIGEST.encode(),
        b"sha256:zz",
        b"\xe9\xff",
        b"  x  ",
    ]
) | st.binary(max_size=30).filter(lambda b: b"\r" not in b and b"\n" not in b)
header_names = st.sampled_from(
    [
        b"Content-Type",
        b"Content-Length",
        b"Content-Encoding",
        b"Transfer-Encoding",
        b"Docker-Content-Digest",
        b"WWW-Authenticate",
        b"Location",
        b"Retry-After",
    ]
)
error_bodies = st.one_of(
    documents(ERRORS),
    st.just(gzip.compress(json.dumps(ERRORS).encode())),
    st.just(DEEP_JSON),
    st.just(b'{"errors": {"code": "X"}}'),
)


@st.composite
def challenges(draw: st.DrawFn, realm: str) -> bytes:
    valid = f'Bearer realm="{realm}",service="reg",scope="repository:a/b:pull"'
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return valid.encode()
    if choice == 1:
        return draw(byte_edits(valid.encode()))
    if choice == 2:
        other = draw(
            st.sampled_from([realm, "http://192.0.2.1/t", "ftp://x", "", realm + "?a=\xe9"])
        )
        scheme = draw(st.sampled_from(["Bearer", "Basic", "bearer", "Negotiate", "B\u00e9"]))
        return f'{scheme} realm="{other}"'.encode()
    return draw(st.binary(max_size=60).filter(lambda b: b"\r" not in b and b"\n" not in b))


@st.composite
def responses(draw: st.DrawFn, body: bytes, realm: str) -> Response:
    status = draw(st.sampled_from([200, 201, 202, 204, 301, 401, 403, 404, 429, 500, 503, 999]))
    headers = draw(st.lists(st.tuples(header_names, header_values), max_size=3))
    if status in (401, 403) or draw(st.booleans()):
        headers.append((b"WWW-Authenticate", draw(challenges(realm))))
    if status >= 400:
        payload = draw(error_bodies)
    elif draw(st.booleans()):
        payload = body
    else:
        payload = draw(documents(TOKEN) | byte_edits(body) | st.just(gzip.compress(body)))
    if draw(st.booleans()):
        headers.append((b"Content-Length", str(len(payload)).encode()))
    return status, headers, payload


OPERATIONS = ["ping", "get_manifest", "get_manifest_by_digest", "put_manifest", "blob", "exists"]


def _run(client: RegistryClient, op: str, tmp_store: Store) -> Any:
    if op == "ping":
        return client.ping()
    if op == "get_manifest":
        return client.get_manifest("a/b", "1.0.0", max_bytes=1 << 20)
    if op == "get_manifest_by_digest":
        return client.get_manifest("a/b", BODY_DIGEST, max_bytes=1 << 20)
    if op == "put_manifest":
        return client.put_manifest("a/b", "1.0.0", BODY, "application/json")
    if op == "exists":
        return client.blob_exists("a/b", Digest(BODY_DIGEST))
    desc = Descriptor("application/octet-stream", Digest(BODY_DIGEST), len(BODY))
    with tmp_store.writer(max_bytes=1 << 20) as writer:
        client.fetch_blob("a/b", desc, writer)
    return tmp_store.read_bytes(desc.digest, max_bytes=1 << 20)


@given(
    op=st.sampled_from(OPERATIONS),
    data=st.data(),
    with_credentials=st.booleans(),
)
def test_registry_answers_give_results_or_our_errors(
    server: _Server, op: str, data: st.DataObject, with_credentials: bool
) -> None:
    realm = f"http://127.0.0.1:{server.server_address[1]}/token"
    script = data.draw(st.lists(responses(BODY, realm), min_size=1, max_size=4))
    server.script = Script(responses=list(script))
    client = _client(server, Credentials("ada", "pw", "test") if with_credentials else None)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            result = _run(client, op, Store(Path(tmp) / "s"))
        except Error as e:
            event(f"{op}: {type(e).__name__}")
            return
    event(f"{op}: accepted")
    if op.startswith("get_manifest"):
        body, _, digest = result
        assert digest == "sha256:" + hashlib.sha256(body).hexdigest()
        if op == "get_manifest_by_digest":
            assert body == BODY  # a digest reference admits exactly those bytes
    elif op == "put_manifest":
        assert result == BODY_DIGEST
    elif op == "blob":
        assert result == BODY


def _token_flow(server: _Server, token_answer: Response) -> Any:
    realm = f"http://127.0.0.1:{server.server_address[1]}/token"
    challenge = (401, [(b"WWW-Authenticate", f'Bearer realm="{realm}",service="r"'.encode())], b"")
    server.script = Script(responses=[challenge, token_answer, (200, [], b"")])
    client = _client(server, Credentials("ada", "pw", "test"))
    return parsed_or_our_error(client.ping)


token_headers = st.lists(
    st.tuples(st.sampled_from([b"Content-Encoding", b"Content-Type"]), header_values), max_size=2
)


@given(documents(TOKEN), token_headers)
@example(DEEP_JSON, [])
@example(b'{"token": "caf\\u00e9\\u20ac"}', [])
@example(b'{"token": "a\\nb"}', [])
@example(b"not gzip at all", [(b"Content-Encoding", b"gzip")])
def test_token_answers_give_a_token_or_our_error(
    server: _Server, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    _token_flow(server, (200, headers, body))


@given(error_bodies, st.sampled_from([401, 403, 404, 500]), token_headers)
@example(DEEP_JSON, 404, [])
@example(b'{"errors": {"code": "X"}}', 404, [])
@example(b"not gzip at all", 500, [(b"Content-Encoding", b"gzip")])
def test_error_bodies_become_our_errors(
    server: _Server, body: bytes, status: int, headers: list[tuple[bytes, bytes]]
) -> None:
    server.script = Script(responses=[(status, headers, body)])
    client = _client(server, None)
    with pytest.raises(Error) as caught:
        client.ping()
    assert caught.value.message


# --- WWW-Authenticate, without any network -----------------------------------------------------

param_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,8}", fullmatch=True)
param_values = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=20
)


@given(
    st.sampled_from(["Bearer", "Basic", "bearer"]),
    st.dictionaries(param_names.map(str.lower), param_values, max_size=4),
)
def test_challenges_round_trip(scheme: str, params: dict[str, str]) -> None:
    quoted = ",".join(
        '{}="{}"'.format(k, v.replace("\\", "\\\\").replace('"', '\\"')) for k, v in params.items()
    )
    parsed = parse_challenge(f"{scheme} {quoted}".strip())
    assert parsed.scheme == scheme.lower()
    assert dict(parsed.params) == params


@given(
    st.text(max_size=120)
    | st.builds(
        lambda a, b: a + b,
        st.sampled_from(['Bearer realm="https://auth.test/token",service="r",', "Basic ", "B "]),
        st.text(alphabet=st.sampled_from([*list('a=",\\ \t;'), "é"]), max_size=40),
    )
)
@example('Bearer realm="x",,')
def test_any_challenge_text_parses_or_is_our_error(text: str) -> None:
    challenge = parsed_or_our_error(lambda: parse_challenge(text))
    if challenge is not None:
        assert challenge.scheme.isalpha() and challenge.scheme == challenge.scheme.lower()
