"""Semantic Versioning 2.0: validation and precedence (semver.org, section 11)."""

from __future__ import annotations

import re

# The regex published at semver.org.
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$",
    # ASCII only: in Unicode mode \d also matches other scripts' digits, and
    # "1\u0663.0.0" would be a second spelling of 13.0.0.
    re.ASCII,
)


def is_semver(text: str) -> bool:
    return SEMVER_RE.fullmatch(text) is not None


def precedence_key(version: str) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
    """A sort key giving SemVer precedence; build metadata is ignored.

    Raises ValueError if ``version`` is not SemVer."""
    m = SEMVER_RE.fullmatch(version)
    if m is None:
        raise ValueError(f"{version!r} is not a SemVer version")
    major, minor, patch, pre = int(m[1]), int(m[2]), int(m[3]), m[4]
    if pre is None:
        # A release sorts after every pre-release of the same version.
        return (major, minor, patch, 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (major, minor, patch, 0, ids)
