"""Real registry processes on 127.0.0.1 for integration tests.

A pytest plugin (``pytest_plugins = ["tests.registry_fixtures"]``). Each
registry fixture starts Debian's ``docker-registry`` (CNCF distribution 2.8)
with its own config, storage and free port on 127.0.0.1, and kills it at
teardown: ``registry`` (anonymous HTTP), ``basic_registry`` (htpasswd),
``token_registry`` (Bearer tokens from an in-process token server) and
``tls_registry`` (HTTPS with a generated CA). ``stalling_server`` and
``tcp_trap`` are TCP servers that never answer, for timeout tests.

Nothing here talks to any address but 127.0.0.1: the registry listens there
only, its ``REGISTRY_*`` environment overrides are dropped, and the probes
ignore proxy settings.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import bcrypt
import pytest
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"
REGISTRY_BINARY = "docker-registry"
START_TIMEOUT_S = 20.0
START_ATTEMPTS = 5
LOG_TAIL_LINES = 60

BASIC_USERS: Mapping[str, str] = {"alice": "alice-secret"}

TOKEN_SERVICE = "mppoci-test"
TOKEN_ISSUER = "mppoci-test-issuer"
TOKEN_LIFETIME_S = 300
TOKEN_USERS: Mapping[str, str] = {"writer": "writer-secret", "reader": "reader-secret"}
# Actions each token user may get on every repository. Distribution asks for
# "pull" on GET/HEAD, "pull"+"push" on POST/PUT/PATCH and "delete" on DELETE.
TOKEN_RIGHTS: Mapping[str, frozenset[str]] = {
    "writer": frozenset({"pull", "push"}),
    "reader": frozenset({"pull"}),
}

AuthKind = Literal["none", "basic", "token"]

_DIGEST_RE = re.compile(r"sha256:([0-9a-f]{64})")
_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


# --- certificates -----------------------------------------------------------


@dataclass(frozen=True)
class CertKey:
    """A certificate and its private key (EC P-256)."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def make_cert(
    common_name: str,
    *,
    signer: CertKey | None = None,
    is_ca: bool = False,
    ip_sans: tuple[str, ...] = (),
    dns_sans: tuple[str, ...] = (),
    server_auth: bool = False,
) -> CertKey:
    """Make a certificate signed by ``signer``, or self-signed without one."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(signer.cert.subject if signer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # An hour back, so a clock that differs a little does not matter.
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    sans: list[x509.GeneralName] = [x509.IPAddress(IPv4Address(ip)) for ip in ip_sans]
    sans += [x509.DNSName(dns) for dns in dns_sans]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if server_auth:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    cert = builder.sign(signer.key if signer else key, hashes.SHA256())
    return CertKey(cert=cert, key=key)


# --- tokens -----------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """Signs registry JWTs (ES256) the way distribution 2.8 verifies them.

    The header carries ``x5c`` (the signing certificate); the registry trusts
    it because the same self-signed certificate is its ``rootcertbundle``.
    Build a second issuer to forge tokens the registry must refuse.
    """

    def __init__(self, service: str = TOKEN_SERVICE, issuer: str = TOKEN_ISSUER) -> None:
        self.service = service
        self.issuer = issuer
        self.signer = make_cert("mppoci test token signer")

    def cert_pem(self) -> bytes:
        return self.signer.cert_pem()

    def issue(
        self,
        subject: str,
        access: list[dict[str, Any]],
        *,
        audience: str | None = None,
        issuer: str | None = None,
        lifetime_s: int = TOKEN_LIFETIME_S,
        now: float | None = None,
    ) -> str:
        """A compact JWT granting ``access`` ([{type, name, actions}])."""
        issued = int(time.time() if now is None else now)
        header = {
            "typ": "JWT",
            "alg": "ES256",
            "x5c": [
                base64.b64encode(self.signer.cert.public_bytes(serialization.Encoding.DER)).decode()
            ],
        }
        claims = {
            "iss": self.issuer if issuer is None else issuer,
            "sub": subject,
            # Distribution 2.8 reads "aud" as one string; a JSON list is refused.
            "aud": self.service if audience is None else audience,
            "exp": issued + lifetime_s,
            "nbf": issued,
            "iat": issued,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        der = self.signer.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        # JWS wants R || S, 32 bytes each, not the DER that cryptography returns.
        return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


@dataclass(frozen=True)
class TokenRequest:
    """One request the token server got, and what it answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    user: str | None  # the Basic user name sent (even a refused one), None if anonymous
    status: int
    granted: tuple[tuple[str, tuple[str, ...]], ...]  # ((repository, actions), ...)

    @property
    def scopes(self) -> list[str]:
        """Every requested scope, repeated parameters and space-separated ones split."""
        return [s for value in self.query.get("scope", []) for s in value.split()]

    @property
    def requested(self) -> dict[str, frozenset[str]]:
        """Repository name -> requested actions. Compare these, not ``scopes``:
        distribution 2.8 lists a challenge's actions in random order."""
        return {name: frozenset(a) for name, a in _requested_actions(self.scopes).items()}


