"""The egress gateway: runs INSIDE its own locked-down container, stdlib only.

It sits on the tool's internal network (no route out) and on an outside
network, and is the tool's only way out:

- DNS (UDP port 53): declared names (and names under a declared wildcard)
  resolve to the gateway itself; every other query is answered REFUSED and
  never forwarded, so nothing leaves through DNS.
- TCP, on each declared port: the destination is the one declared host for
  that port, or else the name the client sends first (TLS SNI, or the HTTP
  Host header), checked against the declared hosts. The gateway resolves it
  and relays bytes both ways: TLS stays end to end, any TCP protocol works.

Every query and connection attempt, allowed or denied, is printed as one JSON
line on stdout; mppoci copies them into the audit log after the run.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import sys
import time
from typing import Any

PEEK_BYTES = 4096
PEEK_TIMEOUT = 5.0
CONNECT_TIMEOUT = 10.0


def log(**fields: Any) -> None:
    print(json.dumps({"time": time.time(), **fields}, sort_keys=True), flush=True)


def matches(pattern: str, host: str) -> bool:
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
        labels.append(data[pos + 1 : pos + 1 + length].decode("ascii", "replace"))
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
        ident, name, qtype, question = query
        allowed = self.rules.name_allowed(name)
        log(
            kind="dns",
            client=addr[0],
            name=name,
            qtype=qtype,
            decision="answered" if allowed else "refused",
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
                return data[pos + 5 : pos + 5 + name_len].decode("ascii").lower()
            pos += ext_len
    except (IndexError, struct.error, UnicodeDecodeError):
        return None
    return None


def http_host(data: bytes) -> str | None:
    head = data.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"host":
            return value.strip().decode("ascii", "replace").rsplit(":", 1)[0].lower()
    return None


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


class Relay:
    def __init__(self, rules: Rules, port: int) -> None:
        self.rules = rules
        self.port = port

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = writer.get_extra_info("peername")[0]
        first = b""
        host = self.rules.only_host(self.port)
        if host is None:
            try:
                first = await asyncio.wait_for(reader.read(PEEK_BYTES), PEEK_TIMEOUT)
            except (TimeoutError, ConnectionError):
                first = b""
            host = sni(first) or http_host(first)
        if host is None or not self.rules.allowed(host, self.port):
            log(
                kind="tcp",
                client=client,
                host=host,
                port=self.port,
                decision="denied",
                reason="no declared destination" if host else "destination not recognisable",
            )
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(host, self.port, family=socket.AF_INET), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as e:
            log(
                kind="tcp",
                client=client,
                host=host,
                port=self.port,
                decision="failed",
                reason=str(e),
            )
            writer.close()
            return
        log(kind="tcp", client=client, host=host, port=self.port, decision="allowed")
        if first:
            up_writer.write(first)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        writer.close()
        up_writer.close()


async def main(config_path: str) -> None:
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    rules = Rules(config["rules"])
    own_ip = config["ip"]  # what DNS answers: the address tools reach the gateway at
    # Docker: the gateway's address on the tool's network (it is also on an outside
    # network). Kubernetes: all of the pod's addresses, behind a Service at own_ip.
    listen = config.get("listen", own_ip)
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: Dns(rules, own_ip), local_addr=(listen, 53))
    servers = [
        await asyncio.start_server(Relay(rules, port), listen, port) for port in rules.ports()
    ]
    log(kind="ready", ports=rules.ports())
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
