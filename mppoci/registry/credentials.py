"""Registry credentials, where users keep them.

Order: ``--username``/``--password-stdin``, then MPPOCI_REGISTRY_USERNAME and
MPPOCI_REGISTRY_PASSWORD (only for the registry MPPOCI_REGISTRY names; set
without it, they are an error), then Docker's config (``$DOCKER_CONFIG/config.json``
or ``~/.docker/config.json``): ``credHelpers`` for the host, ``credsStore``,
then ``auths``. ``store`` writes through the configured helper, else into the
config file with 0600 permissions, atomically.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mppoci.errors import AuthError, UserInputError
from mppoci.fsutil import atomic_write

_DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io")
_HELPER_TIMEOUT = 30
# Names the one registry MPPOCI_REGISTRY_USERNAME / _PASSWORD are for.
REGISTRY_VARIABLE = "MPPOCI_REGISTRY"


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str
    source: str  # where they came from, for messages (never the secret)

    def __repr__(self) -> str:  # keep secrets out of tracebacks and logs
        return f"Credentials(username={self.username!r}, source={self.source!r})"


def docker_config_path(environ: Mapping[str, str]) -> Path:
    folder = environ.get("DOCKER_CONFIG")
    if folder:
        return Path(folder) / "config.json"
    return Path(environ.get("HOME") or Path.home()) / ".docker" / "config.json"


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise UserInputError(f"cannot read Docker's config {path}: {e.strerror}") from None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise UserInputError(
            f"Docker's config {path} is not valid JSON", hint="fix or move the file"
        ) from None
    if not isinstance(doc, dict):
        raise UserInputError(f"Docker's config {path} is not a JSON object")
    return doc


def _keys_for(registry: str) -> tuple[str, ...]:
    if registry in ("docker.io", "registry-1.docker.io", "index.docker.io"):
        return _DOCKER_HUB_KEYS
    return (registry, f"https://{registry}", f"http://{registry}")


def _helper_name(doc: dict[str, Any], registry: str) -> str | None:
    helpers = doc.get("credHelpers")
    if isinstance(helpers, dict):
        for key in _keys_for(registry):
            if isinstance(helpers.get(key), str):
                return str(helpers[key])
    store = doc.get("credsStore")
    return store if isinstance(store, str) and store else None


def _run_helper(
    name: str, verb: str, data: str, environ: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    program = shutil.which(f"docker-credential-{name}", path=environ.get("PATH"))
    if program is None:
        raise AuthError(
            f"Docker's config names the credential helper {name!r}, but "
            f"docker-credential-{name} is not on PATH",
            hint="install the helper, or remove it from Docker's config",
        )
    try:
        return subprocess.run(
            [program, verb],
            input=data,
            capture_output=True,
            text=True,
            timeout=_HELPER_TIMEOUT,
            check=False,
            env=dict(environ),
        )
    except subprocess.TimeoutExpired:
        raise AuthError(f"credential helper {name} did not answer in {_HELPER_TIMEOUT} s") from None


def _from_helper(name: str, registry: str, environ: Mapping[str, str]) -> Credentials | None:
    result = _run_helper(name, "get", registry, environ)
    if result.returncode != 0:
        if "credentials not found" in result.stdout.lower() + result.stderr.lower():
            return None
        # The helper's output could contain secrets: report only that it failed.
        raise AuthError(f"credential helper {name} failed for {registry}")
    try:
        doc = json.loads(result.stdout)
        return Credentials(str(doc["Username"]), str(doc["Secret"]), f"credential helper {name}")
    except (ValueError, KeyError, TypeError):
        raise AuthError(f"credential helper {name} gave an answer that is not JSON") from None


def _from_auths(doc: dict[str, Any], registry: str, path: Path) -> Credentials | None:
    auths = doc.get("auths")
    if not isinstance(auths, dict):
        return None
    for key in _keys_for(registry):
        entry = auths.get(key)
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except ValueError:
                raise UserInputError(
                    f"the saved credentials for {registry} in {path} are damaged"
                ) from None
            return Credentials(user, password, str(path))
        if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            return Credentials(entry["username"], entry["password"], str(path))
    return None


def _normal(registry: str) -> str:
    name = registry.strip().lower()
    for prefix in ("https://", "http://"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    name = name.split("/", 1)[0]
    if name in ("registry-1.docker.io", "index.docker.io"):
        return "docker.io"
    return name


def same_registry(named: str, registry: str) -> bool:
    """Whether ``named`` (as a person writes it: ``ghcr.io``,
    ``https://ghcr.io/``) is ``registry``. Pure."""
    return _normal(named) == _normal(registry)


def resolve(
    registry: str,
    environ: Mapping[str, str],
    *,
    username: str | None = None,
    password: str | None = None,
) -> Credentials | None:
    """The credentials to use for ``registry``, or None for anonymous access."""
    if username is not None:
        if password is None:
            raise UserInputError(
                "--username needs a password", hint="pass it with --password-stdin"
            )
        return Credentials(username, password, "the command line")
    env_user = environ.get("MPPOCI_REGISTRY_USERNAME")
    if env_user:
        named = environ.get(REGISTRY_VARIABLE, "")
        if not named.strip():
            raise UserInputError(
                f"MPPOCI_REGISTRY_USERNAME is set, but {REGISTRY_VARIABLE} does not name the "
                "registry these credentials are for",
                hint=f"set {REGISTRY_VARIABLE}=HOST[:PORT] (such as ghcr.io); the credentials "
                "are sent to that registry only, never to others a command talks to",
            )
        if same_registry(named, registry):
            return Credentials(
                env_user, environ.get("MPPOCI_REGISTRY_PASSWORD", ""), "MPPOCI_REGISTRY_USERNAME"
            )
    path = docker_config_path(environ)
    doc = _read_config(path)
    helper = _helper_name(doc, registry)
    if helper is not None:
        return _from_helper(helper, registry, environ)
    return _from_auths(doc, registry, path)


def store(registry: str, credentials: Credentials, environ: Mapping[str, str]) -> str:
    """Save credentials the way Docker would; return where they went."""
    path = docker_config_path(environ)
    doc = _read_config(path)
    helper = _helper_name(doc, registry)
    if helper is not None:
        payload = json.dumps(
            {
                "ServerURL": registry,
                "Username": credentials.username,
                "Secret": credentials.password,
            }
        )
        if _run_helper(helper, "store", payload, environ).returncode != 0:
            raise AuthError(f"credential helper {helper} could not store the credentials")
        return f"credential helper {helper}"
    auths = doc.get("auths") if isinstance(doc.get("auths"), dict) else {}
    assert isinstance(auths, dict)
    try:
        pair = f"{credentials.username}:{credentials.password}".encode()
    except UnicodeEncodeError:  # bytes that are not UTF-8 arrive as surrogates
        raise UserInputError("the user name or password is not valid UTF-8 text") from None
    token = base64.b64encode(pair).decode()
    auths[registry] = {"auth": token}
    doc["auths"] = auths
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, (json.dumps(doc, indent=2) + "\n").encode(), mode=0o600)
    os.chmod(path, 0o600)
    return str(path)
