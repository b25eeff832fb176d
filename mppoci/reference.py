"""The reference grammar (conventions: References).

A reference is remote when the part before the first ``/`` names a registry
(contains ``.`` or ``:``, or is ``localhost``; Docker's rule). Everything else
names a package in the local store: a manifest digest, or
``publisher/tool[:version]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mppoci.digest import Digest, is_digest
from mppoci.errors import UserInputError
from mppoci.semver import is_semver

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME_RE = re.compile(rf"^{_COMPONENT}/{_COMPONENT}$")


@dataclass(frozen=True, slots=True)
class LocalRef:
    """A package in the local store: by digest, or by name and optional version."""

    digest: Digest | None = None
    name: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        if self.digest:
            return self.digest
        return f"{self.name}:{self.version}" if self.version else str(self.name)


@dataclass(frozen=True, slots=True)
class RemoteRef:
    """A reference into a registry: ``registry/repository[:tag][@digest]``."""

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def is_remote(text: str) -> bool:
    first, sep, _ = text.partition("/")
    return bool(sep) and ("." in first or ":" in first or first == "localhost")


def _bad(text: str, why: str) -> UserInputError:
    return UserInputError(
        f"{text!r} is not a valid reference: {why}",
        hint="name a package as publisher/tool[:version], sha256:<digest>, "
        "or registry/repository[:tag][@sha256:<digest>]",
    )


def parse_local(text: str) -> LocalRef:
    """Parse a store reference. Raises UserInputError when it does not fit the grammar."""
    if is_digest(text):
        return LocalRef(digest=Digest(text))
    name, sep, version = text.partition(":")
    if not _NAME_RE.fullmatch(name):
        raise _bad(text, "a package name is publisher/tool in lowercase letters, digits, . _ -")
    if sep and not is_semver(version):
        raise _bad(text, f"{version!r} is not a SemVer version")
    return LocalRef(name=name, version=version if sep else None)


_REPO_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REGISTRY_RE = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$|^\[[0-9a-fA-F:]+\](?::[0-9]{1,5})?$")


def parse_remote(text: str) -> RemoteRef:
    """Parse ``registry/repository[:tag][@digest]``. Raises UserInputError."""
    if not is_remote(text):
        raise _bad(text, "it does not start with a registry host")
    registry, _, rest = text.partition("/")
    digest: Digest | None = None
    if "@" in rest:
        rest, _, digest_text = rest.partition("@")
        if not is_digest(digest_text):
            raise _bad(text, f"{digest_text!r} is not a sha256 digest")
        digest = Digest(digest_text)
    tag: str | None = None
    if ":" in rest:
        rest, _, tag = rest.partition(":")
        if not _TAG_RE.fullmatch(tag):
            raise _bad(text, f"{tag!r} is not a valid tag")
    if not _REGISTRY_RE.fullmatch(registry):
        raise _bad(text, f"{registry!r} is not a registry host")
    if not _REPO_RE.fullmatch(rest):
        raise _bad(text, f"{rest!r} is not a repository path")
    return RemoteRef(registry=registry, repository=rest, tag=tag, digest=digest)
