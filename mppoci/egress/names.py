"""Which destination names are host names at all. Pure, stdlib only: it is
copied next to gateway.py into the gateway's and the relay's containers, and
the manifest check (mppoci.manifest.rules) uses the same rule.

A name the tool sends (TLS SNI, the HTTP Host header, a DNS question) is
matched against the declared hosts and then given to the resolver. Both must
see the same name: a NUL byte, a byte outside ASCII or a dot-less IP form
(``0x7f.1``, ``2130706433``) would match ``*.svc.test`` as text and yet make
getaddrinfo resolve something else (it stops at the NUL, reads hex and octal
IPv4 forms). So only a strict LDH name passes: labels of ``a-z``, ``0-9`` and
``-`` (1-63 characters, no ``-`` at either end), 253 characters in all, an
optional single trailing dot, a last label with a letter, and no label that
reads as a number (all digits, or ``0x`` and hex digits).
"""

from __future__ import annotations

import re
import socket

MAX_NAME = 253
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
_NUMBER = re.compile(r"[0-9]+|0x[0-9a-f]*", re.ASCII)

NOT_A_NAME = (
    "is not a host name: labels of a-z, 0-9 and '-' (1-63 characters, no '-' at "
    "either end), at most 253 characters, the last label with a letter, no IP address "
    "in any form (no label of digits only or 0x and hex digits)"
)


def reads_as_ipv4(name: str) -> bool:
    """True if the C resolver reads ``name`` as an IPv4 address (inet_aton
    accepts 1 to 4 parts, decimal, octal or hex)."""
    try:
        socket.inet_aton(name)
    except (OSError, ValueError):  # ValueError: an embedded NUL
        return False
    return True


def host_name(name: str) -> str | None:
    """``name`` lowercased without its trailing dot if it is a strict host
    name (see the module's docstring), else None. The result is the only form
    to match and to resolve."""
    if not name.isascii():
        return None
    name = name.lower()
    if name.endswith("."):
        name = name[:-1]
    if not name or len(name) > MAX_NAME or reads_as_ipv4(name):
        return None
    labels = name.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        return None
    if any(_NUMBER.fullmatch(label) for label in labels):
        return None
    return name if any(c.isalpha() for c in labels[-1]) else None
