"""The OCI distribution API, as mppoci needs it.

Every manifest and blob that comes back is checked against its digest and
size while it streams, under the caps of :class:`mppoci.limits.Limits`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import IO
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from mppoci.digest import Digest, is_digest
from mppoci.errors import (
    AuthError,
    DigestMismatchError,
    LimitExceededError,
    NotFoundError,
    TransportError,
)
from mppoci.oci import mediatypes as mt
from mppoci.oci.model import Descriptor
from mppoci.registry.auth import Authenticator, Scope
from mppoci.registry.challenge import parse_challenge
from mppoci.registry.credentials import Credentials
from mppoci.registry.transport import Transport, TransportOptions
from mppoci.store.layout import BlobWriter
from mppoci.text import terminal_safe

MANIFEST_ACCEPT = ", ".join(
    (
        mt.OCI_MANIFEST,
        mt.OCI_INDEX,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )
)
_CHUNK = 1 << 16

Progress = Callable[[int], None]


def _host_of_url(url: str) -> str:
    return terminal_safe(urlsplit(url).netloc or url)


def _error_text(response: requests.Response) -> str:
    try:
        body = response.raw.read(8192, decode_content=True)
        errors = json.loads(body).get("errors") or []
        first = errors[0]
        # The registry's own words end up in a message on one line: escaped
        # here, so a newline cannot pass for a line of ours either.
        return terminal_safe(f"{first.get('code', '')}: {first.get('message', '')}".strip(": "))
    except (
        ValueError,
        AttributeError,
        LookupError,
        TypeError,
        OSError,
        RecursionError,
        urllib3.exceptions.HTTPError,  # a body that does not decode as its Content-Encoding says
    ):
        return f"HTTP {response.status_code}"


class RegistryClient:
    def __init__(
        self,
        registry: str,
        *,
        options: TransportOptions | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.registry = registry
        self.transport = Transport(registry, options or TransportOptions())
        self.auth = Authenticator(self.transport, credentials)

    # --- the request cycle ---------------------------------------------------

    def _call(
        self,
        method: str,
        path_or_url: str,
        scope: Scope | None,
        *,
        ok: tuple[int, ...],
        headers: dict[str, str] | None = None,
        data: bytes | IO[bytes] | None = None,
        params: dict[str, str] | None = None,
        stream: bool = True,
    ) -> requests.Response:
        url = urljoin(self.transport.base + "/", path_or_url)
        sent = {**(headers or {}), **self.auth.header(scope)}
        response = self.transport.request(
            method, url, headers=sent, data=data, params=params, stream=stream
        )
        if response.status_code == 401 and (data is None or isinstance(data, bytes)):
            header = response.headers.get("WWW-Authenticate", "")
            response.close()
            if not self.transport.is_registry(response.url):
                # A redirect target or upload location asks for credentials:
                # answering would send them (or trade them at a realm it
                # names) to a host they were not given for.
                raise AuthError(
                    f"{_host_of_url(response.url)}, where {self.registry} sent the request, "
                    "asked for credentials; mppoci gives them only to the registry itself",
                    hint="check the registry's storage or proxy settings: redirected "
                    "downloads and uploads must work without the registry's credentials",
                )
            if not header:
                raise AuthError(f"{self.registry} refused the request without saying how to log in")
            sent.update(self.auth.answer(parse_challenge(header), scope))
            response = self.transport.request(
                method, url, headers=sent, data=data, params=params, stream=stream
            )
        if response.status_code in (401, 403):
            detail = _error_text(response)
            response.close()
            what = f" {'/'.join(scope.actions)} on {scope.repository}" if scope else ""
            raise AuthError(
                f"{self.registry} refused access{what} ({detail})",
                hint="check your credentials and that they grant this operation "
                "(`mppoci login REGISTRY`); read-only credentials cannot push",
            )
        if response.status_code not in ok:
            detail = _error_text(response)
            status = response.status_code
            response.close()
            if status == 404:
                raise NotFoundError(f"{path_or_url} is not on {self.registry} ({detail})")
            raise TransportError(f"{self.registry} answered {status} to {method} ({detail})")
        return response

    # --- API -----------------------------------------------------------------

    def ping(self) -> None:
        """Check that the registry answers and accepts our credentials."""
        self._call("GET", "/v2/", None, ok=(200,)).close()

    def blob_exists(self, repository: str, digest: Digest) -> bool:
        scope = Scope(repository, ("pull",))
        try:
            self._call("HEAD", f"/v2/{repository}/blobs/{digest}", scope, ok=(200,)).close()
        except NotFoundError:
            return False
        return True

    def push_blob(self, repository: str, desc: Descriptor, content: IO[bytes]) -> None:
        scope = Scope(repository, ("pull", "push"))
        started = self._call("POST", f"/v2/{repository}/blobs/uploads/", scope, ok=(202,))
        location = started.headers.get("Location")
        started.close()
        if not location:
            raise TransportError(f"{self.registry} started an upload without a Location")
        separator = "&" if "?" in location else "?"
        url = f"{urljoin(self.transport.base + '/', location)}{separator}digest={desc.digest}"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(desc.size)}
        self._call("PUT", url, scope, ok=(201,), headers=headers, data=content).close()

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> Digest:
        scope = Scope(repository, ("pull", "push"))
        digest = Digest("sha256:" + hashlib.sha256(body).hexdigest())
        response = self._call(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            scope,
            ok=(201,),
            headers={"Content-Type": media_type},
            data=body,
        )
        echoed = response.headers.get("Docker-Content-Digest")
        response.close()
        if echoed and echoed != digest:
            raise DigestMismatchError(
                f"{self.registry} stored the manifest as {echoed}, not {digest}",
                hint="the registry changed the manifest bytes; it cannot hold signed packages",
            )
        return digest

    def get_manifest(
        self, repository: str, reference: str, *, max_bytes: int
    ) -> tuple[bytes, str, Digest]:
        """Fetch a manifest's exact bytes; check them against a digest reference.

        Raises NotFoundError, DigestMismatchError, LimitExceededError, TransportError."""
        scope = Scope(repository, ("pull",))
        response = self._call(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            scope,
            ok=(200,),
            headers={"Accept": MANIFEST_ACCEPT},
        )
        with response:
            body = self._read_capped(response, max_bytes, "manifest")
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            echoed = response.headers.get("Docker-Content-Digest")
        digest = Digest("sha256:" + hashlib.sha256(body).hexdigest())
        expected = reference if is_digest(reference) else echoed
        if expected and expected != digest:
            raise DigestMismatchError(
                f"the manifest {repository}:{reference} from {self.registry} hashes to {digest}, "
                f"not {expected}",
                hint="the registry served other bytes than it claims; nothing was stored",
            )
        return body, media_type, digest

    def get_manifest_or_none(
        self, repository: str, reference: str, *, max_bytes: int
    ) -> tuple[bytes, str, Digest] | None:
        try:
            return self.get_manifest(repository, reference, max_bytes=max_bytes)
        except NotFoundError:
            return None

    def fetch_blob(
        self,
        repository: str,
        desc: Descriptor,
        writer: BlobWriter,
        progress: Progress | None = None,
    ) -> None:
        """Stream a blob into ``writer``, checking size and digest. Commits it."""
        scope = Scope(repository, ("pull",))
        response = self._call("GET", f"/v2/{repository}/blobs/{desc.digest}", scope, ok=(200,))
        with response:
            try:
                for chunk in response.iter_content(_CHUNK):
                    if writer.size + len(chunk) > desc.size:
                        raise DigestMismatchError(
                            f"blob {desc.digest} from {self.registry} is larger than the "
                            f"{desc.size} bytes its descriptor declares",
                            hint="the registry served other bytes; nothing was stored",
                        )
                    writer.write(chunk)
                    if progress:
                        progress(len(chunk))
            except requests.exceptions.RequestException as e:
                raise TransportError(
                    f"the download of {desc.digest} from {self.registry} broke off after "
                    f"{writer.size} of {desc.size} bytes ({_why_broken(e)}); nothing was stored",
                    hint="try again; check the connection to the registry",
                ) from None
        writer.commit(expected=desc.digest, expected_size=desc.size)

    @staticmethod
    def _read_capped(response: requests.Response, max_bytes: int, what: str) -> bytes:
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in response.iter_content(_CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise LimitExceededError(f"the {what} is larger than {max_bytes} bytes")
                chunks.append(chunk)
        except requests.exceptions.RequestException as e:
            raise TransportError(
                f"the {what} download broke off after {total} bytes ({_why_broken(e)})"
            ) from None
        return b"".join(chunks)


def _why_broken(error: requests.exceptions.RequestException) -> str:
    """A reason for people, not an exception class name."""
    if isinstance(error, requests.exceptions.Timeout):
        return "the registry stopped sending"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "the connection closed before the whole response arrived"
    if isinstance(error, requests.exceptions.ConnectionError):
        return "the connection was lost"
    return type(error).__name__
