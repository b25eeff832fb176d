"""The egress gateway: runs INSIDE its own locked-down container, stdlib only.

It is the tool's only way out. On Docker the tool has no IP route at all: a
relay (relay.py) in the tool's loopback-only network namespace carries each
connection over a Unix socket to this gateway (``"socket"`` in the config),
prefixed with the port the tool dialled. On Kubernetes the tool pod reaches
the gateway's pod over TCP (``"listen"``) and the gateway also answers DNS:

- DNS (UDP port 53, Kubernetes): declared names (and names under a declared
  wildcard) resolve to the gateway itself; every other query is answered
  REFUSED and never forwarded, so nothing leaves through DNS.
- TCP, on each declared port: the destination is the one declared host for
  that port, or else the name the client sends first (TLS SNI, or the HTTP
  Host header), checked against the declared hosts. The gateway resolves it,
  refuses addresses outside the policy of addresses.py (loopback, link-local,
  private, the host's own...) unless the entry declares that private address,
  connects to the address it checked and relays bytes both ways: TLS stays end
  to end, any TCP protocol works.

Every query and connection attempt, allowed or denied, is printed as one JSON
line on stdout (the first MAX_EVENTS; after that, counts), and mppoci copies
them into the audit log after the run.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Sequence
from typing import Any

try:  # inside the gateway's container the scripts sit side by side
    import addresses  # type: ignore[import-not-found,unused-ignore]
    import names  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # imported from mppoci (tests, the renderer)
    from mppoci.egress import addresses, names

PEEK_BYTES = 4096
PEEK_TIMEOUT = 5.0
CONNECT_TIMEOUT = 10.0
MAX_EVENTS = 200  # printed one by one; after that, counted (a flood stays bounded)
SUMMARY_EVERY = 1.0  # seconds between two count lines
MAX_HEADER = 8  # "65535\n"
MAX_CONNECTIONS = 256  # open at once; more are refused at once (and counted)
MAX_LOGGED_NAME = 300  # an unrecognisable name is logged cut to this length
FIB_TRIE = "/proc/net/fib_trie"
IF_INET6 = "/proc/net/if_inet6"


class Log:
    """One JSON line per event for the first ``limit`` events; then a running
    count per (kind, decision), printed at most once per ``every`` seconds, so
    a flood of queries or connections cannot grow the log without bound."""

    def __init__(self, limit: int = MAX_EVENTS, every: float = SUMMARY_EVERY) -> None:
        self.limit = limit
        self.every = every
        self.printed = 0
        self.counts: dict[str, int] = {}
        self.last_summary = 0.0

    def __call__(self, **fields: Any) -> None:
        kind = fields.get("kind")
        if self.printed < self.limit:
            self.printed += 1
            emit(**fields)
            return
        key = f"{kind} {fields.get('decision')}"
        self.counts[key] = self.counts.get(key, 0) + 1
        now = time.monotonic()
        if now - self.last_summary >= self.every:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if self.counts:
            emit(kind="suppressed", counts=dict(self.counts), total=sum(self.counts.values()))
        self.last_summary = time.monotonic() if now is None else now


def emit(**fields: Any) -> None:
    print(json.dumps({"time": time.time(), **fields}, sort_keys=True), flush=True)


log = Log()


def flush_and_exit(signum: int, frame: object) -> None:
    """mppoci stops the container with SIGTERM at the end of a run: the last
    counts are printed before the process ends."""
    log.flush()
    os._exit(0)


def on_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An error in one connection's task: one capped line, never a traceback
    on stderr (which a tool could repeat until the host's disk fills)."""
    log(kind="error", message=str(context.get("message"))[:200])


async def summaries() -> None:
    """Print the counts of a flood that stopped between two events."""
    while True:
        await asyncio.sleep(SUMMARY_EVERY)
        if log.counts and time.monotonic() - log.last_summary >= SUMMARY_EVERY:
            log.flush()


def matches(pattern: str, host: str) -> bool:
    """Whether ``host`` (a name that passed names.host_name) matches a
    declared pattern."""
    host = host.lower().rstrip(".")
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        # One or more labels under the suffix, never the suffix itself.
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


