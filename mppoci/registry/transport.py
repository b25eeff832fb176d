"""HTTP to registries: scheme choice, timeouts, and the retry rule.

- TLS is verified by default (``ca_file`` for private CAs). Plain HTTP is used
  only for loopback registries without a CA file, or with ``insecure``.
- Every call has a timeout. A refused connection is never retried (the
  registry is down: say so at once); only 5xx and 429 are retried, a bounded
  number of times, honouring a bounded Retry-After.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from mppoci.errors import TransportError


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
    host = host_of(registry)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send with timeout and bounded retries. Raises TransportError."""
        verify: bool | str = str(self.options.ca_file) if self.options.ca_file else True
        attempt = 0
        while True:
            try:
                response = self.session.request(
                    method,
                    url,
                    timeout=self.options.timeout,
                    verify=verify,
                    allow_redirects=True,
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
