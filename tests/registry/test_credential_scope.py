"""Where credentials may go, decided before any byte is sent (issue #17 item 7).

No traffic leaves this machine: the session below fails the test if it is
ever asked to connect, so a refusal must happen before connecting."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import requests

from mppoci.errors import AuthError, TransportError, UserInputError
from mppoci.registry.auth import Authenticator, Scope
from mppoci.registry.challenge import parse_challenge
from mppoci.registry.credentials import Credentials, resolve, same_registry
from mppoci.registry.transport import Transport, TransportOptions, ambiguity, origin_of

CREDS = Credentials("alice", "s3cret", "test")


class NoNetwork(requests.Session):
    """A session that refuses to be used: any call is a test failure."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.calls.append(url)
        raise AssertionError(f"tried to connect to {url}")


def test_credentials_are_not_sent_over_plain_http_to_a_non_loopback_upload_location() -> None:
    session = NoNetwork()
    transport = Transport("registry.invalid", TransportOptions(), session=session)
    with pytest.raises(AuthError, match="plain HTTP"):
        transport.request(
            "PUT",
            "http://registry.invalid/v2/acme/x/blobs/uploads/1",
            headers={"Authorization": "Basic YWxpY2U6czNjcmV0"},
            credentials_for="http://registry.invalid/",
        )
    assert session.calls == []


def test_a_token_realm_over_plain_http_on_a_non_loopback_host_gets_no_password() -> None:
    session = NoNetwork()
    transport = Transport("registry.invalid", TransportOptions(), session=session)
    auth = Authenticator(transport, CREDS)
    challenge = parse_challenge('Bearer realm="http://auth.invalid/token",service="r"')
    with pytest.raises(AuthError, match="plain HTTP"):
        auth.answer(challenge, Scope("acme/x", ("pull",)))
    assert session.calls == []


def test_plain_http_with_credentials_is_allowed_only_with_insecure_or_on_loopback() -> None:
    sent: list[dict[str, str]] = []

    class Recording(requests.Session):
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            sent.append(dict(kwargs["headers"]))
            response = requests.Response()
            response.status_code = 200
            return response

    insecure = Transport("registry.invalid", TransportOptions(insecure=True), session=Recording())
    insecure.request("GET", "http://registry.invalid/v2/", headers={"Authorization": "Basic x"})
    loopback = Transport("127.0.0.1:5000", TransportOptions(), session=Recording())
    loopback.request("GET", "http://127.0.0.1:5000/v2/", headers={"Authorization": "Basic x"})
    assert [h.get("Authorization") for h in sent] == ["Basic x", "Basic x"]


def test_an_upload_location_on_another_origin_is_sent_without_credentials() -> None:
    sent: list[tuple[str, str | None]] = []

    class Recording(requests.Session):
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            sent.append((url, kwargs["headers"].get("Authorization")))
            response = requests.Response()
            response.status_code = 201
            return response

    transport = Transport("127.0.0.1:5000", TransportOptions(), session=Recording())
    for url in (
        "http://127.0.0.2:5000/upload",  # another loopback address is another host
        "http://localhost:5000/upload",  # another name for it too
        "http://127.0.0.1:5001/upload",  # another port
        "https://127.0.0.1:5000/upload",  # another scheme
        "http://127.0.0.1:5000/upload",  # the registry itself
    ):
        transport.request("PUT", url, headers={"Authorization": "Basic x"}, data=b"")
    assert [a for _, a in sent] == [None, None, None, None, "Basic x"]


def test_origins_compare_scheme_host_and_default_port() -> None:
    assert origin_of("https://GHCR.io/v2/") == origin_of("https://ghcr.io:443/x")
    assert origin_of("http://ghcr.io/") != origin_of("https://ghcr.io/")
    assert origin_of("file:///etc/passwd") is None


def test_environment_credentials_apply_to_the_named_registry_only(tmp_path: Path) -> None:
    env = {
        "DOCKER_CONFIG": str(tmp_path),
        "MPPOCI_REGISTRY": "https://r.test/",
        "MPPOCI_REGISTRY_USERNAME": "env",
        "MPPOCI_REGISTRY_PASSWORD": "pw",
    }
    mine = resolve("r.test", env)
    assert mine is not None and (mine.username, mine.password) == ("env", "pw")
    assert resolve("evil.test", env) is None
    assert resolve("r.test:5000", env) is None


def test_environment_credentials_without_a_named_registry_are_an_error(tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path), "MPPOCI_REGISTRY_USERNAME": "env"}
    with pytest.raises(UserInputError, match="MPPOCI_REGISTRY"):
        resolve("r.test", env)


