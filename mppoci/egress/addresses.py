"""Which addresses the egress gateway may connect to. Pure, stdlib only: it is
copied next to gateway.py into the gateway's container.

A publisher controls DNS for its own names, so a declared name may resolve to
anything. By default only public addresses are reachable (Stripe's
Smokescreen denies the same classes). A destination whose manifest entry
declares an ``address`` (one private IP or a private CIDR) may reach private
addresses inside it; loopback, link-local (cloud metadata), multicast,
unspecified, reserved addresses and the host's own addresses stay refused
even then.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Classes a declared private address may reach; every other non-public class
# is refused whatever the manifest says.
PRIVATE = "private"
PUBLIC = "public"
HOST = "host"  # one of the host's own addresses

_V4: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("10.0.0.0/8", PRIVATE),
    ("172.16.0.0/12", PRIVATE),
    ("192.168.0.0/16", PRIVATE),
    ("100.64.0.0/10", PRIVATE),  # CGNAT (RFC 6598)
    ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
    ("192.0.2.0/24", "reserved"),  # documentation
    ("192.88.99.0/24", "reserved"),  # 6to4 relay anycast (deprecated)
    ("168.63.129.16/32", "metadata"),  # Azure's wireserver (a public address)
    ("198.18.0.0/15", "reserved"),  # benchmarking
    ("198.51.100.0/24", "reserved"),
    ("203.0.113.0/24", "reserved"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),  # includes 255.255.255.255
)
_V6: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("fe80::/10", "link-local"),
    ("fc00::/7", PRIVATE),  # unique local addresses
    ("ff00::/8", "multicast"),
    ("2001:db8::/32", "reserved"),  # documentation
    ("100::/64", "reserved"),  # discard
    ("64:ff9b:1::/48", "reserved"),  # local-use NAT64 (RFC 8215)
    ("fec0::/10", "reserved"),  # deprecated site-local
    ("::/96", "reserved"),  # IPv4-compatible (deprecated)
)
_TABLE: tuple[tuple[Network, str], ...] = tuple(
    (ipaddress.ip_network(cidr), name) for cidr, name in (*_V4, *_V6)
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that an IPv6 form carries (IPv4-mapped ::ffff:a.b.c.d,
    6to4 2002:AABB:CCDD::, NAT64 64:ff9b::a.b.c.d, Teredo's server), or None."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo is not None:
        return address.teredo[0]  # teredo[1] (the client) is obfuscated; the server is not
    return None


def classify(address: Address, host_addresses: Iterable[Address] = ()) -> str:
    """The class of ``address``: "public", "private", "host", "loopback",
    "link-local", "multicast", "unspecified" or "reserved". An IPv6 form that
    embeds an IPv4 address gets the worse of both classes."""
    inner = embedded_ipv4(address)
    if inner is not None:
        own = _class_of(address, host_addresses)
        embedded = _class_of(inner, host_addresses)
        return own if own != PUBLIC else embedded
    return _class_of(address, host_addresses)


def _class_of(address: Address, host_addresses: Iterable[Address]) -> str:
    """The table's class; "host" for one of the host's own private or public
    addresses (loopback and link-local keep their own, more telling, names)."""
    name = next(
        (n for network, n in _TABLE if address.version == network.version and address in network),
        PUBLIC,
    )
    if name in (PRIVATE, PUBLIC) and address in set(host_addresses):
        return HOST
    return name


def parse(text: str) -> Address:
    """An address as text; raises ValueError."""
    return ipaddress.ip_address(text.split("%", 1)[0])


def permitted(
    address: Address,
    *,
    declared: Network | None,
    host_addresses: Iterable[Address] = (),
) -> str | None:
    """None if the gateway may connect to ``address``, else the class that
    refuses it. ``declared`` is the entry's private address or range, if any:
    then the address must fall inside it and be private (or public)."""
    kind = classify(address, host_addresses)
    if declared is not None:
        target = embedded_ipv4(address) or address
        if target.version != declared.version or target not in declared:
            return f"{kind}, outside the declared {declared}"
        return None if kind in (PRIVATE, PUBLIC) else kind
    return None if kind == PUBLIC else kind


def private_declaration_problem(text: str) -> str | None:
    """Why ``text`` is not an acceptable declared private address, or None."""
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        return "must be an IP address (10.0.12.7) or a network (10.0.12.0/24) with no host bits"
    kind = classify(network.network_address)
    last = classify(network.broadcast_address)
    if kind != PRIVATE or last != PRIVATE:
        return (
            "must lie in a private range (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7); "
            f"this is {kind if kind != PRIVATE else last}: loopback, link-local, multicast "
            "and reserved addresses are never reachable, and public ones need no address"
        )
    return None


def local_addresses(fib_trie: str, if_inet6: str) -> list[str]:
    """The host's own addresses, from /proc/net/fib_trie (``/32 host LOCAL``
    entries) and /proc/net/if_inet6. Pure: the caller reads the files."""
    found: list[str] = []
    lines = fib_trie.splitlines()
    for i, line in enumerate(lines):
        if "/32 host LOCAL" in line and i > 0:
            candidate = lines[i - 1].strip().lstrip("|-+ ").strip()
            try:
                found.append(str(ipaddress.IPv4Address(candidate)))
            except ValueError:
                continue
    for line in if_inet6.splitlines():
        fields = line.split()
        if fields and len(fields[0]) == 32:
            try:
                found.append(str(ipaddress.IPv6Address(int(fields[0], 16))))
            except ValueError:
                continue
    return sorted(set(found))
