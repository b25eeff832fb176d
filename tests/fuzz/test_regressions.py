"""The inputs the long fuzz run (`make fuzz`) found, kept as plain tests so the
bounded run in `make test` checks each one every time."""

from __future__ import annotations

import io
import json
import socket
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mppoci.errors import Error, StoreError, TransportError, UserInputError
from mppoci.package.bundle import open_bundle
from mppoci.registry import credentials
from mppoci.registry.transport import Transport, TransportOptions
from mppoci.store.layout import Store

pytestmark = pytest.mark.fuzz


def test_a_lone_surrogate_escape_in_the_store_index_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    store.ensure()
    index = {"schemaVersion": 2, "manifests": []}
    text = json.dumps(index)[:-1] + ', "\\ud800": null}'
    (store.root / "index.json").write_text(text)
    with pytest.raises(Error, match="not valid Unicode text"):
        store.untag("acme/tool:1.0.0")  # reads, then would rewrite the index


def test_a_folder_named_index_json_in_a_bundle_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        layout = tarfile.TarInfo("oci-layout")
        body = b'{"imageLayoutVersion":"1.0.0"}'
        layout.size = len(body)
        tar.addfile(layout, io.BytesIO(body))
        folder = tarfile.TarInfo("index.json")
        folder.type = tarfile.DIRTYPE
        folder.mode = 0o755
        tar.addfile(folder)
    bundle = tmp_path / "b.tar"
    bundle.write_bytes(buffer.getvalue())
    with (
        pytest.raises(StoreError, match="cannot be read"),
        open_bundle(bundle, Store(tmp_path / "main")) as opened,
    ):
        opened.entries()


@pytest.fixture
def bad_redirect() -> Iterator[str]:
    """A server whose every answer is a redirect to a Location that is not text."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 301 Moved\r\nLocation: \x80\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


@pytest.mark.timeout(30)
def test_a_redirect_that_is_not_text_is_a_transport_error(bad_redirect: str) -> None:
    transport = Transport(bad_redirect, TransportOptions(timeout=5))
    with pytest.raises(TransportError, match="not valid HTTP"):
        transport.request("GET", f"{transport.base}/v2/")


def test_credentials_that_are_not_text_are_refused_before_saving(tmp_path: Path) -> None:
    environ = {"DOCKER_CONFIG": str(tmp_path), "PATH": str(tmp_path / "empty")}
    not_text = credentials.Credentials("\udc80", "pw", "test")  # a non-UTF-8 argv byte
    with pytest.raises(UserInputError, match="not valid UTF-8"):
        credentials.store("registry.test", not_text, environ)
    assert not (tmp_path / "config.json").exists()


def test_semver_takes_ascii_digits_only() -> None:
    from mppoci.semver import is_semver

    assert is_semver("13.0.0")
    assert not is_semver("1\u0663.0.0")  # ARABIC-INDIC DIGIT THREE
