"""What the runner and the egress plumbing make of the engine's errors, with
an in-memory engine: the missing image keeps its one message (or the
gateway's own), a refusal keeps the engine's words, and what was created is
removed on every path."""

from __future__ import annotations

import io

import pytest

from mppoci.egress.network import EgressSettings, egress_network
from mppoci.errors import EngineRefusedError, ImageMissingError, RuntimeEngineError
from mppoci.manifest import EgressRule
from mppoci.sandbox.docker_runner import run_container
from tests.engine.fake import FakeEngine
from tests.engine.test_docker_engine import IMAGE, _spec


def _run(engine: FakeEngine) -> int:
    out = io.BytesIO()
    return run_container(engine, _spec(), stdin=None, stdout=out, stderr=io.BytesIO()).exit_code


def test_a_run_creates_attaches_starts_waits_and_removes() -> None:
    engine = FakeEngine()
    assert _run(engine) == 0
    assert engine.calls == ["create", "attach", "start", "wait", "state", "remove"]


def test_a_missing_image_is_the_engines_one_message() -> None:
    engine = FakeEngine(fail={"create": ImageMissingError(IMAGE)})
    with pytest.raises(ImageMissingError, match="is not on this machine"):
        _run(engine)
    assert engine.created == []


def test_a_refused_start_says_so_and_the_sandbox_is_removed() -> None:
    refused = EngineRefusedError("the sandbox failed: no", explanation="no")
    engine = FakeEngine(fail={"start": refused})
    with pytest.raises(RuntimeEngineError, match=r"^the sandbox failed: no$"):
        _run(engine)
    assert [c.removed for c in engine.created] == [True]


def _egress(engine: FakeEngine) -> None:
    rules = (EgressRule(host="api.example.test", port=443, why="x"),)
    with egress_network(
        engine,
        rules=rules,
        run_id="r1",
        gateway_image=IMAGE,
        settings=EgressSettings(),
    ):
        raise AssertionError("the gateway should not have started")


def test_the_gateway_without_its_runtime_names_python3() -> None:
    engine = FakeEngine(fail={"create": ImageMissingError(IMAGE)})
    with pytest.raises(RuntimeEngineError, match="python3 runtime, which is not built") as e:
        _egress(engine)
    assert e.value.hint == "run `mppoci runtime build python3`"


def test_a_gateway_that_cannot_start_is_removed_with_the_engines_words() -> None:
    engine = FakeEngine(fail={"start": EngineRefusedError("x: port", explanation="port")})
    with pytest.raises(RuntimeEngineError, match=r"^the egress gateway could not start: port$"):
        _egress(engine)
    assert len(engine.created) == 2 and all(c.removed for c in engine.created)
    assert [c.spec.argv[2] for c in engine.created] == ["/egress/gateway.py", "/egress/relay.py"]
