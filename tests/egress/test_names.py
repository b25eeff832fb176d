"""Which names the gateway, the relay's DNS and the manifest check accept as
host names (mppoci.egress.names): the one form that is matched and resolved."""

from __future__ import annotations

import pytest

from mppoci.egress import names
from mppoci.manifest.rules import HOST_IP_LITERAL, host_problem


@pytest.mark.parametrize(
    ("sent", "name"),
    [
        ("api.svc.test", "api.svc.test"),
        ("API.Svc.Test.", "api.svc.test"),
        ("a-1.b2.svc.test", "a-1.b2.svc.test"),
        ("x" * 63 + ".svc.test", "x" * 63 + ".svc.test"),
    ],
)
def test_a_plain_host_name_passes_lowercased_without_its_trailing_dot(sent: str, name: str) -> None:
    assert names.host_name(sent) == name


@pytest.mark.parametrize(
    "sent",
    [
        "secret.internal\x00.svc.test",  # getaddrinfo stops at the NUL
        "10.123.0.20\x00.svc.test",
        "exfil-41414141.attacker.example\x00.pub.test",
        "x\xff.svc.test",  # idna cannot encode it
        "x" * 64 + ".svc.test",  # a label over 63
        ("a" * 63 + ".") * 4 + "svc.test",  # over 253 in all
        "-a.svc.test",
        "a-.svc.test",
        "a..svc.test",
        "a.svc.test..",
        "a_b.svc.test",
        "a b.svc.test",
        "a.svc.test:443",
        "",
        ".",
        # IP addresses in any form
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0x7f.0x1",
        "0177.0.0.1",
        "0xa9fea9fe",
        "0",
        "[::1]",
        "::1",
        "::ffff:127.0.0.1",
        "0x7f.svc.test",  # a hex label
        "127.svc.test",  # a label of digits
        "svc.123",  # no letter in the last label
    ],
)
def test_a_name_that_is_not_a_strict_host_name_is_refused(sent: str) -> None:
    assert names.host_name(sent) is None


@pytest.mark.parametrize("host", ["0xa9fea9fe", "0x7f.0x1", "0x08080808", "0177.0.0.1", "127.1"])
def test_a_hex_or_octal_ip_literal_is_refused_at_build_as_an_ip_address(host: str) -> None:
    assert host_problem(host) == HOST_IP_LITERAL
