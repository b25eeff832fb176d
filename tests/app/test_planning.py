"""plan_sandbox: the one "compile with placeholders" (``policy show`` shows
the plan; ``serve`` checks it at start, before any client connects)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mppoci import app
from mppoci.app import RunRequest, Session
from mppoci.errors import PolicyError
from mppoci.trust.gate import Verified
from tests.app.publishing import publish
from tests.conftest import SAMPLE_MANIFEST, CliRunner, write_package

PERMISSIONS = """\
permissions:
  env:
    - {name: API_TOKEN, why: auth, secret: true, required: true}
    - {name: REGION, why: where}
  network:
    egress:
      - {host: api.acme.test, port: 443, why: API}
  storage:
    - {name: cache, path: /cache, size: 64Mi, why: cache}
"""


@pytest.fixture
def session(home: Path) -> Session:
    return Session.open({"MPPOCI_HOME": str(home), "REGION": "eu-west-1"})


@pytest.fixture
def verified(cli: CliRunner, tmp_path: Path, session: Session) -> Verified:
    publish(cli, write_package(tmp_path / "pkg", SAMPLE_MANIFEST + PERMISSIONS))
    return app.open_verified(session, "acme/word-count")


def test_a_plan_shows_placeholders_for_what_only_a_run_has(
    session: Session, verified: Verified
) -> None:
    plan = app.plan_sandbox(session, verified, RunRequest(env={"REGION": None}), placeholders=True)
    env = {e.name: e.value for e in plan.spec.env}
    assert env == {"API_TOKEN": "<API_TOKEN>", "REGION": "eu-west-1"}
    sources = {m.target: m.source for m in plan.spec.mounts}
    assert sources["/pkg"] == "<unpacked package content>"
    assert sources["/cache"] == "<storage cache: 64Mi filesystem>"
    assert sources["/etc/resolv.conf"] == "<generated resolv.conf>"
    assert plan.spec.network_name == "container:<run relay>"
    assert plan.lines and any("api.acme.test" in line for line in plan.lines)
    assert plan.shm_mount == "/dev/shm"
    assert "<unpacked package content>" in plan.docker_run_text()
    assert plan.docker_create_kwargs()["image"] == plan.spec.image


def test_a_check_refuses_what_every_run_would_be_refused_for(
    session: Session, verified: Verified
) -> None:
    with pytest.raises(PolicyError, match="requires the environment variable API_TOKEN"):
        app.plan_sandbox(session, verified, RunRequest(), placeholders=False)
    given = RunRequest(env={"API_TOKEN": "t"})
    spec = app.plan_sandbox(session, verified, given, placeholders=False).spec
    assert {e.name: e.value for e in spec.env} == {"API_TOKEN": "t"}
    with pytest.raises(PolicyError, match="declares no filesystem entry"):
        app.plan_sandbox(session, verified, RunRequest(mounts={"data": "/tmp"}), placeholders=True)