def _requested_actions(scopes: list[str]) -> dict[str, set[str]]:
    """Map repository name -> requested actions; other resource types are dropped."""
    wanted: dict[str, set[str]] = {}
    for scope in scopes:
        rtype, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        # "repository(plugin)" carries a class; only the type matters here.
        if rtype.split("(", 1)[0] != "repository" or not name:
            continue
        wanted.setdefault(name, set()).update(a for a in actions.split(",") if a)
    return wanted


class TokenServer(ThreadingHTTPServer):
    """The Docker token flow on 127.0.0.1: ``GET /token?service=&scope=``."""

    daemon_threads = True

    def __init__(self, issuer: TokenIssuer, users: Mapping[str, str] = TOKEN_USERS) -> None:
        super().__init__((LOOPBACK, 0), _TokenHandler)
        self.issuer = issuer
        self.users = dict(users)
        self.requests_seen: list[TokenRequest] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"

    @property
    def realm(self) -> str:
        return self.url + "/token"

    def record(self, entry: TokenRequest) -> None:
        with self._lock:
            self.requests_seen.append(entry)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


class _TokenHandler(BaseHTTPRequestHandler):
    server: TokenServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the tests read TokenServer.requests_seen instead

    def do_POST(self) -> None:
        # The OAuth2 form flow is not offered; 405 makes containerd-style
        # clients fall back to GET.
        self._answer(405, {"errors": [{"code": "UNSUPPORTED", "message": "use GET"}]}, None, ())

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        user, password = self._basic_credentials()
        if parts.path != "/token":
            self._answer(404, {"errors": [{"code": "NOT_FOUND"}]}, user, (), query)
            return
        if user is not None and not secrets.compare_digest(
            self.server.users.get(user, "\0").encode(), (password or "").encode()
        ):
            self._answer(
                401, _error("UNAUTHORIZED", "wrong user name or password"), user, (), query
            )
            return
        if query.get("service") != [self.server.issuer.service]:
            self._answer(400, _error("INVALID_SERVICE", "unknown service"), user, (), query)
            return
        scopes = [s for value in query.get("scope", []) for s in value.split()]
        allowed = TOKEN_RIGHTS.get(user or "", frozenset())
        granted = tuple(
            (name, tuple(sorted(actions & allowed)))
            for name, actions in sorted(_requested_actions(scopes).items())
            if actions & allowed
        )
        access = [
            {"type": "repository", "name": name, "actions": list(actions)}
            for name, actions in granted
        ]
        token = self.server.issuer.issue(user or "", access)
        body = {
            "token": token,
            "access_token": token,
            "expires_in": TOKEN_LIFETIME_S,
            "issued_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        self._answer(200, body, user, granted, query)

    def _basic_credentials(self) -> tuple[str | None, str | None]:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None, None
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except ValueError:
            return "", None  # malformed: treated as a wrong password
        return user, password

    def _answer(
        self,
        status: int,
        body: dict[str, Any],
        user: str | None,
        granted: tuple[tuple[str, tuple[str, ...]], ...],
        query: dict[str, list[str]] | None = None,
    ) -> None:
        parts = urlsplit(self.path)
        self.server.record(
            TokenRequest(
                method=self.command,
                path=parts.path,
                query=query if query is not None else parse_qs(parts.query),
                user=user,
                status=status,
                granted=granted,
            )
        )
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="mppoci-test-token"')
        self.end_headers()
        self.wfile.write(data)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message}]}


# --- the registry process ---------------------------------------------------


