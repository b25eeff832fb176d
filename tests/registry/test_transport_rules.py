"""Transport rules against servers the tests start on 127.0.0.1: a refused
connection is never retried, only 5xx and 429 are (boundedly), every call
has a timeout, and plain HTTP is used only where it is allowed."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from mppoci.errors import TransportError
from mppoci.registry.challenge import parse_challenge
from mppoci.registry.transport import (
    Transport,
    TransportOptions,
    is_loopback,
    retry_delay,
    scheme_for,
)


class CountingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.calls += 1
        return super().request(*args, **kwargs)


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port held for the whole test by a socket that is bound but never
    listens: every connection to it is refused, and no other process can take
    it meanwhile (a port closed before use could be reused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


@pytest.fixture
def status_server() -> Iterator[tuple[str, list[int]]]:
    """Answers each request with the next status of a script the test sets."""
    script: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = script.pop(0) if script else 200
            self.send_response(status)
            if status in (429, 503):
                self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", script
    server.shutdown()
    server.server_close()


@pytest.mark.timeout(30)
def test_refused_connection_is_never_retried(refusing_port: int) -> None:
    registry = f"127.0.0.1:{refusing_port}"  # nothing listens there
    session = CountingSession()
    transport = Transport(
        registry, TransportOptions(retries=5), session=session, sleep=lambda s: None
    )
    with pytest.raises(TransportError, match="connection refused"):
        transport.request("GET", f"{transport.base}/v2/")
    assert session.calls == 1


@pytest.mark.timeout(30)
def test_server_errors_and_429_are_retried_a_bounded_number_of_times(
    status_server: tuple[str, list[int]],
) -> None:
    registry, script = status_server
    session = CountingSession()
    slept: list[float] = []
    transport = Transport(
        registry, TransportOptions(retries=2), session=session, sleep=slept.append
    )
    script.extend([503, 429, 503, 503])
    response = transport.request("GET", f"{transport.base}/v2/")
    assert response.status_code == 503  # gave up after 1 + 2 attempts
    assert session.calls == 3
    assert slept == [0.0, 0.0]  # Retry-After honoured


@pytest.mark.timeout(30)
def test_client_errors_are_not_retried(status_server: tuple[str, list[int]]) -> None:
    registry, script = status_server
    session = CountingSession()
    transport = Transport(
        registry, TransportOptions(retries=5), session=session, sleep=lambda s: None
    )
    script.append(404)
    assert transport.request("GET", f"{transport.base}/x").status_code == 404
    assert session.calls == 1


@pytest.mark.timeout(60)
def test_a_small_configured_timeout_is_honoured_on_a_stalled_server() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections (kernel backlog) and never answers
    try:
        registry = f"127.0.0.1:{listener.getsockname()[1]}"
        session = CountingSession()
        transport = Transport(registry, TransportOptions(timeout=0.5), session=session)
        with pytest.raises(TransportError, match=r"did not answer within 0\.5 s"):
            transport.request("GET", f"{transport.base}/v2/")
        assert session.calls == 1  # a timeout is not retried either
    finally:
        listener.close()


def test_retry_rule_is_pure_and_bounded() -> None:
    opts = TransportOptions(retries=3, max_backoff=10.0)
    assert retry_delay(500, {}, 0, opts) == 0.5
    assert retry_delay(502, {}, 2, opts) == 2.0
    assert retry_delay(429, {"Retry-After": "3600"}, 0, opts) == 10.0  # capped
    assert retry_delay(503, {}, 3, opts) is None  # attempts used up
    for status in (200, 201, 400, 401, 403, 404):
        assert retry_delay(status, {}, 0, opts) is None


def test_plain_http_only_for_loopback_or_when_insecure(tmp_path: Path) -> None:
    assert (
        is_loopback("127.0.0.1:5000")
        and is_loopback("localhost:5000")
        and is_loopback("[::1]:5000")
    )
    assert not is_loopback("ghcr.io") and not is_loopback("10.0.0.1:5000")
    assert scheme_for("ghcr.io", TransportOptions()) == "https"
    assert scheme_for("127.0.0.1:5000", TransportOptions()) == "http"
    assert scheme_for("127.0.0.1:5000", TransportOptions(ca_file=tmp_path / "ca.pem")) == "https"
    assert scheme_for("registry.internal:5000", TransportOptions(insecure=True)) == "http"


def test_challenges_parse_as_registries_send_them() -> None:
    c = parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull"'
    )
    assert c.scheme == "bearer" and c.realm == "https://auth.docker.io/token"
    assert c.params["scope"] == "repository:library/busybox:pull"
    assert parse_challenge('Basic realm="Registry Realm"').scheme == "basic"
    for bad in ("", 'Bearer realm="x" junk junk', "B@d realm=x", "x" * 9000):
        with pytest.raises(TransportError):
            parse_challenge(bad)
