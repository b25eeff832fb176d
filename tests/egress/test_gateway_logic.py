"""The gateway's pure parts: which entry declares an address, the capped log,
and how a run's events are collected for the audit log."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mppoci.egress import gateway
from mppoci.egress.network import MAX_RECORDED, collect_events


def test_an_exact_entry_without_address_is_not_widened_by_a_wildcard_with_one() -> None:
    rules = gateway.Rules(
        [
            {"host": "a.svc.test", "port": 443},
            {"host": "*.svc.test", "port": 443, "address": "10.0.0.0/24"},
        ]
    )
    assert rules.declared("a.svc.test", 443) is None
    assert rules.declared("b.svc.test", 443) == ipaddress.ip_network("10.0.0.0/24")
    assert rules.declared("b.svc.test", 8443) is None


Resolver = Callable[..., Awaitable[list[Any]]]


def _forward(rules: list[dict[str, Any]], answers: list[str]) -> tuple[gateway.Forward, Resolver]:
    """A gateway whose host owns 172.17.0.1, and a resolver answering ``answers``."""
    forward = gateway.Forward(gateway.Rules(rules), None, ["172.17.0.1"])

    async def fake_getaddrinfo(host: str, port: int, **kw: Any) -> list[Any]:
        return [(0, 0, 0, "", (a, port)) for a in answers]

    return forward, fake_getaddrinfo


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("172.17.0.1", "host"),
        ("10.0.12.7", "private"),
        ("::ffff:127.0.0.1", "loopback"),
    ],
)
def test_the_gateway_refuses_a_declared_name_that_resolves_to_a_forbidden_address(
    answer: str, kind: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    forward, fake = _forward([{"host": "api.acme.test", "port": 443}], [answer])

    async def go() -> str | None:
        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake)
        return await forward.address_for("api.acme.test", 443, "relay")

    monkeypatch.setattr(gateway, "log", gateway.Log())
    assert asyncio.run(go()) is None
    record = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert record["decision"] == "denied"
    assert record["address_class"] == kind
    assert record["address"] == answer


def test_a_declared_single_address_is_used_without_asking_dns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    forward, _ = _forward(
        [{"host": "db.internal", "port": 5432, "address": "10.0.12.7"}], ["127.0.0.1"]
    )

    async def no_dns(*a: Any, **kw: Any) -> list[Any]:
        raise AssertionError("DNS was asked")

    async def go() -> str | None:
        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", no_dns)
        return await forward.address_for("db.internal", 5432, "relay")

    assert asyncio.run(go()) == "10.0.12.7"


def test_a_flood_prints_the_first_events_then_counts(capsys: pytest.CaptureFixture[str]) -> None:
    log = gateway.Log(limit=3, every=0.0)
    for i in range(10):
        log(kind="dns", name=f"n{i}", decision="refused")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["kind"] for line in lines[:3]] == ["dns"] * 3
    assert lines[-1]["kind"] == "suppressed"
    assert lines[-1]["counts"] == {"dns refused": 7}
    assert all(line["kind"] != "dns" for line in lines[3:])


def test_a_runs_events_are_capped_and_the_rest_counted() -> None:
    relay = [json.dumps({"kind": "dns", "decision": "refused"}).encode()] * (MAX_RECORDED + 50)
    relay.append(json.dumps({"kind": "suppressed", "counts": {"dns refused": 1000}}).encode())
    gateway_lines = [b"not json", json.dumps({"kind": "tcp", "decision": "allowed"}).encode()]
    events = collect_events([relay, gateway_lines])
    assert len(events) == MAX_RECORDED + 1
    assert events[-1] == {
        "kind": "suppressed",
        "counts": {"dns refused": 1050, "tcp allowed": 1},
        "total": 1051,
    }


def test_an_oom_killed_relay_is_recorded_in_the_runs_audit(tmp_path: Any) -> None:
    """The idle-connection flood OOM-killed the relay and the audit log said
    nothing: a relay or gateway that did not end by mppoci's SIGTERM (exit 0)
    is now one ``network.stopped`` record."""
    from mppoci.audit import events
    from mppoci.audit.log import read_lines
    from mppoci.egress.network import stopped_events
    from mppoci.locations import locate

    found = stopped_events(
        [
            ("gateway", {"ExitCode": 0, "OOMKilled": False}),
            ("relay", {"ExitCode": 137, "OOMKilled": True}),
        ]
    )
    assert found == [{"kind": "stopped", "role": "relay", "exit_code": 137, "oom_killed": True}]
    where = locate({"MPPOCI_HOME": str(tmp_path / "home")})
    events.network(where, package="acme/t", digest="sha256:" + "0" * 64, event=found[0])
    (line,) = read_lines(where)[0]
    record = json.loads(line)
    assert record["event"] == "network.stopped"
    assert record["data"]["role"] == "relay"
    assert record["data"]["oom_killed"] is True


def test_a_crashed_gateway_is_recorded_and_a_clean_stop_is_not() -> None:
    from mppoci.egress.network import stopped_events

    assert stopped_events([("gateway", {"ExitCode": 0}), ("relay", {})]) == []
    assert stopped_events([("gateway", {"ExitCode": 1})])[0]["exit_code"] == 1
