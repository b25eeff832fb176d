"""Registry credentials go only where they were given (issue #17 item 7).

A proxy the test runs on 127.0.0.1 sits in front of a real Basic-auth
`docker-registry`. It sends the upload ``Location`` and blob downloads to
ANOTHER host (127.0.0.2, or "localhost" instead of "127.0.0.1"), which records
every Authorization header it is sent and forwards with its own credentials,
as a storage back end with pre-signed URLs would. No credential may arrive
there, and the push and pull still work.
"""

from __future__ import annotations

import base64
import http.client
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_mppoci, write_package
from tests.registry_fixtures import Registry

pytestmark = pytest.mark.integration

PASSWORD = "key-password"
REPO = "acme/word-count"
USER, SECRET = "alice", "alice-secret"
BASIC = "Basic " + base64.b64encode(f"{USER}:{SECRET}".encode()).decode()


def _ok(result: Any) -> str:
    assert result.returncode == 0, result.stderr
    return str(result.stdout.strip())


@dataclass
class Seen:
    """What arrived at one host: (Host header, method, path, Authorization)."""

    requests: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, host: str, method: str, path: str, auth: str | None) -> None:
        with self.lock:
            self.requests.append((host, method, path, auth))

    def on(self, host_prefix: str) -> list[tuple[str, str, str, str | None]]:
        return [r for r in self.requests if r[0].startswith(host_prefix)]


def _body(handler: BaseHTTPRequestHandler) -> bytes | None:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = b""
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return out
            out += handler.rfile.read(size)
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else None


class World:
    """The registry front (127.0.0.1), and the other host behind a redirect."""

    def __init__(self, upstream: str, other: str, *, backslash: bool = False) -> None:
        self.upstream = upstream
        # With ``backslash``, every address the front hands out is
        # ``http://OTHER\@FRONT/...``: urllib.parse reads the front (the host
        # the credentials are for), urllib3 connects to OTHER.
        self.backslash = backslash
        self.seen = Seen()
        self.front = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(front=True))
        if other == "127.0.0.2":
            self.back: ThreadingHTTPServer | None = ThreadingHTTPServer(
                ("127.0.0.2", 0), self._handler(front=False)
            )
            self.other = f"127.0.0.2:{self.back.server_address[1]}"
        else:  # the same server under another host name
            self.back = None
            self.other = f"localhost:{self.front.server_address[1]}"
        self.threads = [
            threading.Thread(target=s.serve_forever, daemon=True)
            for s in (self.front, self.back)
            if s is not None
        ]
        for t in self.threads:
            t.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.front.server_address[1]}"

    def elsewhere(self, path: str) -> str:
        if self.backslash:
            return f"http://{self.other}\\@{self.host}{path}"
        return f"http://{self.other}{path}"

    def close(self) -> None:
        for s in (self.front, self.back):
            if s is not None:
                s.shutdown()
                s.server_close()

    def _handler(self, *, front: bool) -> type[BaseHTTPRequestHandler]:
        world = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                host = self.headers.get("Host", "")
                auth = self.headers.get("Authorization")
                world.seen.add(host, self.command, self.path, auth)
                body = _body(self)
                is_front = front and host.startswith("127.0.0.1")
                # With the backslash trick, an authenticated manifest GET is
                # redirected too (after the registry has asked for credentials).
                redirected = "/blobs/sha256:" in self.path or (
                    world.backslash and "/manifests/" in self.path and auth is not None
                )
                if is_front and self.command == "GET" and redirected:
                    # Downloads are redirected to the other host, as to a CDN.
                    self.send_response(307)
                    self.send_header("Location", world.elsewhere(self.path))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "transfer-encoding", "content-length")
                }
                if not is_front:
                    headers["Authorization"] = BASIC  # the back end's own access
                upstream = http.client.HTTPConnection(world.upstream, timeout=30)
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status)
                for k, v in response.getheaders():
                    if k.lower() in ("content-length", "transfer-encoding", "connection"):
                        continue
                    if k.lower() == "location" and is_front and "/blobs/uploads/" in v:
                        v = v.replace(f"http://{world.upstream}", "")
                        v = world.elsewhere(v) if v.startswith("/") else v
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = _forward  # noqa: N815

        return Handler


@pytest.fixture
def signed(tmp_path: Path) -> dict[str, Path]:
    home, consumer = tmp_path / "publisher", tmp_path / "consumer"
    prefix = tmp_path / "acme"
    _ok(run_mppoci(home, "key", "generate", "--output-key-prefix", str(prefix), password=PASSWORD))
    for h in (home, consumer):
        _ok(run_mppoci(h, "trust", "add", f"{prefix}.pub", "--publisher", "acme"))
    _ok(run_mppoci(home, "build", str(write_package(tmp_path / "pkg"))))
    _ok(run_mppoci(home, "sign", REPO, "--key", f"{prefix}.key", password=PASSWORD))
    return {"home": home, "consumer": consumer}


@pytest.fixture(params=["127.0.0.2", "localhost"])
def world(request: pytest.FixtureRequest, basic_registry: Registry) -> Iterator[World]:
    w = World(basic_registry.host, request.param)
    try:
        yield w
    finally:
        w.close()