class Rules:
    def __init__(self, rules: list[dict[str, Any]]) -> None:
        self.rules = [(str(r["host"]).lower(), int(r["port"])) for r in rules]
        self.addresses = [
            (
                str(r["host"]).lower(),
                int(r["port"]),
                ipaddress.ip_network(r["address"]) if r.get("address") else None,
            )
            for r in rules
        ]

    def declared(self, host: str, port: int) -> addresses.Network | None:
        """The private address or range the entry matching ``host``:``port``
        declares, if any (an exact name wins over a wildcard)."""
        found = [
            (pattern.startswith("*"), network)
            for pattern, p, network in self.addresses
            if p == port and matches(pattern, host)
        ]
        found.sort(key=lambda f: f[0])  # stable: exact names first
        return found[0][1] if found else None

    def name_allowed(self, host: str) -> bool:
        return any(matches(pattern, host) for pattern, _ in self.rules)

    def allowed(self, host: str, port: int) -> bool:
        return any(p == port and matches(pattern, host) for pattern, p in self.rules)

    def only_host(self, port: int) -> str | None:
        hosts = [h for h, p in self.rules if p == port]
        if len(hosts) == 1 and "*" not in hosts[0]:
            return hosts[0]
        return None

    def ports(self) -> list[int]:
        return sorted({p for _, p in self.rules})


# --- DNS ---------------------------------------------------------------------


def parse_query(data: bytes) -> tuple[int, str, int, bytes] | None:
    """(id, name, qtype, question bytes) of a standard one-question query."""
    if len(data) < 12:
        return None
    ident, flags, qdcount = struct.unpack(">HHH", data[:6])
    if flags & 0x8000 or qdcount != 1:
        return None
    labels, pos = [], 12
    while pos < len(data):
        length = data[pos]
        if length == 0:
            pos += 1
            break
        if length > 63 or pos + 1 + length > len(data):
            return None
        label = data[pos + 1 : pos + 1 + length]
        if b"." in label:  # one label that would read as several
            label = label.replace(b".", b"\x00")
        labels.append(label.decode("ascii", "replace"))
        pos += 1 + length
    if pos + 4 > len(data):
        return None
    qtype = struct.unpack(">H", data[pos : pos + 2])[0]
    return ident, ".".join(labels).lower(), qtype, data[12 : pos + 4]


def answer(ident: int, question: bytes, rcode: int, address: bytes | None) -> bytes:
    flags = 0x8180 | rcode  # response, recursion desired+available
    ancount = 1 if address else 0
    header = struct.pack(">HHHHHH", ident, flags, 1, ancount, 0, 0)
    body = question
    if address:
        body += struct.pack(">HHHIH", 0xC00C, 1, 1, 30, 4) + address
    return header + body


class Dns(asyncio.DatagramProtocol):
    def __init__(self, rules: Rules, own_ip: str) -> None:
        self.rules = rules
        self.own = socket.inet_aton(own_ip)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport here

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = parse_query(data)
        if query is None or self.transport is None:
            return
        ident, raw, qtype, question = query
        name = names.host_name(raw)
        allowed = name is not None and self.rules.name_allowed(name)
        extra = {} if name is not None else {"reason": "not a host name"}
        log(
            kind="dns",
            client=addr[0],
            name=raw[:MAX_LOGGED_NAME],
            qtype=qtype,
            decision="answered" if allowed else "refused",
            **extra,
        )
        if not allowed:
            reply = answer(ident, question, 5, None)  # REFUSED, never forwarded
        elif qtype == 1:
            reply = answer(ident, question, 0, self.own)
        else:
            reply = answer(ident, question, 0, None)  # no AAAA etc.: IPv4 through us only
        self.transport.sendto(reply, addr)


# --- TCP -----------------------------------------------------------------------


