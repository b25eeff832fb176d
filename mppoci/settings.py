"""The user's settings file, ``<config>/settings.json``. Parsed once into a
frozen value; unknown fields are refused so that a typo never silently turns
a setting off.

    {"audit": {"forward": "syslog"}}
    {"audit": {"forward": "journald", "socket": "/run/systemd/journal/socket"}}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from mppoci.errors import UserInputError
from mppoci.fsutil import read_optional
from mppoci.locations import Locations


class ForwardTo(StrEnum):
    SYSLOG = "syslog"  # RFC 3164 datagrams (journald reads /dev/log too)
    JOURNALD = "journald"  # journald's native protocol


_MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes with the final NUL
DEFAULT_SOCKETS = {
    ForwardTo.SYSLOG: "/dev/log",
    ForwardTo.JOURNALD: "/run/systemd/journal/socket",
}


@dataclass(frozen=True, slots=True)
class AuditForwarding:
    to: ForwardTo
    socket: str  # a Unix datagram socket


@dataclass(frozen=True, slots=True)
class Settings:
    audit_forwarding: AuditForwarding | None = None


def settings_path(locations: Locations) -> Path:
    return locations.config / "settings.json"


def _bad(path: Path, why: str) -> UserInputError:
    return UserInputError(
        f"{path} is not a valid settings file: {why}",
        hint='fix or remove it; example: {"audit": {"forward": "syslog"}} (see docs/audit.md)',
    )


def parse_settings(data: bytes, path: Path) -> Settings:
    """Raises UserInputError naming what is wrong."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise _bad(path, "not JSON") from None
    if not isinstance(doc, dict):
        raise _bad(path, "expected a JSON object")
    if unknown := sorted(set(doc) - {"audit"}):
        raise _bad(path, f"unknown field(s) {', '.join(unknown)}")
    audit = doc.get("audit", {})
    if not isinstance(audit, dict):
        raise _bad(path, "audit: expected an object")
    if unknown := sorted(set(audit) - {"forward", "socket"}):
        raise _bad(path, f"unknown field(s) audit.{', audit.'.join(unknown)}")
    if "forward" not in audit:
        if "socket" in audit:
            raise _bad(path, "audit.socket is given without audit.forward")
        return Settings()
    try:
        to = ForwardTo(audit["forward"])
    except (ValueError, TypeError):
        raise _bad(path, "audit.forward: expected syslog or journald") from None
    socket = audit.get("socket", DEFAULT_SOCKETS[to])
    if not isinstance(socket, str) or not socket.startswith("/"):
        raise _bad(path, "audit.socket: expected an absolute path of a Unix socket")
    try:
        encoded = os.fsencode(socket)
    except UnicodeError:
        raise _bad(path, "audit.socket: the path is not valid text for a file name") from None
    if b"\0" in encoded or len(encoded) > _MAX_SOCKET_PATH:
        raise _bad(
            path, f"audit.socket: a socket path has no NUL and at most {_MAX_SOCKET_PATH} bytes"
        )
    return Settings(audit_forwarding=AuditForwarding(to, socket))


def load_settings(locations: Locations) -> Settings:
    """The settings, or the defaults when there is no file. Raises UserInputError."""
    path = settings_path(locations)
    data = read_optional(path)
    return Settings() if data is None else parse_settings(data, path)