@dataclass(frozen=True)
class Registry:
    """A running ``docker-registry`` on 127.0.0.1."""

    host: str  # "127.0.0.1:PORT"
    scheme: str  # "http" or "https"
    storage: Path  # filesystem storage root
    ca_file: Path | None  # CA certificate PEM for HTTPS
    users: dict[str, str]  # user -> password that work; empty when anonymous
    token_server: str | None  # "http://127.0.0.1:PORT" with token auth
    # Every request the token server got, in order (empty without token auth).
    token_requests: list[TokenRequest] = field(compare=False)
    # The issuer the registry trusts, to mint tokens directly (token auth only).
    token_issuer: TokenIssuer | None = field(compare=False, repr=False)
    log_file: Path = field(compare=False)
    _process: subprocess.Popen[bytes] = field(compare=False, repr=False)

    def url(self, path: str) -> str:
        """``scheme://host`` + ``path`` (which starts with ``/``)."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        return f"{self.scheme}://{self.host}{path}"

    def blob_data_path(self, digest: str) -> Path:
        """Where the filesystem driver keeps the bytes of blob ``digest``."""
        match = _DIGEST_RE.fullmatch(digest)
        if not match:
            raise ValueError(f"not a sha256 digest: {digest!r}")
        hex_ = match.group(1)
        return self.storage / "docker/registry/v2/blobs/sha256" / hex_[:2] / hex_ / "data"

    def stop(self) -> None:
        """Stop the registry process (idempotent): later connections are refused."""
        _terminate(self._process)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.log_file, lines)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log file)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _registry_env() -> dict[str, str]:
    # REGISTRY_* variables override the config file (REGISTRY_HTTP_ADDR would
    # move the listener off 127.0.0.1), so none reaches the process.
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REGISTRY_") and k.lower() not in _PROXY_VARS
    }


def _config(
    port: int, storage: Path, auth: dict[str, Any] | None, tls: dict[str, str] | None
) -> dict[str, Any]:
    http: dict[str, Any] = {
        "addr": f"{LOOPBACK}:{port}",
        "secret": secrets.token_hex(32),
        "headers": {"X-Content-Type-Options": ["nosniff"]},
    }
    if tls:
        http["tls"] = tls
    config: dict[str, Any] = {
        "version": "0.1",
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": http,
        "health": {"storagedriver": {"enabled": False}},
    }
    if auth:
        config["auth"] = auth
    return config


def _probe(session: requests.Session, url: str) -> bool:
    try:
        # Short: the loop retries, and a squatter on the port never answers.
        response = session.get(url, timeout=0.5, allow_redirects=False)
    except requests.RequestException:
        return False
    # The header tells our registry apart from anything else on a reused port.
    return response.status_code in (200, 401) and response.headers.get(
        "Docker-Distribution-Api-Version", ""
    ).startswith("registry/2.0")


def _spawn(
    binary: str, config_file: Path, log_file: Path, probe_url: str, ca_file: Path | None
) -> tuple[subprocess.Popen[bytes] | None, str]:
    """Start the registry and wait for ``GET /v2/``: (process, "") or (None, why)."""
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [binary, "serve", str(config_file)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_registry_env(),
        )
    session = requests.Session()
    session.trust_env = False  # never through a proxy
    session.verify = str(ca_file) if ca_file else True
    deadline = time.monotonic() + START_TIMEOUT_S
    with session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return None, f"exited with status {process.returncode}"
            if _probe(session, probe_url) and process.poll() is None:
                return process, ""
            time.sleep(0.05)
    _terminate(process)
    return None, f"did not answer GET /v2/ within {START_TIMEOUT_S:.0f} s"


@contextlib.contextmanager
def start_registry(
    workdir: Path, *, auth: AuthKind = "none", tls: bool = False
) -> Iterator[Registry]:
    """Run a registry in ``workdir`` until the block ends; fail the test if it cannot start.

    Raises ``pytest.fail.Exception`` (a test failure, never a skip) with the
    registry's log when the binary is missing or the process does not come up.
    """
    binary = shutil.which(REGISTRY_BINARY)
    if binary is None:
        pytest.fail(f"{REGISTRY_BINARY} is missing: run `make system-deps`", pytrace=False)
    storage = workdir / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    scheme = "https" if tls else "http"

    tls_config: dict[str, str] | None = None
    ca_file: Path | None = None
    if tls:
        ca = make_cert("mppoci test CA", is_ca=True)
        server = make_cert(
            LOOPBACK,
            signer=ca,
            ip_sans=(LOOPBACK,),
            dns_sans=("localhost",),
            server_auth=True,
        )
        ca_file = workdir / "ca.pem"
        ca_file.write_bytes(ca.cert_pem())
        (workdir / "server.pem").write_bytes(server.cert_pem())
        (workdir / "server-key.pem").write_bytes(server.key_pem())
        tls_config = {
            "certificate": str(workdir / "server.pem"),
            "key": str(workdir / "server-key.pem"),
        }

    users: dict[str, str] = {}
    auth_config: dict[str, Any] | None = None
    token_server: TokenServer | None = None
    if auth == "basic":
        users = dict(BASIC_USERS)
        htpasswd = workdir / "htpasswd"
        # Cost 4 (bcrypt's minimum): the registry checks the hash on every request.
        htpasswd.write_text(
            "".join(
                f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()}\n"
                for user, pw in users.items()
            )
        )
        auth_config = {"htpasswd": {"realm": "mppoci-test", "path": str(htpasswd)}}
    elif auth == "token":
        users = dict(TOKEN_USERS)
        token_server = TokenServer(TokenIssuer())
        bundle = workdir / "token-root.pem"
        bundle.write_bytes(token_server.issuer.cert_pem())
        auth_config = {
            "token": {
                "realm": token_server.realm,
                "service": TOKEN_SERVICE,
                "issuer": TOKEN_ISSUER,
                "rootcertbundle": str(bundle),
                "autoredirect": False,
            }
        }
        token_server.start()

    config_file = workdir / "config.yml"
    log_file = workdir / "registry.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        why = ""
        for _attempt in range(START_ATTEMPTS):
            port = _free_port()
            config_file.write_text(
                yaml.safe_dump(_config(port, storage, auth_config, tls_config), sort_keys=False)
            )
            probe_url = f"{scheme}://{LOOPBACK}:{port}/v2/"
            process, why = _spawn(binary, config_file, log_file, probe_url, ca_file)
            # Another process took the port between our probe and the bind: retry.
            if process is not None or "address already in use" not in _tail(log_file, 20):
                break
        if process is None:
            pytest.fail(
                f"docker-registry ({auth}, {scheme}) {why}; config {config_file}\n"
                f"--- log tail ({log_file}) ---\n{_tail(log_file, LOG_TAIL_LINES)}",
                pytrace=False,
            )
        registry = Registry(
            host=f"{LOOPBACK}:{port}",
            scheme=scheme,
            storage=storage,
            ca_file=ca_file,
            users=users,
            token_server=token_server.url if token_server else None,
            token_requests=token_server.requests_seen if token_server else [],
            token_issuer=token_server.issuer if token_server else None,
            log_file=log_file,
            _process=process,
        )
        yield registry
    finally:
        if process is not None:
            _terminate(process)
        if token_server is not None:
            token_server.stop()


@contextlib.contextmanager
def _registry_fixture(
    tmp_path_factory: pytest.TempPathFactory, auth: AuthKind, tls: bool
) -> Iterator[Registry]:
    workdir = tmp_path_factory.mktemp(f"registry-{auth}-{'https' if tls else 'http'}")
    with start_registry(workdir, auth=auth, tls=tls) as registry:
        yield registry
    # Only after a clean run: a registry that failed to start keeps its
    # config and log for the failure message's reader.
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """An anonymous registry over plain HTTP."""
    with _registry_fixture(tmp_path_factory, "none", tls=False) as reg:
        yield reg


@pytest.fixture
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry with htpasswd Basic auth: ``alice`` / ``alice-secret``."""
    with _registry_fixture(tmp_path_factory, "basic", tls=False) as reg:
        yield reg


