"""The registry fixtures work: real registries on 127.0.0.1, with each auth set-up."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests import registry_fixtures as rf
from tests.registry_fixtures import Registry, TcpTrap, TokenIssuer

pytestmark = pytest.mark.integration

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
LAYER_TYPE = "application/vnd.mppoci.test.layer.v1"
ALL_REGISTRIES = ["registry", "basic_registry", "token_registry", "tls_registry"]
# The user each set-up lets push (None: anonymous).
PUSHER = {"basic_registry": "alice", "token_registry": "writer"}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def new_session(registry: Registry) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never through a proxy: only 127.0.0.1 is spoken to
    session.verify = str(registry.ca_file) if registry.ca_file else True
    return session


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, params = header.partition(" ")
    return scheme, dict(re.findall(r'(\w+)="([^"]*)"', params))


class Client:
    """Just enough of a registry client: Basic credentials, or the Bearer
    token dance (one token fetch and one retry per 401 challenge)."""

    def __init__(self, registry: Registry, user: str | None = None) -> None:
        self.registry = registry
        self.session = new_session(registry)
        self.credentials = (user, registry.users[user]) if user else None
        if self.credentials and registry.token_server is None:
            self.session.auth = self.credentials
        self.headers: dict[str, str] = {}

    def request(self, method: str, path_or_url: str, **kwargs: Any) -> requests.Response:
        url = path_or_url if "://" in path_or_url else self.registry.url(path_or_url)
        # Follow only what stays on this registry.
        assert urlsplit(url).netloc == self.registry.host, url
        response = self._send(method, url, **kwargs)
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if response.status_code == 401 and scheme == "Bearer" and self._fetch_token(params):
            response = self._send(method, url, **kwargs)
        return response

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.session.request(method, url, headers=headers, timeout=10, **kwargs)

    def _fetch_token(self, challenge: dict[str, str]) -> bool:
        assert self.registry.token_server is not None
        assert challenge["realm"].startswith(self.registry.token_server + "/")
        params = {"service": challenge["service"]}
        if "scope" in challenge:
            params["scope"] = challenge["scope"]
        response = self.session.get(
            challenge["realm"], params=params, auth=self.credentials, timeout=10
        )
        if response.status_code != 200:
            return False
        self.headers["Authorization"] = "Bearer " + response.json()["token"]
        return True


@dataclass(frozen=True)
class Pushed:
    name: str
    tag: str
    payload: bytes
    manifest: bytes

    @property
    def blob_digest(self) -> str:
        return sha256(self.payload)

    @property
    def manifest_digest(self) -> str:
        return sha256(self.manifest)


def push_blob(client: Client, name: str, data: bytes) -> requests.Response:
    """POST an upload, then PUT the bytes with ?digest=; the PUT's response
    (or the refused POST's)."""
    started = client.request("POST", f"/v2/{name}/blobs/uploads/")
    if started.status_code != 202:
        return started
    location = urljoin(client.registry.url("/"), started.headers["Location"])
    return client.request(
        "PUT",
        location,
        params={"digest": sha256(data)},
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )


def push_artifact(client: Client, name: str, tag: str, payload: bytes) -> Pushed:
    for blob in (b"{}", payload):
        response = push_blob(client, name, blob)
        assert response.status_code == 201, response.text
        assert response.headers["Docker-Content-Digest"] == sha256(blob)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_EMPTY, "digest": sha256(b"{}"), "size": 2},
            "layers": [{"mediaType": LAYER_TYPE, "digest": sha256(payload), "size": len(payload)}],
        },
        separators=(",", ":"),
    ).encode()
    response = client.request(
        "PUT", f"/v2/{name}/manifests/{tag}", data=manifest, headers={"Content-Type": OCI_MANIFEST}
    )
    assert response.status_code == 201, response.text
    assert response.headers["Docker-Content-Digest"] == sha256(manifest)
    return Pushed(name, tag, payload, manifest)


def assert_pulls(client: Client, pushed: Pushed) -> None:
    for reference in (pushed.tag, pushed.manifest_digest):
        response = client.request(
            "GET", f"/v2/{pushed.name}/manifests/{reference}", headers={"Accept": OCI_MANIFEST}
        )
        assert response.status_code == 200, response.text
        assert response.content == pushed.manifest
        assert response.headers["Content-Type"] == OCI_MANIFEST
    blob = client.request("GET", f"/v2/{pushed.name}/blobs/{pushed.blob_digest}")
    assert blob.status_code == 200, blob.text
    assert blob.content == pushed.payload


def listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as the kernel writes them) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, port_hex = local.rpartition(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def b64url_json(part: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


# --- every set-up -------------------------------------------------------------


@pytest.mark.parametrize("fixture", ALL_REGISTRIES)
def test_each_registry_stores_and_serves_an_oci_artifact(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    registry: Registry = request.getfixturevalue(fixture)
    client = Client(registry, PUSHER.get(fixture))
    pushed = push_artifact(client, "acme/word-count", "1.0.0", b"tiny layer\n")
    assert_pulls(client, pushed)
    assert registry.blob_data_path(pushed.blob_digest).read_bytes() == pushed.payload


@pytest.mark.parametrize("fixture", ALL_REGISTRIES)
def test_each_registry_listens_on_127_0_0_1_only(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    registry: Registry = request.getfixturevalue(fixture)
    host, _, port = registry.host.rpartition(":")
    assert host == "127.0.0.1"
    assert registry.url("/v2/") == f"{registry.scheme}://127.0.0.1:{port}/v2/"
    assert listening_addresses(int(port)) == {"0100007F"}  # 127.0.0.1, nothing else
    if registry.token_server:
        token_port = int(registry.token_server.rpartition(":")[2])
        assert registry.token_server == f"http://127.0.0.1:{token_port}"
        assert listening_addresses(token_port) == {"0100007F"}


def test_two_registries_in_one_test_are_separate(
    registry: Registry, tls_registry: Registry
) -> None:
    assert registry.host != tls_registry.host
    assert registry.storage != tls_registry.storage
    push_artifact(Client(registry), "only/here", "v1", b"x")
    missing = Client(tls_registry).request("GET", "/v2/only/here/manifests/v1")
    assert missing.status_code == 404


# --- anonymous ------------------------------------------------------------------


def test_anonymous_registry_describes_itself(registry: Registry) -> None:
    assert registry.scheme == "http"
    assert registry.ca_file is None
    assert registry.users == {}
    assert registry.token_server is None
    assert registry.token_requests == []
    with pytest.raises(ValueError, match="start with"):
        registry.url("v2/")
    with pytest.raises(ValueError, match="sha256"):
        registry.blob_data_path("sha256:ABC")


def test_corrupted_blob_is_served_with_bytes_that_miss_the_digest(registry: Registry) -> None:
    client = Client(registry)
    pushed = push_artifact(client, "acme/tampered", "1", b"the real bytes")
    data_file = registry.blob_data_path(pushed.blob_digest)
    data_file.write_bytes(b"THE EVIL BYTES")  # same length: the registry keeps serving

    served = client.request("GET", f"/v2/acme/tampered/blobs/{pushed.blob_digest}")
    assert served.status_code == 200
    assert served.content == b"THE EVIL BYTES"
    assert sha256(served.content) != pushed.blob_digest
    assert served.headers["Docker-Content-Digest"] == pushed.blob_digest


def test_stop_makes_connections_refused(registry: Registry) -> None:
    assert Client(registry).request("GET", "/v2/").status_code == 200
    registry.stop()
    registry.stop()  # idempotent
    host, _, port = registry.host.rpartition(":")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=2).close()
    with pytest.raises(requests.ConnectionError):
        new_session(registry).get(registry.url("/v2/"), timeout=2)


# --- Basic auth -----------------------------------------------------------------


def test_basic_registry_refuses_missing_and_wrong_credentials(basic_registry: Registry) -> None:
    assert basic_registry.users == {"alice": "alice-secret"}
    session = new_session(basic_registry)
    url = basic_registry.url("/v2/")

    anonymous = session.get(url, timeout=10)
    assert anonymous.status_code == 401
    assert parse_challenge(anonymous.headers["WWW-Authenticate"])[0] == "Basic"
    assert session.get(url, auth=("alice", "wrong"), timeout=10).status_code == 401
    assert session.get(url, auth=("mallory", "alice-secret"), timeout=10).status_code == 401
    assert session.get(url, auth=("alice", "alice-secret"), timeout=10).status_code == 200

    refused = push_blob(Client(basic_registry), "acme/x", b"data")
    assert refused.status_code == 401


def test_basic_registry_htpasswd_holds_bcrypt_hashes(basic_registry: Registry) -> None:
    htpasswd = (basic_registry.storage.parent / "htpasswd").read_text()
    user, _, hashed = htpasswd.strip().partition(":")
    assert user == "alice"
    assert hashed.startswith("$2") and "alice-secret" not in htpasswd


# --- token auth -----------------------------------------------------------------


def test_token_registry_challenges_anonymous_requests(token_registry: Registry) -> None:
    assert token_registry.users == {"writer": "writer-secret", "reader": "reader-secret"}
    response = new_session(token_registry).get(token_registry.url("/v2/"), timeout=10)
    assert response.status_code == 401
    scheme, params = parse_challenge(response.headers["WWW-Authenticate"])
    assert scheme == "Bearer"
    assert params["realm"] == f"{token_registry.token_server}/token"
    assert params["service"] == "mppoci-test"


def test_writer_pushes_after_a_scope_upgrade_from_pull_to_push(token_registry: Registry) -> None:
    writer = Client(token_registry, "writer")
    # A client that looks before it pushes first holds a pull-only token.
    assert writer.request("GET", "/v2/acme/tool/manifests/1.0.0").status_code == 404
    pushed = push_artifact(writer, "acme/tool", "1.0.0", b"payload")
    assert_pulls(writer, pushed)

    asked = [(r.user, r.requested, r.granted) for r in token_registry.token_requests]
    assert asked == [
        ("writer", {"acme/tool": frozenset({"pull"})}, (("acme/tool", ("pull",)),)),
        ("writer", {"acme/tool": frozenset({"pull", "push"})}, (("acme/tool", ("pull", "push")),)),
    ]
    assert all(r.path == "/token" and r.status == 200 for r in token_registry.token_requests)


def test_reader_pulls_but_its_push_is_refused(token_registry: Registry) -> None:
    pushed = push_artifact(Client(token_registry, "writer"), "acme/tool", "1", b"payload")
    reader = Client(token_registry, "reader")
    assert_pulls(reader, pushed)

    refused = push_blob(reader, "acme/tool", b"reader's bytes")
    assert refused.status_code in (401, 403)
    challenge = refused.headers.get("WWW-Authenticate", "")
    assert 'error="insufficient_scope"' in challenge or "DENIED" in refused.text
    last = token_registry.token_requests[-1]
    assert (last.user, last.requested) == ("reader", {"acme/tool": frozenset({"pull", "push"})})
    assert last.granted == (("acme/tool", ("pull",)),)  # the intersection, not the request


def test_anonymous_token_grants_nothing(token_registry: Registry) -> None:
    pushed = push_artifact(Client(token_registry, "writer"), "acme/tool", "1", b"payload")
    anonymous = Client(token_registry)
    assert anonymous.request("GET", "/v2/").status_code == 200  # a token without access
    refused = anonymous.request("GET", f"/v2/acme/tool/manifests/{pushed.tag}")
    assert refused.status_code == 401
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]
    last = token_registry.token_requests[-1]
    assert (last.user, last.status, last.granted) == (None, 200, ())


def test_token_server_refuses_a_wrong_password(token_registry: Registry) -> None:
    session = new_session(token_registry)
    realm = f"{token_registry.token_server}/token"
    params = {"service": "mppoci-test", "scope": "repository:acme/tool:pull"}
    for user, password in [("writer", "wrong"), ("nobody", "writer-secret"), ("reader", "")]:
        response = session.get(realm, params=params, auth=(user, password), timeout=10)
        assert response.status_code == 401
        assert "token" not in response.json()
        assert (
            token_registry.token_requests[-1].user,
            token_registry.token_requests[-1].status,
        ) == (
            user,
            401,
        )
    wrong_service = session.get(realm, params={**params, "service": "other"}, timeout=10)
    assert wrong_service.status_code == 400


def test_token_is_an_es256_jwt_with_x5c_and_the_granted_access(token_registry: Registry) -> None:
    assert token_registry.token_issuer is not None
    response = new_session(token_registry).get(
        f"{token_registry.token_server}/token",
        params={
            "service": "mppoci-test",
            # Repeated parameters and space-separated scopes both count.
            "scope": ["repository:a/one:pull,push repository:a/two:pull", "registry:catalog:*"],
        },
        auth=("writer", "writer-secret"),
        timeout=10,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    assert body["issued_at"].endswith("Z")

    header_part, claims_part, signature_part = body["token"].split(".")
    header, claims = b64url_json(header_part), b64url_json(claims_part)
    assert header["alg"] == "ES256"
    cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    assert cert == token_registry.token_issuer.signer.cert
    raw = base64.urlsafe_b64decode(signature_part + "=" * (-len(signature_part) % 4))
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(
        encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
        f"{header_part}.{claims_part}".encode(),
        ec.ECDSA(hashes.SHA256()),
    )
    assert claims["iss"] == "mppoci-test-issuer"
    assert claims["aud"] == "mppoci-test"
    assert claims["sub"] == "writer"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["nbf"] <= time.time() < claims["exp"]
    assert claims["jti"]
    assert claims["access"] == [
        {"type": "repository", "name": "a/one", "actions": ["pull", "push"]},
        {"type": "repository", "name": "a/two", "actions": ["pull"]},
    ]


def test_registry_really_verifies_tokens(token_registry: Registry) -> None:
    assert token_registry.token_issuer is not None
    push_artifact(Client(token_registry, "writer"), "acme/tool", "1", b"payload")
    url = token_registry.url("/v2/acme/tool/manifests/1")
    access = [{"type": "repository", "name": "acme/tool", "actions": ["pull"]}]
    session = new_session(token_registry)

    def status(token: str) -> tuple[int, str]:
        response = session.get(
            url,
            headers={"Authorization": f"Bearer {token}", "Accept": OCI_MANIFEST},
            timeout=10,
        )
        return response.status_code, response.headers.get("WWW-Authenticate", "")

    assert status(token_registry.token_issuer.issue("minted", access))[0] == 200
    for forged in (
        TokenIssuer().issue("mallory", access),  # a key outside rootcertbundle
        token_registry.token_issuer.issue("x", access, audience="another-service"),
        token_registry.token_issuer.issue("x", access, issuer="another-issuer"),
        token_registry.token_issuer.issue("x", access, now=time.time() - 3600),  # expired
    ):
        code, challenge = status(forged)
        assert code == 401
        assert 'error="invalid_token"' in challenge


# --- TLS ------------------------------------------------------------------------


def test_tls_registry_is_trusted_only_through_its_ca(tls_registry: Registry) -> None:
    assert tls_registry.scheme == "https"
    assert tls_registry.ca_file is not None
    url = tls_registry.url("/v2/")
    assert new_session(tls_registry).get(url, timeout=10).status_code == 200

    plain = requests.Session()
    plain.trust_env = False
    with pytest.raises(requests.exceptions.SSLError):
        plain.get(url, timeout=10)


def test_tls_certificate_names_127_0_0_1_and_localhost(tls_registry: Registry) -> None:
    assert tls_registry.ca_file is not None
    context = ssl.create_default_context(cafile=str(tls_registry.ca_file))
    host, _, port = tls_registry.host.rpartition(":")
    # Connect to 127.0.0.1 but check the certificate against the DNS name,
    # so that "localhost" never has to be resolved.
    ders: list[bytes | None] = []
    for name in ("127.0.0.1", "localhost"):
        with (
            socket.create_connection((host, int(port)), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=name) as tls,
        ):
            ders.append(tls.getpeercert(binary_form=True))
    der = ders[0]
    assert der is not None and ders == [der, der]
    cert = x509.load_der_x509_certificate(der)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    ca = x509.load_pem_x509_certificate(tls_registry.ca_file.read_bytes())
    assert cert.issuer == ca.subject
    assert ca.public_bytes(serialization.Encoding.PEM) == tls_registry.ca_file.read_bytes()


# --- start-up failures fail, never skip -------------------------------------------


def test_a_registry_that_cannot_start_fails_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_config = rf._config

    def broken(*args: Any) -> dict[str, Any]:
        config = real_config(*args)
        config["storage"]["nosuchdriver"] = {}
        return config

    monkeypatch.setattr(rf, "_config", broken)
    with pytest.raises(pytest.fail.Exception) as failed, rf.start_registry(tmp_path):
        pass
    message = str(failed.value)
    assert "exited with status" in message
    assert "nosuchdriver" in message  # from the registry's own log
    assert "log tail" in message


def test_a_missing_binary_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rf, "REGISTRY_BINARY", "no-such-docker-registry")
    with (
        pytest.raises(pytest.fail.Exception, match="make system-deps"),
        rf.start_registry(tmp_path),
    ):
        pass


def test_a_taken_port_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        real_free_port = rf._free_port
        monkeypatch.setattr(rf, "_free_port", lambda: next(ports, None) or real_free_port())
        with rf.start_registry(tmp_path) as registry:
            assert registry.host != f"127.0.0.1:{taken}"
            assert Client(registry).request("GET", "/v2/").status_code == 200


# --- servers that never answer ----------------------------------------------------


def test_stalling_server_accepts_and_never_answers(stalling_server: str) -> None:
    host, _, port = stalling_server.rpartition(":")
    assert host == "127.0.0.1"
    session = requests.Session()
    session.trust_env = False
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(f"http://{stalling_server}/v2/", timeout=(5, 0.3))
    assert time.monotonic() - started < 3
    with socket.create_connection((host, int(port)), timeout=2) as sock:
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(1)


def test_tcp_trap_counts_connection_attempts(tcp_trap: TcpTrap) -> None:
    session = requests.Session()
    session.trust_env = False
    for _ in range(3):
        with pytest.raises(requests.exceptions.ReadTimeout):
            session.get(f"http://{tcp_trap.address}/", timeout=(5, 0.2))
        session.close()  # a new connection per attempt
    assert tcp_trap.wait_for_attempts(3)
    assert tcp_trap.attempts == 3


def test_resetting_trap_aborts_each_connection() -> None:
    with TcpTrap("reset") as trap:
        session = requests.Session()
        session.trust_env = False
        with pytest.raises(requests.ConnectionError):
            session.get(f"http://{trap.address}/", timeout=5)
        assert trap.wait_for_attempts(1)
