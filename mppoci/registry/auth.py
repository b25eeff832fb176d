"""Registry authentication: Basic, and the Bearer token flow of GHCR, Harbor
and Docker Hub, with scope upgrades from pull to push.

A token is cached per (repository, actions). A push asks for
``pull,push`` from the start; if the registry still answers 401 with a
token we obtained for fewer actions, a new token is fetched for the wider
scope (the oras defect: reusing a pull token for push).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

import urllib3

from mppoci.errors import AuthError, TransportError
from mppoci.registry.challenge import Challenge
from mppoci.registry.credentials import Credentials
from mppoci.registry.transport import Transport

_MAX_TOKEN_RESPONSE = 1 << 20
_TOKEN_RE = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True, slots=True)
class Scope:
    repository: str
    actions: tuple[str, ...]  # ("pull",) or ("pull", "push")

    def text(self) -> str:
        return f"repository:{self.repository}:{','.join(self.actions)}"


def _basic(credentials: Credentials) -> str:
    raw = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


class Authenticator:
    def __init__(self, transport: Transport, credentials: Credentials | None) -> None:
        self._transport = transport
        self._credentials = credentials
        self._scheme: str | None = None
        self._tokens: dict[str, str] = {}

    @property
    def has_credentials(self) -> bool:
        return self._credentials is not None

    def header(self, scope: Scope | None) -> dict[str, str]:
        """The Authorization header to send first, if we already know one."""
        if self._scheme == "basic" and self._credentials is not None:
            return {"Authorization": _basic(self._credentials)}
        if self._scheme == "bearer":
            token = self._tokens.get(scope.text() if scope else "")
            if token:
                return {"Authorization": f"Bearer {token}"}
        return {}

    def answer(self, challenge: Challenge, scope: Scope | None) -> dict[str, str]:
        """Obtain what the challenge asks for. Raises AuthError."""
        self._scheme = challenge.scheme
        if challenge.scheme == "basic":
            if self._credentials is None:
                raise AuthError(
                    f"{self._transport.registry} needs credentials",
                    hint="log in with `mppoci login REGISTRY`, or set MPPOCI_REGISTRY=REGISTRY "
                    "with MPPOCI_REGISTRY_USERNAME and MPPOCI_REGISTRY_PASSWORD",
                )
            return {"Authorization": _basic(self._credentials)}
        if challenge.scheme == "bearer":
            token = self._fetch_token(challenge, scope)
            self._tokens[scope.text() if scope else ""] = token
            return {"Authorization": f"Bearer {token}"}
        raise AuthError(
            f"{self._transport.registry} asks for unsupported auth {challenge.scheme!r}"
        )

    def _fetch_token(self, challenge: Challenge, scope: Scope | None) -> str:
        realm = challenge.realm
        if not realm or not realm.startswith(("https://", "http://")):
            raise AuthError(f"{self._transport.registry} sent a token challenge without a realm")
        params: list[tuple[str, str]] = []
        if "service" in challenge.params:
            params.append(("service", challenge.params["service"]))
        scopes = {scope.text()} if scope else set()
        if "scope" in challenge.params:
            scopes.update(challenge.params["scope"].split(" "))
        params += [("scope", s) for s in sorted(scopes)]
        headers = {"Authorization": _basic(self._credentials)} if self._credentials else {}
        # The realm is where the protocol sends the credentials to trade for
        # a token; that origin, and no other, may receive them.
        response = self._transport.request(
            "GET", realm, params=params, headers=headers, stream=True, credentials_for=realm
        )
        with response:
            if response.status_code in (401, 403):
                raise AuthError(
                    f"the token server of {self._transport.registry} refused the credentials"
                    + (f" of {self._credentials.username}" if self._credentials else ""),
                    hint="check the username and password (`mppoci login`)",
                )
            if response.status_code != 200:
                status = response.status_code
                raise TransportError(
                    f"the token server of {self._transport.registry} answered {status}"
                )
            try:
                body = response.raw.read(_MAX_TOKEN_RESPONSE + 1, decode_content=True)
            except (OSError, urllib3.exceptions.HTTPError) as e:
                raise TransportError(
                    f"the token server of {self._transport.registry} sent an unreadable answer "
                    f"({type(e).__name__})"
                ) from None
        if len(body) > _MAX_TOKEN_RESPONSE:
            raise TransportError("the token server sent an oversized answer")
        try:
            doc = json.loads(body)
            token = doc.get("token") or doc.get("access_token")
        except (ValueError, AttributeError, RecursionError):
            token = None
        if not isinstance(token, str) or not token:
            raise TransportError(f"the token server of {self._transport.registry} sent no token")
        if not _TOKEN_RE.fullmatch(token):
            # It goes into an Authorization header, which carries only visible ASCII.
            raise TransportError(
                f"the token server of {self._transport.registry} sent a token with characters "
                "an HTTP header cannot carry"
            )
        return token