def test_upload_location_and_redirect_on_another_host_get_no_credentials(
    signed: dict[str, Path], world: World
) -> None:
    env = {
        "MPPOCI_REGISTRY": world.host,
        "MPPOCI_REGISTRY_USERNAME": USER,
        "MPPOCI_REGISTRY_PASSWORD": SECRET,
    }
    ref = f"{world.host}/{REPO}:1.0.0"
    pushed = _ok(run_mppoci(signed["home"], "push", REPO, ref, env=env))
    pulled = _ok(run_mppoci(signed["consumer"], "pull", ref, env=env))
    assert pulled == pushed
    other_host = world.other.split(":")[0]
    elsewhere = world.seen.on(other_host)
    # The attack happened: uploads and downloads went to the other host ...
    assert any(m == "PUT" and "/blobs/uploads/" in p for _, m, p, _ in elsewhere)
    assert any(m == "GET" and "/blobs/sha256:" in p for _, m, p, _ in elsewhere)
    # ... and no credential went with them.
    assert [r for r in elsewhere if r[3] is not None] == []
    # The registry itself did get them (the test would be hollow otherwise).
    assert any(a == BASIC for _, _, _, a in world.seen.on("127.0.0.1"))


def test_environment_credentials_are_not_sent_to_another_registry(
    signed: dict[str, Path], world: World, basic_registry: Registry
) -> None:
    """MPPOCI_REGISTRY_USERNAME/PASSWORD named for the real registry; a push to
    another registry (the front, under its own address) sends none of them."""
    env = {
        "MPPOCI_REGISTRY": basic_registry.host,
        "MPPOCI_REGISTRY_USERNAME": USER,
        "MPPOCI_REGISTRY_PASSWORD": SECRET,
    }
    result = run_mppoci(signed["home"], "push", REPO, f"{world.host}/{REPO}:1.0.0", env=env)
    assert result.returncode == 1
    assert "needs credentials" in result.stderr
    assert world.seen.requests and all(a is None for _, _, _, a in world.seen.requests)


def test_environment_credentials_without_a_named_registry_are_refused(
    signed: dict[str, Path], world: World
) -> None:
    env = {"MPPOCI_REGISTRY_USERNAME": USER, "MPPOCI_REGISTRY_PASSWORD": SECRET}
    result = run_mppoci(signed["home"], "push", REPO, f"{world.host}/{REPO}:1.0.0", env=env)
    assert result.returncode == 1
    assert "MPPOCI_REGISTRY" in result.stderr and "does not name" in result.stderr
    assert world.seen.requests == []  # refused before anything was sent


@pytest.fixture
def backslash_world(basic_registry: Registry) -> Iterator[World]:
    w = World(basic_registry.host, "127.0.0.2", backslash=True)
    try:
        yield w
    finally:
        w.close()


def test_backslash_upload_location_does_not_steer_credentials_to_another_host(
    signed: dict[str, Path], backslash_world: World
) -> None:
    """Location ``http://127.0.0.2:P\\@127.0.0.1:F/...``: urllib.parse sees the
    registry, requests would connect to 127.0.0.2. mppoci does not follow it."""
    world = backslash_world
    env = {
        "MPPOCI_REGISTRY": world.host,
        "MPPOCI_REGISTRY_USERNAME": USER,
        "MPPOCI_REGISTRY_PASSWORD": SECRET,
    }
    result = run_mppoci(signed["home"], "push", REPO, f"{world.host}/{REPO}:1.0.0", env=env)
    # The trick was played: the registry got the credentials and handed out the URL ...
    assert any(m == "POST" and a == BASIC for _, m, _, a in world.seen.on("127.0.0.1"))
    # ... and the catcher on 127.0.0.2 received nothing, so no Authorization.
    assert [r for r in world.seen.on("127.0.0.2") if r[3] is not None] == []
    assert world.seen.on("127.0.0.2") == []
    assert result.returncode == 1
    assert "does not follow" in result.stderr and "backslash" in result.stderr


def test_backslash_redirect_of_a_manifest_get_does_not_steer_credentials_to_another_host(
    signed: dict[str, Path], backslash_world: World, basic_registry: Registry
) -> None:
    world = backslash_world
    direct = {
        "MPPOCI_REGISTRY": basic_registry.host,
        "MPPOCI_REGISTRY_USERNAME": USER,
        "MPPOCI_REGISTRY_PASSWORD": SECRET,
    }
    _ok(run_mppoci(signed["home"], "push", REPO, f"{basic_registry.host}/{REPO}:1.0.0", env=direct))
    env = {**direct, "MPPOCI_REGISTRY": world.host}
    result = run_mppoci(signed["consumer"], "pull", f"{world.host}/{REPO}:1.0.0", env=env)
    front = world.seen.on("127.0.0.1")
    assert any(m == "GET" and "/manifests/" in p and a == BASIC for _, m, p, a in front)
    assert [r for r in world.seen.on("127.0.0.2") if r[3] is not None] == []
    assert world.seen.on("127.0.0.2") == []
    assert result.returncode == 1
    assert "does not follow" in result.stderr and "backslash" in result.stderr
