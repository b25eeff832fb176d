"""A required folder and a fixed environment value, through the use cases
and the CLI: ``policy show`` shows a placeholder, ``run`` and ``serve``
refuse at start (before the engine is asked anything), ``--env`` cannot
override a fixed value. No engine: every refusal here comes first."""

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
  filesystem:
    - {name: repo, path: /repo, why: the repository to read, required: true}
    - {name: extra, path: /extra, why: more files}
  env:
    - {name: PYTHONPATH, why: the vendored dependencies, value: /pkg/vendor}
    - {name: REGION, why: where}
"""
UNBOUND = "acme/word-count requires the folder 'repo' (the repository to read); none was bound"
BIND_HINT = "pass --mount repo=PATH (the tool sees it at /repo)"
FIXED = (
    "--env PYTHONPATH: acme/word-count sets PYTHONPATH=/pkg/vendor in its signed manifest; "
    "a fixed value cannot be overridden"
)
# Nothing answers here: a refusal that reached for the engine would say so instead.
NO_ENGINE = {"DOCKER_HOST": "tcp://127.0.0.1:9"}


@pytest.fixture
def session(home: Path) -> Session:
    return Session.open({"MPPOCI_HOME": str(home), **NO_ENGINE})


@pytest.fixture
def verified(cli: CliRunner, tmp_path: Path, session: Session) -> Verified:
    publish(cli, write_package(tmp_path / "pkg", SAMPLE_MANIFEST + PERMISSIONS), approve=True)
    return app.open_verified(session, "acme/word-count")


def test_a_plan_shows_the_required_folder_and_the_fixed_value(
    session: Session, verified: Verified
) -> None:
    plan = app.plan_sandbox(session, verified, RunRequest(), placeholders=True)
    sources = {m.target: m.source for m in plan.spec.mounts}
    assert sources["/repo"] == "<the folder you bind with --mount repo=PATH>"
    assert "/extra" not in sources  # not required, not bound: nothing
    assert {e.name: e.value for e in plan.spec.env} == {"PYTHONPATH": "/pkg/vendor"}
    assert "Set PYTHONPATH=/pkg/vendor in the tool's environment: the vendored dependencies" in (
        plan.lines
    )


def test_a_check_refuses_an_unbound_required_folder_and_a_fixed_override(
    session: Session, verified: Verified, tmp_path: Path
) -> None:
    with pytest.raises(PolicyError) as caught:
        app.plan_sandbox(session, verified, RunRequest(), placeholders=False)
    assert caught.value.message == UNBOUND and caught.value.hint == BIND_HINT
    repo = tmp_path / "repo"
    repo.mkdir()
    bound = RunRequest(mounts={"repo": str(repo)})
    spec = app.plan_sandbox(session, verified, bound, placeholders=False).spec
    assert {m.target: m.source for m in spec.mounts}["/repo"] == str(repo)
    # --env NAME alone would read the host's value: the fixed value is named first.
    for given in ("/home/u/evil", None):
        overriding = RunRequest(mounts=bound.mounts, env={"PYTHONPATH": given})
        with pytest.raises(PolicyError) as caught:
            app.plan_sandbox(session, verified, overriding, placeholders=True)
        assert caught.value.message == FIXED


def test_run_refuses_at_start_before_the_engine(session: Session, verified: Verified) -> None:
    with pytest.raises(PolicyError) as caught:
        app.run(session, "acme/word-count", stdin=b"a b")
    assert caught.value.message == UNBOUND
    with pytest.raises(PolicyError) as caught:
        app.run(
            session,
            "acme/word-count",
            stdin=b"a b",
            mounts={"repo": "/srv"},
            env={"PYTHONPATH": "/x"},
        )
    assert caught.value.message == FIXED


def test_serve_refuses_at_start_before_the_engine(session: Session, verified: Verified) -> None:
    with pytest.raises(PolicyError) as caught:
        app.open_server(session, ["acme/word-count"], pool_size=0)
    assert caught.value.message == UNBOUND
    with pytest.raises(PolicyError, match="a fixed value cannot be overridden"):
        app.open_server(
            session,
            ["acme/word-count"],
            pool_size=0,
            mounts={"repo": "/srv"},
            env={"PYTHONPATH": "/x"},
        )


def test_the_cli_names_the_entry_and_the_flag(
    cli: CliRunner, verified: Verified, tmp_path: Path
) -> None:
    inspected = cli("inspect", "acme/word-count", env=NO_ENGINE)
    assert inspected.returncode == 0, inspected.stderr
    assert "repo: a folder you choose, at /repo (read-only, required)" in inspected.stdout
    assert "extra: a folder you choose, at /extra (read-only) - more files" in inspected.stdout
    assert (
        "PYTHONPATH=/pkg/vendor (set by the package) - the vendored dependencies"
        in inspected.stdout
    )
    shown = cli("policy", "show", "acme/word-count", env=NO_ENGINE)
    assert shown.returncode == 0, shown.stderr
    assert "/repo <- <the folder you bind with --mount repo=PATH> (read-only" in shown.stdout
    assert "Set PYTHONPATH=/pkg/vendor in the tool's environment" in shown.stdout
    docker = cli("policy", "show", "acme/word-count", "--format", "docker", env=NO_ENGINE)
    assert "--env=PYTHONPATH=/pkg/vendor" in docker.stdout

    # `run` exits 125 when mppoci refuses (the tool's own codes stay its own).
    for command, code in ((("run", "acme/word-count"), 125), (("serve", "acme/word-count"), 1)):
        refused = cli(*command, env=NO_ENGINE, stdin="")
        assert refused.returncode == code, refused.stderr
        assert UNBOUND in refused.stderr and BIND_HINT in refused.stderr
        assert "Traceback" not in refused.stderr
    overridden = cli(
        "run", "acme/word-count", "--mount", f"repo={tmp_path}", "--env", "PYTHONPATH=/x",
        env=NO_ENGINE,
        stdin="",
    )  # fmt: skip
    assert overridden.returncode == 125 and FIXED in overridden.stderr
    assert "leave --env PYTHONPATH out" in overridden.stderr
