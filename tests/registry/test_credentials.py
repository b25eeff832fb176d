"""Credentials from where users keep them: flags, environment, Docker's config
file (auths, credsStore, credHelpers with a real helper program)."""

from __future__ import annotations

import base64
import json
import stat
import sys
from pathlib import Path

import pytest

from mppoci.errors import AuthError
from mppoci.registry.credentials import Credentials, resolve, store

HELPER = """#!{python}
import json, sys, pathlib
db = pathlib.Path({db!r})
entries = json.loads(db.read_text()) if db.exists() else {{}}
verb = sys.argv[1]
data = sys.stdin.read()
if verb == "get":
    if data.strip() not in entries:
        print("credentials not found in native keychain")
        sys.exit(1)
    user, secret = entries[data.strip()]
    print(json.dumps({{"ServerURL": data.strip(), "Username": user, "Secret": secret}}))
elif verb == "store":
    doc = json.loads(data)
    entries[doc["ServerURL"]] = [doc["Username"], doc["Secret"]]
    db.write_text(json.dumps(entries))
"""


@pytest.fixture
def docker_home(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "cfg").mkdir()
    return {"HOME": str(tmp_path), "DOCKER_CONFIG": str(tmp_path / "cfg"), "PATH": "/usr/bin:/bin"}


def _helper(tmp_path: Path, env: dict[str, str]) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    db = tmp_path / "helper-db.json"
    program = bin_dir / "docker-credential-fake"
    program.write_text(HELPER.format(python=sys.executable, db=str(db)))
    program.chmod(0o755)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return db


def test_auths_in_docker_config_honouring_docker_config(docker_home: dict[str, str]) -> None:
    token = base64.b64encode(b"alice:s3cret").decode()
    config = Path(docker_home["DOCKER_CONFIG"]) / "config.json"
    config.write_text(json.dumps({"auths": {"127.0.0.1:5000": {"auth": token}}}))
    creds = resolve("127.0.0.1:5000", docker_home)
    assert creds is not None and (creds.username, creds.password) == ("alice", "s3cret")
    assert resolve("127.0.0.1:6000", docker_home) is None


def test_flags_win_over_environment_which_wins_over_config(docker_home: dict[str, str]) -> None:
    env = {
        **docker_home,
        "MPPOCI_REGISTRY": "r.test",
        "MPPOCI_REGISTRY_USERNAME": "env",
        "MPPOCI_REGISTRY_PASSWORD": "pw",
    }
    from_env = resolve("r.test", env)
    assert from_env is not None and from_env.username == "env"
    from_flag = resolve("r.test", env, username="flag", password="x")
    assert from_flag is not None and from_flag.username == "flag"


def test_credential_helper_and_creds_store_are_used(
    tmp_path: Path, docker_home: dict[str, str]
) -> None:
    db = _helper(tmp_path, docker_home)
    db.write_text(json.dumps({"helped.test": ["bob", "from-helper"]}))
    config = Path(docker_home["DOCKER_CONFIG"]) / "config.json"
    config.write_text(json.dumps({"credHelpers": {"helped.test": "fake"}}))
    creds = resolve("helped.test", docker_home)
    assert creds is not None and creds.password == "from-helper"
    config.write_text(json.dumps({"credsStore": "fake"}))
    assert resolve("other.test", docker_home) is None  # "not found" is not an error
    where = store("other.test", Credentials("carol", "pw2", "test"), docker_home)
    assert where == "credential helper fake"
    assert json.loads(db.read_text())["other.test"] == ["carol", "pw2"]
    assert "auths" not in json.loads(config.read_text())  # nothing in plain text


def test_missing_helper_is_a_clear_error(docker_home: dict[str, str]) -> None:
    config = Path(docker_home["DOCKER_CONFIG"]) / "config.json"
    config.write_text(json.dumps({"credsStore": "nonexistent"}))
    with pytest.raises(AuthError, match="docker-credential-nonexistent"):
        resolve("r.test", docker_home)


def test_store_without_helper_writes_a_private_config_and_keeps_other_entries(
    docker_home: dict[str, str],
) -> None:
    config = Path(docker_home["DOCKER_CONFIG"]) / "config.json"
    config.write_text(json.dumps({"auths": {"keep.test": {"auth": "eDp5"}}, "other": 1}))
    store("new.test", Credentials("dave", "pw3", "test"), docker_home)
    doc = json.loads(config.read_text())
    assert doc["other"] == 1 and "keep.test" in doc["auths"]
    assert base64.b64decode(doc["auths"]["new.test"]["auth"]) == b"dave:pw3"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_credentials_never_show_their_secret() -> None:
    creds = Credentials("user", "super-secret-value", "test")
    assert "super-secret-value" not in repr(creds)
