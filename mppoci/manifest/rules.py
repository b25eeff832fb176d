"""What a valid name, version, runtime, host, container path and environment
variable name look like.

Pure text checks. Each ``*_problem`` function returns None when the text is
acceptable, or the message to show the manifest author.
"""

from __future__ import annotations

import ipaddress
import re

from mppoci.digest import Digest, is_digest
from mppoci.egress import names
from mppoci.egress.addresses import private_declaration_problem
from mppoci.manifest.model import RuntimeRef

# re.ASCII everywhere: without it \d and [a-z]-like classes in Python accept
# other scripts' digits, and fullmatch everywhere: "$" accepts a trailing "\n".
_PART = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"
PART = re.compile(_PART, re.ASCII)
PACKAGE_NAME = re.compile(rf"{_PART}/{_PART}", re.ASCII)
MAX_PACKAGE_NAME = 128

# The official SemVer 2.0 regex from semver.org.
SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?",
    re.ASCII,
)
# Checked before the regex so that its backtracking only ever sees short text.
MAX_VERSION = 128

LICENSE = re.compile(r"[A-Za-z0-9.+\-() ]+", re.ASCII)
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
GRANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}", re.ASCII)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}", re.ASCII)

# --- runtime references -----------------------------------------------------

_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_REGISTRY = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:]+\])(?::[0-9]{{1,5}})?", re.ASCII)
# Docker's path component grammar (distribution/reference).
_REPO_PART = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*", re.ASCII)
MAX_RUNTIME_NAME = 255

RUNTIME_TAG = "tags are not pinned; write NAME@sha256:<digest>"
RUNTIME_UNPINNED = (
    "an image from a registry must be pinned; write NAME@sha256:<digest> "
    "(only runtime names such as python3 are resolved by mppoci build)"
)
RUNTIME_BAD_DIGEST = "the part after @ must be sha256: followed by 64 lowercase hex digits"
RUNTIME_BAD = (
    "must be a runtime name (such as python3) or a registry repository "
    "(such as ghcr.io/acme/python@sha256:<digest>)"
)


def _is_registry(first: str) -> bool:
    # Docker's rule, as in the conventions: a registry names a host.
    return "." in first or ":" in first or first == "localhost"


def parse_runtime(text: str) -> RuntimeRef | str:
    """The runtime reference in ``text``, or the message saying why it is refused."""
    name, at, digest = text.partition("@")
    if len(name) > MAX_RUNTIME_NAME:
        return RUNTIME_BAD
    if at and not is_digest(digest):
        return RUNTIME_BAD_DIGEST
    if ":" in name.rsplit("/", 1)[-1]:
        return RUNTIME_TAG
    pinned = Digest(digest) if at else None
    if PART.fullmatch(name):
        return RuntimeRef(name, pinned)
    first, slash, path = name.partition("/")
    if (
        not slash
        or not _is_registry(first)
        or not _REGISTRY.fullmatch(first)
        or not all(_REPO_PART.fullmatch(part) for part in path.split("/"))
    ):
        return RUNTIME_BAD
    if pinned is None:
        return RUNTIME_UNPINNED
    return RuntimeRef(name, pinned)


# --- egress hosts -----------------------------------------------------------


HOST_BAD = "must be a DNS name (api.acme.test) or a wildcard (*.acme.test)"
# The sandbox has no IP route at all (only the gateway, through a relay that
# answers the tool's DNS), so a tool cannot connect to an address it names.
HOST_IP_LITERAL = (
    "is an IP address; the sandbox reaches destinations by name only: give the "
    "destination a name and its address (host: db.internal, address: 10.0.12.7)"
)
ADDRESS_WITH_WILDCARD = "any host (*) cannot have an address; declare the machines by name"
HOST_ANY_WITHOUT_FLAG = (
    "a bare * allows every host; set dangerouslyAllowAnyHost: true on this entry "
    "if that is what you mean"
)
HOST_SHORT_WILDCARD = "a wildcard needs at least two labels after *. (such as *.acme.test)"


def _dns_name_ok(name: str) -> bool:
    # The gateway's own rule (mppoci.egress.names): strict LDH, no label that
    # reads as a number (hex, octal, decimal IPv4 forms), a letter in the last
    # label, no trailing dot in a manifest.
    return names.host_name(name) == name