@pytest.fixture
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry with Bearer token auth; ``writer`` may pull and push, ``reader`` pull."""
    with _registry_fixture(tmp_path_factory, "token", tls=False) as reg:
        yield reg


@pytest.fixture
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """An anonymous registry over HTTPS; trust ``ca_file`` to reach it."""
    with _registry_fixture(tmp_path_factory, "none", tls=True) as reg:
        yield reg


# --- TCP servers that never answer -----------------------------------------


class TcpTrap:
    """A TCP server on 127.0.0.1 that accepts connections and never answers.

    ``behaviour="stall"`` keeps every connection open and silent (a client
    without a read timeout hangs); ``"reset"`` aborts each one at once with a
    TCP RST. ``attempts`` counts the connections accepted, to prove how many
    times a client tried.
    """

    def __init__(self, behaviour: Literal["stall", "reset"] = "stall") -> None:
        self.behaviour = behaviour
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(128)
        self._listener.settimeout(0.05)
        self.address = f"{LOOPBACK}:{self._listener.getsockname()[1]}"
        self._held: list[socket.socket] = []
        self._attempts = 0
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def attempts(self) -> int:
        with self._changed:
            return self._attempts

    def wait_for_attempts(self, count: int, timeout_s: float = 5.0) -> bool:
        """True once at least ``count`` connections arrived, False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._attempts >= count, timeout_s)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.behaviour == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            else:
                self._held.append(conn)
            with self._changed:
                self._attempts += 1
                self._changed.notify_all()

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()
        for conn in self._held:
            conn.close()

    def __enter__(self) -> TcpTrap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def stalling_server() -> Iterator[str]:
    """``"127.0.0.1:PORT"`` of a server that accepts and never answers."""
    with TcpTrap("stall") as trap:
        yield trap.address


@pytest.fixture
def tcp_trap() -> Iterator[TcpTrap]:
    """A stalling server that also counts connection attempts (``.attempts``)."""
    with TcpTrap("stall") as trap:
        yield trap
