"""Attacks on the gateway's choice of destination, run against Forward and Dns
in process: every one must be refused and audited BEFORE any lookup or
connection (the resolver and the connector here fail the test if called)."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import pytest

from mppoci.egress import gateway, relay

HANG_GUARD = 30.0  # seconds; a refusal returns at once, this only stops a hang


class Writer:
    """What Forward uses of a connection's writer."""

    def __init__(self) -> None:
        self.closed = False

    def get_extra_info(self, name: str) -> Any:
        return ("10.9.9.9", 40000) if name == "peername" else None

    def close(self) -> None:
        self.closed = True


def client_hello(name: bytes) -> bytes:
    sn = b"\x00" + struct.pack(">H", len(name)) + name
    ext = struct.pack(">HH", 0, len(sn) + 2) + struct.pack(">H", len(sn)) + sn
    body = (
        b"\x03\x03"
        + b"\x11" * 32
        + b"\x00"
        + b"\x00\x02\x13\x01"
        + b"\x01\x00"
        + struct.pack(">H", len(ext))
        + ext
    )
    handshake = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(handshake)) + handshake


def http(host: bytes, *extra: bytes) -> bytes:
    return b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n" + b"".join(extra) + b"\r\n"


@pytest.fixture
def records(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """The audit lines the gateway printed; DNS and connecting fail the test."""
    monkeypatch.setattr(gateway, "log", gateway.Log())
    asked: list[str] = []

    async def no_dns(loop: Any, host: str, *a: Any, **kw: Any) -> list[Any]:
        asked.append(host)
        raise AssertionError(f"the gateway resolved {host!r}")

    async def no_connect(*a: Any, **kw: Any) -> Any:
        raise AssertionError(f"the gateway connected to {a!r}")

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", no_dns)
    monkeypatch.setattr(asyncio, "open_connection", no_connect)

    def read() -> list[dict[str, Any]]:
        assert not asked
        return [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    return read


def run(forward: gateway.Forward, data: bytes) -> Writer:
    async def go() -> Writer:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        writer = Writer()
        await asyncio.wait_for(forward(reader, writer), HANG_GUARD)  # type: ignore[arg-type]
        return writer

    return asyncio.run(go())


def forward(host: str, port: int = 80, **entry: Any) -> gateway.Forward:
    rules = gateway.Rules([{"host": host, "port": port, **entry}, {"host": "x.test", "port": port}])
    return gateway.Forward(rules, port, [])


def only_refusal(records: Any, reason: str = "destination not recognisable") -> dict[str, Any]:
    (record,) = [r for r in records() if r.get("kind") == "tcp"]
    assert record["decision"] == "denied"
    assert record["reason"] == reason
    return record


def test_a_nul_in_the_host_header_does_not_reach_a_name_outside_the_wildcard(
    records: Any,
) -> None:
    run(forward("*.svc.test"), http(b"secret.internal\x00.svc.test"))
    record = only_refusal(records)
    assert record["host"] == "secret.internal\x00.svc.test"


def test_a_nul_in_the_host_header_does_not_dial_an_ip_literal(records: Any) -> None:
    run(forward("*.svc.test"), http(b"10.123.0.20\x00.svc.test"))
    only_refusal(records)


def test_a_nul_in_sni_does_not_leak_a_name_to_upstream_dns(records: Any) -> None:
    run(forward("*.pub.test", 443), client_hello(b"exfil-41414141.attacker.example\x00.pub.test"))
    only_refusal(records)


def test_a_byte_outside_ascii_in_sni_is_refused_and_audited(records: Any) -> None:
    run(forward("*.pub.test", 443), client_hello(b"x\xff.pub.test"))
    only_refusal(records)


@pytest.mark.parametrize(
    "host",
    [b"2130706433", b"127.1", b"0x7f000001", b"0177.0.0.1", b"0", b"169.254.169.254", b"[::1]"],
)
def test_an_ip_address_in_any_form_in_the_host_header_is_not_dialled_even_under_any_host(
    host: bytes, records: Any
) -> None:
    run(forward("*", dangerouslyAllowAnyHost=True), http(host))
    only_refusal(records)


def test_two_host_headers_are_refused(records: Any) -> None:
    run(forward("*.svc.test"), http(b"a.svc.test", b"Host: secret.internal\r\n"))
    only_refusal(records)


def test_a_label_idna_cannot_encode_is_refused_and_audited_not_dropped(records: Any) -> None:
    run(forward("*.svc.test"), http(b"x" * 70 + b".svc.test"))
    only_refusal(records)


def test_a_lookup_that_raises_unicode_error_is_audited(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(gateway, "log", gateway.Log())

    async def idna_fails(loop: Any, host: str, *a: Any, **kw: Any) -> list[Any]:
        raise UnicodeError("label too long")

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", idna_fails)
    run(forward("api.svc.test"), http(b"api.svc.test"))
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["decision"] == "failed"
    assert record["reason"] == "does not resolve: label too long"


def test_the_host_headers_port_is_stripped_before_matching(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(gateway, "log", gateway.Log())
    asked: list[str] = []

    async def resolve(loop: Any, host: str, port: int, **kw: Any) -> list[Any]:
        asked.append(host)
        return [(0, 0, 0, "", ("127.0.0.1", port))]  # refused: nothing is dialled

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", resolve)
    run(forward("*.svc.test"), http(b"API.svc.test:8080"))
    assert asked == ["api.svc.test"]
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["address_class"] == "loopback"


def test_a_name_resolving_to_the_gateways_own_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On Kubernetes the gateway listens on every declared port: a declared
    private range holding its own address would make it connect to itself."""
    monkeypatch.setattr(gateway, "log", gateway.Log())

    async def to_itself(loop: Any, host: str, port: int, **kw: Any) -> list[Any]:
        return [(0, 0, 0, "", ("10.1.2.3", port))]

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", to_itself)
    rules = gateway.Rules([{"host": "*.svc.test", "port": 80, "address": "10.1.2.0/24"}])
    run(gateway.Forward(rules, 80, [], ["10.1.2.3"]), http(b"loop.svc.test"))
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["decision"] == "denied"
    assert record["address_class"] == "gateway"
    assert record["address"] == "10.1.2.3"


def test_the_gateway_counts_its_service_address_and_its_interfaces_as_its_own(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fib = tmp_path / "fib_trie"
    fib.write_text(
        "Local:\n  +-- 10.1.2.0/24 2 0 2\n     |-- 10.1.2.3\n        /32 host LOCAL\n"
        "     |-- 127.0.0.1\n        /32 host LOCAL\n"  # refused as loopback anyway
    )
    monkeypatch.setattr(gateway, "FIB_TRIE", str(fib))
    monkeypatch.setattr(gateway, "IF_INET6", str(tmp_path / "absent"))
    assert gateway.own_addresses({"ip": "10.96.200.10"}) == ["10.1.2.3", "10.96.200.10"]


def test_idle_connections_beyond_the_cap_are_refused_at_once(records: Any) -> None:
    """Idle connections held open (the flood that OOM-killed the relay): the
    one over the cap is refused and audited without waiting for a byte."""
    limit = gateway.Limit(most=2)
    rules = gateway.Rules([{"host": "*.svc.test", "port": 80}])
    fwd = gateway.Forward(rules, 80, [], limit=limit)

    async def go() -> None:
        idle = []
        for _ in range(2):
            reader = asyncio.StreamReader()  # never fed: the client stays silent
            idle.append(asyncio.ensure_future(fwd(reader, Writer())))  # type: ignore[arg-type]
        while limit.open < 2:
            await asyncio.sleep(0)
        writer = Writer()
        await asyncio.wait_for(fwd(asyncio.StreamReader(), writer), HANG_GUARD)  # type: ignore[arg-type]
        assert writer.closed
        for task in idle:
            task.cancel()
        await asyncio.gather(*idle, return_exceptions=True)
        assert limit.open == 0

    asyncio.run(go())
    only_refusal(records, "too many connections")


def test_the_relay_refuses_idle_connections_beyond_the_cap_at_once(
    tmp_path: Any, records: Any
) -> None:
    limit = gateway.Limit(most=1)
    carry = relay.Carry(str(tmp_path / "absent.sock"), 443, limit)
    assert limit.take()  # one connection already open

    async def go() -> Writer:
        writer = Writer()
        await asyncio.wait_for(carry(asyncio.StreamReader(), writer), HANG_GUARD)  # type: ignore[arg-type]
        return writer

    assert asyncio.run(go()).closed
    record = only_refusal(records, "too many connections")
    assert record["port"] == 443


class Transport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, addr: Any) -> None:
        self.sent.append(data)


def question(*labels: bytes) -> bytes:
    name = b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
    return struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + name + b"\x00\x01\x00\x01"


@pytest.mark.parametrize(
    "labels",
    [
        (b"secret", b"internal\x00", b"svc", b"test"),  # a NUL in a label
        (b"secret.internal", b"svc", b"test"),  # a dot inside one label
        (b"0x7f", b"svc", b"test"),
        (b"x\xff", b"svc", b"test"),
    ],
)
def test_a_dns_question_that_is_not_a_host_name_is_refused_not_answered(
    labels: tuple[bytes, ...], records: Any
) -> None:
    dns = gateway.Dns(gateway.Rules([{"host": "*.svc.test", "port": 443}]), "127.0.0.1")
    transport = Transport()
    dns.connection_made(transport)  # type: ignore[arg-type]
    dns.datagram_received(question(*labels), ("127.0.0.1", 5353))
    (reply,) = transport.sent
    assert reply[3] & 0x0F == 5  # REFUSED
    assert struct.unpack(">H", reply[6:8])[0] == 0  # no answer
    (record,) = records()
    assert record["decision"] == "refused"
    assert record["reason"] == "not a host name"


def test_a_plain_dns_question_under_the_wildcard_is_still_answered(records: Any) -> None:
    dns = gateway.Dns(gateway.Rules([{"host": "*.svc.test", "port": 443}]), "127.0.0.1")
    transport = Transport()
    dns.connection_made(transport)  # type: ignore[arg-type]
    dns.datagram_received(question(b"api", b"svc", b"test"), ("127.0.0.1", 5353))
    (reply,) = transport.sent
    assert reply[3] & 0x0F == 0 and reply[-4:] == bytes([127, 0, 0, 1])
