"""Shared parts of the fault tests: a published package behind a proxy the
test controls, and checks that a store is whole.

The product has no fault hooks: every fault here is made from outside, by a
proxy between mppoci and a real registry, by SIGKILL, by a full filesystem,
or by stopping a Docker engine.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_mppoci, write_package
from tests.registry_fixtures import Registry

LAYER_BYTES = 3 * 1024 * 1024  # random, so the gzip layer is about as large


def ok(result: Any) -> str:
    assert result.returncode == 0, result.stderr
    return str(result.stdout).strip()


@dataclass
class Published:
    registry: Registry
    consumer: Path  # a home that trusts the publisher's key and holds nothing yet
    digest: str
    layer: str  # the content layer's digest
    root: Path

    def ref(self, host: str | None = None) -> str:
        return f"{host or self.registry.host}/acme/word-count:1.0.0"


@pytest.fixture
def published(tmp_path: Path, registry: Registry) -> Published:
    home, consumer = tmp_path / "publisher", tmp_path / "consumer"
    ok(run_mppoci(home, "key", "generate", "--output-key-prefix", str(tmp_path / "acme")))
    for h in (home, consumer):
        ok(run_mppoci(h, "trust", "add", str(tmp_path / "acme.pub"), "--publisher", "acme"))
    folder = write_package(tmp_path / "pkg")
    (folder / "lib" / "noise.bin").write_bytes(os.urandom(LAYER_BYTES))
    digest = ok(run_mppoci(home, "build", str(folder)))
    ok(run_mppoci(home, "sign", digest, "--key", str(tmp_path / "acme.key")))
    ok(run_mppoci(home, "push", digest, f"{registry.host}/acme/word-count:1.0.0"))
    blob = home / "data" / "store" / "blobs" / "sha256" / digest.removeprefix("sha256:")
    layer = json.loads(blob.read_bytes())["layers"][0]["digest"]
    return Published(registry, consumer, digest, layer, tmp_path)


# --- the store ---------------------------------------------------------------


def store_state(home: Path) -> dict[str, Any]:
    """What a store shows: its blob names and the entries of its index (a store
    that does not exist yet shows the same as an empty one)."""
    store = home / "data" / "store"
    blobs = store / "blobs" / "sha256"
    index = store / "index.json"
    return {
        "blobs": sorted(p.name for p in blobs.iterdir()) if blobs.is_dir() else [],
        "index": json.loads(index.read_bytes())["manifests"] if index.exists() else [],
    }


def assert_store_whole(home: Path) -> None:
    """Every visible blob hashes to its name; the index parses and names only
    blobs that are there."""
    store = home / "data" / "store"
    blobs = store / "blobs" / "sha256"
    present = set()
    if blobs.is_dir():
        for p in blobs.iterdir():
            assert hashlib.sha256(p.read_bytes()).hexdigest() == p.name, f"partial blob {p}"
            present.add("sha256:" + p.name)
    index = store / "index.json"
    if index.exists():
        for entry in json.loads(index.read_bytes())["manifests"]:
            assert entry["digest"] in present, f"index names a missing blob {entry['digest']}"


# --- a proxy in front of the registry ------------------------------------------


@dataclass
class FaultProxy:
    """Forwards to ``upstream``; requests whose path contains ``match`` get ``mode``:

    - ``status:N``   answer N (with ``Retry-After`` when ``retry_after`` is set)
    - ``stall``      accept, read the request, never answer
    - ``truncate``   send the headers with the full Content-Length, then half the body, close
    - ``oversize``   send the body with extra bytes (and a Content-Length that says so)
    - ``slow``       forward the body in 64 KiB pieces, ``delay`` seconds apart

    ``times`` limits how many matching requests get the fault (None: all)."""

    upstream: str
    match: str = "/blobs/"
    mode: str = "pass"
    times: int | None = None
    retry_after: str | None = None
    delay: float = 0.01
    hits: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def host(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.server_address[1]}"

    def faulty(self, path: str) -> bool:
        if self.match not in path or self.mode == "pass":
            return False
        self.hits.append(path)
        return self.times is None or len(self.hits) <= self.times


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if proxy.faulty(self.path) and self._fault():
                return
            upstream = http.client.HTTPConnection(proxy.upstream, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            extra = b""
            if proxy.mode == "oversize" and proxy.match in self.path and self.command == "GET":
                extra = os.urandom(4096)
            self.send_response(response.status)
            for k, v in response.getheaders():
                if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data) + len(extra)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if proxy.mode == "slow" and proxy.match in self.path:
                for i in range(0, len(data), 65536):
                    self.wfile.write(data[i : i + 65536])
                    self.wfile.flush()
                    time.sleep(proxy.delay)
            else:
                self.wfile.write(data + extra)

        def _fault(self) -> bool:
            """Answer with the fault; False when the request should go through."""
            mode = proxy.mode
            if mode.startswith("status:"):
                self.send_response(int(mode.split(":", 1)[1]))
                if proxy.retry_after is not None:
                    self.send_header("Retry-After", proxy.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True
            if mode == "stall":
                time.sleep(3600)
                return True
            if mode == "truncate" and self.command == "GET":
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=30)
                upstream.request("GET", self.path)
                response = upstream.getresponse()
                data = response.read()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return True
            return False

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = _forward  # noqa: N815

    return Handler


@pytest.fixture
def fault_proxy(published: Published) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream=published.registry.host)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    proxy.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield proxy
    server.shutdown()
    server.server_close()