def test_docker_hub_names_are_one_registry() -> None:
    assert same_registry("docker.io", "registry-1.docker.io")
    assert not same_registry("docker.io", "docker.io.evil.test")


def test_a_challenge_from_a_redirect_target_is_not_answered_with_credentials() -> None:
    """A blob download redirected to another host (a CDN) that answers 401
    with a Bearer realm of its own must not get the password traded there."""
    from mppoci.digest import Digest
    from mppoci.registry.client import RegistryClient

    seen: list[tuple[str, str | None]] = []

    class Redirecting(requests.Session):
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            seen.append((url, kwargs["headers"].get("Authorization")))
            response = requests.Response()
            response.url = url
            response.raw = io.BytesIO(b"")
            if url.startswith("http://127.0.0.1:5000/v2/"):
                response.status_code = 307
                response.headers["Location"] = "http://127.0.0.2:8080/blob"
            else:
                response.status_code = 401
                response.headers["WWW-Authenticate"] = 'Bearer realm="http://127.0.0.2:8080/token"'
            return response

    client = RegistryClient("127.0.0.1:5000", credentials=CREDS)
    client.transport.session = Redirecting()
    with pytest.raises(AuthError, match="only to the registry"):
        client.get_manifest("acme/x", Digest("sha256:" + "ab" * 32), max_bytes=1 << 20)
    assert [url for url, _ in seen] == [
        "http://127.0.0.1:5000/v2/acme/x/manifests/sha256:" + "ab" * 32,
        "http://127.0.0.2:8080/blob",
    ]
    assert all(auth is None for _, auth in seen)  # and no token request was made


def test_a_backslash_token_realm_before_a_loopback_host_is_refused_before_connecting() -> None:
    """urllib.parse reads this realm as 127.0.0.1 (loopback, so plain HTTP
    would be allowed); requests would connect to auth.invalid."""
    session = NoNetwork()
    transport = Transport("127.0.0.1:5000", TransportOptions(), session=session)
    auth = Authenticator(transport, CREDS)
    realm = "http://auth.invalid:15013\\@127.0.0.1:15013/token"
    quoted = realm.replace("\\", "\\\\")  # a quoted-string escapes its backslash
    challenge = parse_challenge(f'Bearer realm="{quoted}",service="r"')
    with pytest.raises(TransportError, match="does not follow: its host part contains a backslash"):
        auth.answer(challenge, Scope("acme/x", ("pull",)))
    assert session.calls == []


def test_a_token_realm_with_userinfo_is_refused_before_connecting() -> None:
    session = NoNetwork()
    transport = Transport("127.0.0.1:5000", TransportOptions(), session=session)
    auth = Authenticator(transport, CREDS)
    challenge = parse_challenge('Bearer realm="http://127.0.0.1:5000@auth.invalid/token"')
    with pytest.raises(TransportError, match=r"user information \(@\)"):
        auth.answer(challenge, Scope("acme/x", ("pull",)))
    assert session.calls == []


def test_a_backslash_upload_location_is_not_followed_with_or_without_credentials() -> None:
    session = NoNetwork()
    transport = Transport("127.0.0.1:15001", TransportOptions(), session=session)
    for headers in ({"Authorization": "Basic YWxpY2U6czNjcmV0"}, {}):
        with pytest.raises(TransportError, match="does not follow"):
            transport.request(
                "PUT", "http://127.0.0.2:15002\\@127.0.0.1:15001/upload/1", headers=headers
            )
    assert session.calls == []


def test_origin_is_the_host_requests_connects_to_and_none_when_ambiguous() -> None:
    assert origin_of("http://127.0.0.2:15002\\@127.0.0.1:15001/x") is None
    assert origin_of("http://alice@127.0.0.1:5000/") is None
    assert ambiguity("http://127.0.0.1:5000/v2/?next=a@b\\c") is None  # query, not authority
    assert origin_of("http://[::1]:5000/v2/") == ("http", "::1", 5000)
    assert origin_of("HTTP://LocalHost/v2/") == ("http", "localhost", 80)


def test_a_url_two_parsers_read_as_different_hosts_is_not_followed() -> None:
    # urllib.parse keeps "ex%61mple.invalid"; urllib3 decodes it to "example.invalid".
    url = "http://ex%61mple.invalid/v2/"
    assert ambiguity(url) == "URL parsers disagree on its host"
    session = NoNetwork()
    transport = Transport("127.0.0.1:5000", TransportOptions(), session=session)
    with pytest.raises(TransportError, match="URL parsers disagree"):
        transport.request("GET", url, headers={"Authorization": "Basic YWxpY2U6czNjcmV0"})
    assert session.calls == []
