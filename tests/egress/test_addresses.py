"""The gateway's address policy (mppoci.egress.addresses): pure."""

from __future__ import annotations

import ipaddress

import pytest

from mppoci.egress.addresses import classify, local_addresses, parse, permitted

HOST = [parse("203.0.114.5"), parse("172.17.0.1"), parse("fd00::2")]


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("10.0.12.7", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),  # CGNAT
        ("100.127.255.254", "private"),
        ("224.0.0.251", "multicast"),
        ("255.255.255.255", "reserved"),
        ("198.18.0.1", "reserved"),
        ("172.32.0.1", "public"),
        ("100.128.0.1", "public"),
        ("93.184.216.34", "public"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd12:3456::7", "private"),  # unique local
        ("ff02::1", "multicast"),
        ("2606:4700::1111", "public"),
        # IPv6 forms that carry an IPv4 address get that address's class.
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:10.1.2.3", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 of 169.254.169.254
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("64:ff9b::7f00:1", "loopback"),
        ("::127.0.0.1", "reserved"),  # IPv4-compatible, deprecated: refused as such
    ],
)
def test_every_address_form_gets_its_class(address: str, kind: str) -> None:
    assert classify(parse(address)) == kind


@pytest.mark.parametrize(
    ("address", "declared"),
    [
        ("203.0.114.5", "203.0.114.0/24"),  # a public address of the host
        ("172.17.0.1", "172.16.0.0/12"),  # docker0
        ("::ffff:172.17.0.1", "172.16.0.0/12"),
        ("fd00::2", "fd00::/8"),
    ],
)
def test_the_hosts_own_addresses_are_refused_even_inside_a_declared_range(
    address: str, declared: str
) -> None:
    assert permitted(parse(address), declared=None, host_addresses=HOST) == "host"
    network = ipaddress.ip_network(declared)
    assert permitted(parse(address), declared=network, host_addresses=HOST) == "host"


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "169.254.169.254", "10.0.12.7", "::ffff:127.0.0.1", "fd00::9"]
)
def test_a_name_resolving_to_a_forbidden_address_is_refused_by_default(address: str) -> None:
    assert permitted(parse(address), declared=None, host_addresses=HOST) is not None


def test_a_public_address_is_permitted_without_declaration() -> None:
    assert permitted(parse("93.184.216.34"), declared=None, host_addresses=HOST) is None


def test_a_declared_private_range_admits_only_its_own_private_addresses() -> None:
    declared = ipaddress.ip_network("10.0.12.0/24")
    assert permitted(parse("10.0.12.7"), declared=declared) is None
    assert permitted(parse("::ffff:10.0.12.7"), declared=declared) is None
    refused = permitted(parse("10.0.13.7"), declared=declared)
    assert refused == "private, outside the declared 10.0.12.0/24"
    assert permitted(parse("127.0.0.1"), declared=declared) is not None
    assert permitted(parse("93.184.216.34"), declared=declared) is not None


def test_the_hosts_addresses_are_read_from_fib_trie_and_if_inet6() -> None:
    fib_trie = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
     |-- 172.17.0.1
        /32 host LOCAL
     |-- 172.17.255.255
        /32 link BROADCAST
"""
    if_inet6 = (
        "00000000000000000000000000000001 01 80 10 80       lo\n"
        "fd000000000000000000000000000002 02 40 00 80     eth0\n"
    )
    assert local_addresses(fib_trie, if_inet6) == ["127.0.0.1", "172.17.0.1", "::1", "fd00::2"]
