"""HTTP to registries: scheme choice, timeouts, and the retry rule.

- TLS is verified by default (``ca_file`` for private CAs). Plain HTTP is used
  only for loopback registries without a CA file, or with ``insecure``.
- Every call has a timeout. A refused connection is never retried (the
  registry is down: say so at once); only 5xx and 429 are retried, a bounded
  number of times, honouring a bounded Retry-After.
- Credentials (an ``Authorization`` header) go only to the origin they were
  given for: the registry itself, or the token realm it names for the token
  request. A redirect or an upload ``Location`` on another scheme, host or
  port gets the request without them. They never travel over plain HTTP to a
  host that is not loopback unless ``insecure`` was chosen; that is refused
  before connecting.
- The origin of a URL is read with the parser requests connects with
  (urllib3's, on the prepared URL), never another one. A URL whose authority
  holds a backslash or userinfo (``@``), or that two URL parsers read as
  different hosts, is not followed at all: such a URL only exists to make a
  check and the connection disagree.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from mppoci.errors import AuthError, TransportError
from mppoci.text import terminal_safe

MAX_REDIRECTS = 10
_REDIRECTS = (301, 302, 303, 307, 308)
_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class TransportOptions:
    ca_file: Path | None = None
    insecure: bool = False
    timeout: float = 30.0  # seconds, for connecting and for each read
    retries: int = 3  # extra attempts after a 5xx or 429
    max_backoff: float = 10.0


def host_of(registry: str) -> str:
    if registry.startswith("["):
        return registry[1 : registry.index("]")]
    return registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry


def is_loopback(registry: str) -> bool:
    return _host_is_loopback(host_of(registry))


def _bare(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _urlsplit_origin(url: str) -> tuple[str, int | None] | None:
    try:
        parts = urlsplit(url)
        return (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None


def ambiguity(url: str) -> str | None:
    """Why ``url`` could be read as two different hosts, or None. Pure.

    A backslash or an ``@`` in the authority, or a disagreement between
    urllib.parse and urllib3 (the parser requests connects with), is how a
    URL is made to pass one check and connect elsewhere."""
    _, sep, rest = url.partition("://")
    if not sep:
        return None
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "\\" in authority:
        return "its host part contains a backslash"
    if "@" in authority:
        return "its host part contains user information (@)"
    try:
        prepared = parse_url(requests.Request("GET", url).prepare().url or "")
    except (requests.exceptions.RequestException, LocationParseError, ValueError):
        return "it does not parse as a URL"
    if prepared.auth:
        return "its host part contains user information (@)"
    theirs = _urlsplit_origin(url)
    ours = (_bare(prepared.host or "").lower(), prepared.port)
    if theirs != ours:
        return "URL parsers disagree on its host"
    return None


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) that requests connects to for an absolute
    http(s) URL; None when it is not one or is ambiguous (:func:`ambiguity`).
    Pure."""
    if ambiguity(url) is not None:
        return None
    try:
        parts = parse_url(requests.Request("GET", url).prepare().url or "")
    except (requests.exceptions.RequestException, LocationParseError, ValueError):
        return None
    scheme = (parts.scheme or "").lower()
    host = _bare(parts.host or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, parts.port or _DEFAULT_PORTS[scheme]


def _host_is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _without_credentials(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != "authorization"}


def scheme_for(registry: str, options: TransportOptions) -> str:
    if options.ca_file is not None:
        return "https"
    if options.insecure or is_loopback(registry):
        return "http"
    return "https"


def retry_delay(
    status: int, headers: Mapping[str, str], attempt: int, options: TransportOptions
) -> float | None:
    """Seconds to wait before retrying, or None when the answer is final. Pure."""
    if attempt >= options.retries or not (status == 429 or 500 <= status <= 599):
        return None
    retry_after = headers.get("Retry-After", "")
    if retry_after.isdigit():
        return min(float(retry_after), options.max_backoff)
    return min(0.5 * 2.0**attempt, options.max_backoff)


class Transport:
    """One registry's HTTP session with the rules above."""

    def __init__(
        self,
        registry: str,
        options: TransportOptions,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.registry = registry
        self.options = options
        self.base = f"{scheme_for(registry, options)}://{registry}"
        self.session = session or requests.Session()
        self.session.trust_env = False  # no proxies from the environment for registries
        self._sleep = sleep

    def is_registry(self, url: str | None) -> bool:
        """Whether ``url`` is on this registry's own origin (scheme, host, port)."""
        here = origin_of(url or "")
        return here is not None and here == origin_of(self.base)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        credentials_for: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send with timeout and bounded retries, following redirects ourselves.

        ``credentials_for`` is the URL whose origin the ``Authorization``
        header was given for (default: the registry). Any other origin, the
        first URL included, gets the request without it.

        Raises:
            AuthError: credentials would go over plain HTTP to a host that is
                not loopback (without ``insecure``); nothing is sent.
            TransportError: the registry cannot be reached or answers badly.
        """
        allowed = origin_of(credentials_for or self.base)
        sent_headers = dict(headers or {})
        data = kwargs.get("data")
        for _ in range(MAX_REDIRECTS + 1):
            self._refuse_ambiguous(url)
            here = origin_of(url)
            hop_headers = (
                sent_headers
                if here is not None and here == allowed
                else _without_credentials(sent_headers)
            )
            self._refuse_plain_http_credentials(url, here, hop_headers)
            response = self._send(method, url, headers=hop_headers, **kwargs)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            response.close()
            if data is not None and not isinstance(data, bytes):
                raise TransportError(
                    f"{self.registry} redirected an upload, which mppoci cannot send again"
                )
            url = urljoin(url, location)
            if response.status_code == 303 or (
                response.status_code in (301, 302) and method == "POST"
            ):
                method = "GET"
                kwargs = {k: v for k, v in kwargs.items() if k != "data"}
                data = None
        raise TransportError(f"{self.registry} redirected more than {MAX_REDIRECTS} times")

    def _refuse_ambiguous(self, url: str) -> None:
        # Not followed at all, with or without credentials: nothing honest
        # needs such a URL, and any request to it goes to a host we did not check.
        why = ambiguity(url)
        if why is not None:
            raise TransportError(
                f"{self.registry} sent the address {terminal_safe(url)!r}, which mppoci does "
                f"not follow: {why}",
                hint="this is what a registry does to steer credentials to another host; "
                "report it to the registry's operator",
            )

    def _refuse_plain_http_credentials(
        self, url: str, origin: Origin | None, headers: Mapping[str, str]
    ) -> None:
        if not any(k.lower() == "authorization" for k in headers):
            return
        if origin is None or origin[0] != "http" or self.options.insecure:
            return
        if _host_is_loopback(origin[1]):
            return
        raise AuthError(
            f"refusing to send the credentials for {self.registry} over plain HTTP to "
            f"{origin[1]}:{origin[2]}, which is not a loopback address",
            hint="use https (the default), or pass --insecure if you accept that anyone on "
            "the network can read them",
        )

    def _send(
        self, method: str, url: str, *, headers: dict[str, str], **kwargs: Any
    ) -> requests.Response:
        verify: bool | str = str(self.options.ca_file) if self.options.ca_file else True
        attempt = 0
        while True:
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=headers,
                    timeout=self.options.timeout,
                    verify=verify,
                    allow_redirects=False,
                    **kwargs,
                )
            except requests.exceptions.SSLError as e:
                raise TransportError(
                    f"TLS to {self.registry} failed: {_reason(e)}",
                    hint="pass --ca-file with the CA certificate of a registry with a private CA",
                ) from None
            except requests.exceptions.ConnectionError as e:
                if isinstance(e, requests.exceptions.ConnectTimeout):
                    raise self._timeout() from None
                raise TransportError(
                    f"cannot connect to {self.registry}: {_reason(e)}",
                    hint="check that the registry is running and the address is right",
                ) from None
            except requests.exceptions.Timeout:
                raise self._timeout() from None
            except requests.exceptions.RequestException as e:
                raise TransportError(f"request to {self.registry} failed: {_reason(e)}") from None
            except UnicodeError:
                # e.g. a redirect whose Location is not text: requests cannot follow it
                raise TransportError(
                    f"{self.registry} sent an answer that is not valid HTTP (undecodable header)"
                ) from None
            delay = retry_delay(response.status_code, response.headers, attempt, self.options)
            if delay is None:
                return response
            response.close()
            self._sleep(delay)
            attempt += 1

    def _timeout(self) -> TransportError:
        return TransportError(
            f"{self.registry} did not answer within {self.options.timeout:g} s",
            hint="check the registry, or raise the limit with --timeout",
        )


def _reason(e: Exception) -> str:
    # requests nests the root cause; its text names the address, never credentials.
    text = str(e)
    for marker in ("Connection refused", "Name or service not known", "certificate verify failed"):
        if marker in text:
            return marker.lower()
    return text.splitlines()[0][:200] if text else type(e).__name__