def host_problem(host: str) -> str | None:
    """Why ``host`` is not an acceptable egress host, or None.

    A bare ``*`` is acceptable here; whether its entry carries
    ``dangerouslyAllowAnyHost`` is the caller's check.
    """
    if host == "*":
        return None
    if host != host.lower():
        return "must be lowercase"
    if host.startswith("*."):
        suffix = host[2:]
        if not _dns_name_ok(suffix):
            return HOST_BAD
        if "." not in suffix:
            return HOST_SHORT_WILDCARD
        return None
    if _is_ip_literal(host) or names.reads_as_ipv4(host):
        return HOST_IP_LITERAL
    return None if _dns_name_ok(host) else HOST_BAD


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0].strip("[]"))
    except ValueError:
        return False
    return True


def address_problem(text: str) -> str | None:
    """Why ``text`` is not an acceptable ``address`` (a private IP or CIDR), or None."""
    return private_declaration_problem(text)


# --- container paths --------------------------------------------------------

KERNEL_DIRS = ("/proc", "/sys", "/dev")
SOCKET_NAMES = ("docker.sock", "containerd.sock")
SOCKET_PATHS = ("/var/run/docker.sock", "/run/docker.sock")
SOCKET_DIRS = ("/run/containerd", "/var/run/containerd")


def _is_at_or_under(path: str, top: str) -> bool:
    return path == top or path.startswith(top + "/")


def _bad_char(c: str) -> bool:
    code = ord(c)
    return code < 0x20 or 0x7F <= code < 0xA0 or c.isspace()


def container_path_problem(path: str, *, max_bytes: int) -> str | None:
    """Why ``path`` cannot be a mount point in the container, or None."""
    if any(c in path for c in "\0:,"):
        return "must not contain ':', ',' or NUL; Docker's mount syntax cannot carry them"
    if any(_bad_char(c) for c in path):
        return "must not contain whitespace or control characters"
    if not path.startswith("/"):
        return "must be an absolute path (start with /)"
    if len(path.encode("utf-8", "surrogatepass")) > max_bytes:
        return f"must be at most {max_bytes} bytes"
    if path == "/":
        return "cannot be / itself; choose a folder below it"
    if path.endswith("/"):
        return "must not end with /"
    parts = path[1:].split("/")
    if "" in parts:
        return "must not contain empty components (//)"
    if "." in parts or ".." in parts:
        return "must not contain . or .. components"
    for top in KERNEL_DIRS:
        if _is_at_or_under(path, top):
            return f"{top} belongs to the kernel; mounts on or under it are refused"
    if _is_at_or_under(path, "/pkg"):
        return "/pkg is where mppoci mounts the package content; choose another path"
    # A path inside the container, not a temporary file of ours (ruff S108).
    if _is_at_or_under(path, "/tmp"):  # noqa: S108
        return "/tmp is mppoci's tmpfs (sized by resources.tmp); choose another path"  # noqa: S108
    if (
        parts[-1] in SOCKET_NAMES
        or path in SOCKET_PATHS
        or any(_is_at_or_under(path, top) for top in SOCKET_DIRS)
    ):
        return "is where a container engine socket lives; mppoci never gives one to a tool"
    return None


def nests(outer: str, inner: str) -> bool:
    """Whether container path ``inner`` is inside ``outer`` (both already valid)."""
    return inner.startswith(outer + "/")


# --- environment variables --------------------------------------------------

ENV_BAD = (
    "must be an environment variable name: a letter or _, then letters, digits or _ (at most 128)"
)


def env_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be passed from the host into the sandbox, or None."""
    if not ENV_NAME.fullmatch(name):
        return ENV_BAD
    if name == "PATH":
        return (
            "PATH decides which programs run and comes from the runtime image; "
            "a package cannot take it from the host"
        )
    if name == "HOME":
        return "HOME is set by mppoci inside the sandbox; a package cannot take it from the host"
    if name.startswith("LD_"):
        return (
            "LD_ variables make the dynamic loader inject code (LD_PRELOAD, LD_LIBRARY_PATH); "
            "they are refused"
        )
    if name.startswith("MPPOCI_"):
        return "MPPOCI_ names are reserved for mppoci itself"
    return None
