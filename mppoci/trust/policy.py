"""The trust policy: trusted keys with their scopes, and revoked key ids.

Pure values and a strict parser; the file lives at ``<config>/trust.json`` and
is read and written by :mod:`mppoci.trust.files`. An empty policy trusts
nothing: verification against it fails closed.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from mppoci.errors import UntrustedContentError, UserInputError
from mppoci.signing.keys import KeyId

POLICY_VERSION = 1
_KEY_ID_RE = re.compile(r"^[0-9a-f]{64}$")
_SCOPE_RE = re.compile(r"^[a-z0-9*?._-]+/[a-z0-9*?._-]+$")
_REGISTRY_RE = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$")


@dataclass(frozen=True, slots=True)
class TrustedKey:
    key_id: KeyId
    public_key_pem: str
    publisher: str
    scopes: tuple[str, ...]  # globs over package names: acme/*, acme/csv-query
    registries: tuple[str, ...] = ()  # empty: any origin; else only packages from these
    added: str = ""
    note: str = ""

    def covers(self, package_name: str) -> bool:
        return any(fnmatch.fnmatchcase(package_name, scope) for scope in self.scopes)

    def accepts_origin(self, registry: str | None) -> bool:
        return not self.registries or registry in self.registries


@dataclass(frozen=True, slots=True)
class Revocation:
    key_id: KeyId
    revoked_at: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    keys: tuple[TrustedKey, ...] = ()
    revoked: tuple[Revocation, ...] = ()

    def is_revoked(self, key_id: str) -> bool:
        return any(r.key_id == key_id for r in self.revoked)

    def key(self, key_id: str) -> TrustedKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)

    def with_key(self, key: TrustedKey) -> TrustPolicy:
        """Add ``key``, or widen an existing entry for the same key id with its scopes."""
        if self.is_revoked(key.key_id):
            raise UserInputError(
                f"key {key.key_id[:16]} is revoked and cannot be trusted again",
                hint="a revoked key stays revoked; ask the publisher for a new key",
            )
        existing = self.key(key.key_id)
        if existing is None:
            return replace(self, keys=(*self.keys, key))
        merged = replace(
            existing,
            scopes=tuple(dict.fromkeys((*existing.scopes, *key.scopes))),
            registries=()
            if not existing.registries or not key.registries
            else tuple(dict.fromkeys((*existing.registries, *key.registries))),
        )
        return replace(self, keys=tuple(merged if k is existing else k for k in self.keys))

    def without_key(self, key_id: str) -> TrustPolicy:
        return replace(self, keys=tuple(k for k in self.keys if k.key_id != key_id))

    def with_revocation(self, revocation: Revocation) -> TrustPolicy:
        if self.is_revoked(revocation.key_id):
            return self
        return replace(self, revoked=(*self.revoked, revocation))

    def match_key_id(self, text: str) -> KeyId:
        """Resolve a full key id or a unique prefix of at least 8 characters
        (people see the first 16). Raises UserInputError."""
        text = text.lower()
        known = {k.key_id for k in self.keys} | {r.key_id for r in self.revoked}
        if _KEY_ID_RE.fullmatch(text):
            return KeyId(text)
        hits = sorted(k for k in known if len(text) >= 8 and k.startswith(text))
        if len(hits) == 1:
            return KeyId(hits[0])
        raise UserInputError(
            f"{text!r} does not name exactly one key in the trust policy",
            hint="`mppoci trust list` shows the key ids; give at least the first 16 characters",
        )


def validate_scope(scope: str) -> str:
    if not _SCOPE_RE.fullmatch(scope):
        raise UserInputError(
            f"{scope!r} is not a scope",
            hint="a scope is a glob over package names such as acme/* or acme/csv-query",
        )
    if scope.split("/", 1)[0] in ("*", "?") or scope == "*/*":
        raise UserInputError(
            f"scope {scope!r} would let one key sign for every publisher",
            hint="scope a key to its own publisher, e.g. acme/*",
        )
    return scope


def validate_registry(registry: str) -> str:
    if not _REGISTRY_RE.fullmatch(registry):
        raise UserInputError(f"{registry!r} is not a registry host[:port]")
    return registry


# --- the file format ---------------------------------------------------------


def _bad(why: str) -> UntrustedContentError:
    return UntrustedContentError(
        f"the trust policy is damaged: {why}",
        hint="fix or remove the file named above (`mppoci trust list` shows its path); "
        "until then nothing is trusted",
    )


def _strs(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(f"{what} must be a list of strings")
    return tuple(value)


def _str(entry: dict[str, Any], key: str, what: str, *, required: bool = True) -> str:
    value = entry.get(key, None if required else "")
    if not isinstance(value, str):
        raise _bad(f"{what}.{key} must be a string")
    return value


def parse_policy(data: bytes) -> TrustPolicy:
    """Parse trust.json strictly. Raises UntrustedContentError when damaged."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _bad(str(e)) from e
    if not isinstance(doc, dict) or set(doc) - {"version", "keys", "revoked"}:
        raise _bad("the top level must have only version, keys and revoked")
    if doc.get("version") != POLICY_VERSION:
        raise _bad(f"version must be {POLICY_VERSION}")
    for section in ("keys", "revoked"):
        if not isinstance(doc.get(section, []), list):
            raise _bad(f"{section} must be a list")
    keys: list[TrustedKey] = []
    for i, entry in enumerate(doc.get("keys", [])):
        what = f"keys[{i}]"
        allowed = {"keyId", "publicKey", "publisher", "scopes", "registries", "added", "note"}
        if not isinstance(entry, dict) or set(entry) - allowed:
            raise _bad(f"{what} has unknown fields")
        key_id = _str(entry, "keyId", what)
        if not _KEY_ID_RE.fullmatch(key_id):
            raise _bad(f"{what}.keyId is not a key id")
        keys.append(
            TrustedKey(
                key_id=KeyId(key_id),
                public_key_pem=_str(entry, "publicKey", what),
                publisher=_str(entry, "publisher", what),
                scopes=_strs(entry.get("scopes"), f"{what}.scopes"),
                registries=_strs(entry.get("registries", []), f"{what}.registries"),
                added=_str(entry, "added", what, required=False),
                note=_str(entry, "note", what, required=False),
            )
        )
    revoked: list[Revocation] = []
    for i, entry in enumerate(doc.get("revoked", [])):
        what = f"revoked[{i}]"
        if not isinstance(entry, dict) or set(entry) - {"keyId", "revokedAt", "reason"}:
            raise _bad(f"{what} has unknown fields")
        key_id = _str(entry, "keyId", what)
        if not _KEY_ID_RE.fullmatch(key_id):
            raise _bad(f"{what}.keyId is not a key id")
        revoked.append(
            Revocation(
                KeyId(key_id),
                _str(entry, "revokedAt", what, required=False),
                _str(entry, "reason", what, required=False),
            )
        )
    return TrustPolicy(keys=tuple(keys), revoked=tuple(revoked))


def policy_bytes(policy: TrustPolicy) -> bytes:
    """The file form: sorted keys and two-space indent, meant to be read in review."""
    doc = {
        "version": POLICY_VERSION,
        "keys": [
            {
                "keyId": k.key_id,
                "publicKey": k.public_key_pem,
                "publisher": k.publisher,
                "scopes": list(k.scopes),
                "registries": list(k.registries),
                "added": k.added,
                "note": k.note,
            }
            for k in policy.keys
        ],
        "revoked": [
            {"keyId": r.key_id, "revokedAt": r.revoked_at, "reason": r.reason}
            for r in policy.revoked
        ],
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")