def sni(data: bytes) -> str | None:
    """The server name of a TLS ClientHello, if ``data`` starts with one."""
    try:
        if len(data) < 5 or data[0] != 0x16:
            return None
        pos = 5 + 4 + 2 + 32  # record header, handshake header, version, random
        pos += 1 + data[pos]  # session id
        pos += 2 + struct.unpack(">H", data[pos : pos + 2])[0]  # cipher suites
        pos += 1 + data[pos]  # compression methods
        end = pos + 2 + struct.unpack(">H", data[pos : pos + 2])[0]
        pos += 2
        while pos + 4 <= end:
            ext_type, ext_len = struct.unpack(">HH", data[pos : pos + 4])
            pos += 4
            if ext_type == 0:  # server_name
                name_len = struct.unpack(">H", data[pos + 3 : pos + 5])[0]
                raw = data[pos + 5 : pos + 5 + name_len]
                return raw.decode("ascii", "backslashreplace").lower()
            pos += ext_len
    except (IndexError, struct.error):
        return None
    return None


def http_host(data: bytes) -> str | None:
    """The HTTP Host header's name without its port, as sent (names.host_name
    decides whether it is a name). Several Host headers come back joined with
    ", ", which is never a name: a request that carries two is refused."""
    head = data.split(b"\r\n\r\n", 1)[0]
    values = []
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"host":
            text = value.strip().decode("ascii", "backslashreplace").lower()
            host, colon, port = text.rpartition(":")
            values.append(host if colon and port.isdigit() else text)
    return ", ".join(values) if values else None


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            writer.close()


class Forward:
    """Checks one connection for ``port`` against the rules and the address
    policy, then relays it. ``client`` names who connected (for the log)."""

    def __init__(
        self,
        rules: Rules,
        port: int | None,
        host_addresses: list[str],
        own_addresses: Sequence[str] = (),
        limit: Limit | None = None,
    ) -> None:
        self.rules = rules
        self.port = port
        self.own = [addresses.parse(a) for a in own_addresses]
        self.host_addresses = [addresses.parse(a) for a in host_addresses] + self.own
        self.limit = limit or Limit()

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.limit.take():
            self.refuse(self.client(writer), None, self.port or 0, "too many connections")
            writer.close()
            return
        try:
            await self.handle(reader, writer)
        finally:
            self.limit.give()
            writer.close()

    @staticmethod
    def client(writer: asyncio.StreamWriter) -> str:
        peer = writer.get_extra_info("peername")
        return str(peer[0]) if isinstance(peer, tuple) else "relay"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = self.client(writer)
        port = self.port
        if port is None:  # from the relay: the port the tool dialled comes first
            try:
                header = await asyncio.wait_for(reader.readuntil(b"\n"), PEEK_TIMEOUT)
                port = int(header[:MAX_HEADER])
            except (ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return  # not from our relay, which always writes the port first
            except (TimeoutError, ConnectionError):
                return
            if port not in self.rules.ports():
                self.refuse(client, None, port, "no declared destination")
                return
        first = b""
        host = self.rules.only_host(port)
        if host is None:
            try:
                first = await asyncio.wait_for(reader.read(PEEK_BYTES), PEEK_TIMEOUT)
            except (TimeoutError, ConnectionError):
                first = b""
            sent = sni(first) or http_host(first)
            host = names.host_name(sent) if sent is not None else None
            if sent is not None and host is None:
                # Not a host name (a NUL, an IP form, two Host headers...):
                # never matched, never resolved.
                sent = sent[:MAX_LOGGED_NAME]
                self.refuse(client, sent, port, "destination not recognisable")
                return
        if host is None or not self.rules.allowed(host, port):
            reason = "no declared destination" if host else "destination not recognisable"
            self.refuse(client, host, port, reason)
            return
        target = await self.address_for(host, port, client)
        if target is None:
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(target, port), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as e:
            reason = str(e) or type(e).__name__
            self.refuse(client, host, port, reason, decision="failed", address=target)
            return
        log(kind="tcp", client=client, host=host, port=port, address=target, decision="allowed")
        if first:
            up_writer.write(first)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        up_writer.close()

    async def address_for(self, host: str, port: int, client: str) -> str | None:
        """The address to connect to: resolved once here and checked, so a
        second lookup cannot swap it. Logs and returns None when refused."""
        if names.host_name(host) != host.rstrip("."):  # the declared only host too
            self.refuse(client, host, port, "destination not recognisable")
            return None
        declared = self.rules.declared(host, port)
        if declared is not None and declared.num_addresses == 1:
            candidates = [str(declared.network_address)]  # declared as is: no DNS
        else:
            try:
                # IPv4 unless the entry declares an IPv6 range: the outside
                # networks the gateway joins are IPv4.
                family = socket.AF_INET6 if declared and declared.version == 6 else socket.AF_INET
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, family=family, type=socket.SOCK_STREAM
                )
            except (OSError, UnicodeError, ValueError) as e:
                self.refuse(client, host, port, f"does not resolve: {e}", decision="failed")
                return None
            candidates = list(dict.fromkeys(str(info[4][0]) for info in infos))
            if not candidates:
                self.refuse(client, host, port, "resolves to no address", decision="failed")
                return None
        refusals = []
        for text in candidates:
            if addresses.parse(text) in self.own:
                # A name resolving to the gateway itself: connecting would loop.
                refusals.append((text, "gateway"))
                continue
            refused = addresses.permitted(
                addresses.parse(text), declared=declared, host_addresses=self.host_addresses
            )
            if refused is None:
                return text
            refusals.append((text, refused))
        text, refused = refusals[0]
        reason = f"{host} resolved to {text}, a {refused} address"
        self.refuse(client, host, port, reason, address=text, address_class=refused.split(",")[0])
        return None

    @staticmethod
    def refuse(
        client: str,
        host: str | None,
        port: int,
        reason: str,
        decision: str = "denied",
        **extra: str,
    ) -> None:
        log(
            kind="tcp",
            client=client,
            host=host,
            port=port,
            decision=decision,
            reason=reason,
            **extra,
        )


