"""Rollback protection: the highest version of each package verified here.

Once a version of a package has been verified, an older one is refused unless
the user explicitly allows a downgrade: an attacker who controls a registry
cannot serve an old, validly signed version with a known hole. Pure values;
the file is ``<data>/rollback.json``, handled by :mod:`mppoci.trust.files`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from mppoci.errors import RollbackError, UntrustedContentError
from mppoci.semver import is_semver, precedence_key


@dataclass(frozen=True, slots=True)
class Seen:
    version: str
    digest: str


@dataclass(frozen=True, slots=True)
class RollbackState:
    highest: MappingProxyType[str, Seen] = field(default_factory=lambda: MappingProxyType({}))

    def check(self, name: str, version: str, *, allow_downgrade: bool) -> None:
        """Raise RollbackError if ``version`` is older than the highest seen."""
        seen = self.highest.get(name)
        if seen is None or allow_downgrade:
            return
        if precedence_key(version) < precedence_key(seen.version):
            raise RollbackError(
                f"{name} {version} is older than {seen.version}, which was already verified "
                "here: this looks like a rollback",
                hint="if you mean to go back to an older version, pass --allow-downgrade",
            )

    def record(self, name: str, version: str, digest: str) -> RollbackState:
        seen = self.highest.get(name)
        if seen is not None and precedence_key(version) <= precedence_key(seen.version):
            return self
        return replace(
            self, highest=MappingProxyType({**self.highest, name: Seen(version, digest)})
        )


def parse_rollback(data: bytes) -> RollbackState:
    try:
        doc: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise UntrustedContentError(f"the rollback state is damaged: {e}") from e
    packages = doc.get("packages") if isinstance(doc, dict) else None
    if not isinstance(packages, dict) or doc.get("version") != 1:
        raise UntrustedContentError("the rollback state is damaged: unknown format")
    highest: dict[str, Seen] = {}
    for name, entry in packages.items():
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("version"), str)
            or not is_semver(entry["version"])
            or not isinstance(entry.get("digest"), str)
        ):
            raise UntrustedContentError(f"the rollback state is damaged at {name!r}")
        highest[name] = Seen(entry["version"], entry["digest"])
    return RollbackState(MappingProxyType(highest))


def rollback_bytes(state: RollbackState) -> bytes:
    packages = {n: {"version": s.version, "digest": s.digest} for n, s in state.highest.items()}
    return (
        json.dumps({"version": 1, "packages": packages}, indent=2, sort_keys=True) + "\n"
    ).encode()
