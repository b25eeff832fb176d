"""``WWW-Authenticate`` challenges (RFC 7235), as registries send them. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType

from mppoci.errors import TransportError

_PARAM_RE = re.compile(
    r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)'
)
_MAX_HEADER = 8192


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # "basic" or "bearer", lowercase
    params: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")


def parse_challenge(header: str) -> Challenge:
    """Parse one challenge. Raises TransportError when it is not one."""
    if len(header) > _MAX_HEADER:
        raise TransportError("the registry sent an oversized WWW-Authenticate header")
    scheme, _, rest = header.strip().partition(" ")
    if not scheme or not scheme.isalpha():
        raise TransportError(f"the registry sent a malformed auth challenge: {header[:200]!r}")
    params: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        m = _PARAM_RE.match(rest, pos)
        if m is None or m.end() == pos:
            raise TransportError(f"the registry sent a malformed auth challenge: {header[:200]!r}")
        value = m[2] if m[2] is not None else m[3]
        params[m[1].lower()] = re.sub(r"\\(.)", r"\1", value)
        pos = m.end()
    return Challenge(scheme.lower(), MappingProxyType(params))