class Limit:
    """How many connections are open at once: ``take`` refuses beyond
    ``most``, so idle connections cannot grow the process until it is
    killed for memory."""

    def __init__(self, most: int = MAX_CONNECTIONS) -> None:
        self.most = most
        self.open = 0

    def take(self) -> bool:
        if self.open >= self.most:
            return False
        self.open += 1
        return True

    def give(self) -> None:
        self.open -= 1


def own_addresses(config: dict[str, Any]) -> list[str]:
    """The gateway's own addresses: those of its container (read here, at
    start) and the address the tool reaches it at (a Kubernetes Service's
    ``ip``). A name resolving to one of them is refused: it would loop."""

    def read(path: str) -> str:
        try:
            with open(path, encoding="ascii", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    found = addresses.local_addresses(read(FIB_TRIE), read(IF_INET6))
    if config.get("ip"):
        found.append(str(config["ip"]))
    # Loopback and link-local are refused anyway, under their own names.
    keep = (addresses.PRIVATE, addresses.PUBLIC)
    return sorted({a for a in found if addresses.classify(addresses.parse(a)) in keep})


async def main(config_path: str) -> None:
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    signal.signal(signal.SIGTERM, flush_and_exit)
    rules = Rules(config["rules"])
    host_addresses = [str(a) for a in config.get("host_addresses", [])]
    own = own_addresses(config)
    limit = Limit()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(on_error)
    tasks: list[Any] = [summaries()]
    if "socket" in config:  # Docker: connections come from the run's relay
        path = config["socket"]
        server = await asyncio.start_unix_server(
            Forward(rules, None, host_addresses, own, limit), path
        )
        os.chmod(path, 0o660)
        tasks.append(server.serve_forever())
    else:  # Kubernetes: the tool pod reaches us over TCP, behind a Service at ``ip``
        own_ip = config["ip"]  # what DNS answers
        listen = config.get("listen", own_ip)
        await loop.create_datagram_endpoint(lambda: Dns(rules, own_ip), local_addr=(listen, 53))
        for port in rules.ports():
            server = await asyncio.start_server(
                Forward(rules, port, host_addresses, own, limit), listen, port
            )
            tasks.append(server.serve_forever())
    emit(kind="ready", ports=rules.ports())
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
