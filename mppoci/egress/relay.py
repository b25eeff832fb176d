"""The run's relay: runs INSIDE a container with no network but loopback,
whose network namespace the tool's container shares. Stdlib only.

The tool therefore has no IP route to anything: not the host, not other
containers, not the gateway. The relay answers the tool's DNS on
127.0.0.1:53 (declared names -> 127.0.0.1, every other query REFUSED and
never forwarded), listens on 127.0.0.1 on each declared port, and carries
each connection over a Unix socket (a path in a folder the tool cannot see)
to the gateway, prefixed with the port the tool dialled. The gateway decides.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

try:  # inside the relay's container the scripts sit side by side
    import gateway  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # imported from mppoci (tests)
    from mppoci.egress import gateway

LOOPBACK = "127.0.0.1"


class Carry:
    """Carries one of the tool's connections to the gateway's socket."""

    def __init__(self, socket_path: str, port: int, limit: gateway.Limit | None = None) -> None:
        self.socket_path = socket_path
        self.port = port
        self.limit = limit or gateway.Limit()

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.limit.take():
            # Refused at once and counted (gateway.Log), never held open.
            gateway.log(
                kind="tcp",
                client="tool",
                host=None,
                port=self.port,
                decision="denied",
                reason="too many connections",
            )
            writer.close()
            return
        try:
            await self.carry(reader, writer)
        finally:
            self.limit.give()
            writer.close()

    async def carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.socket_path)
        except OSError:
            return
        up_writer.write(f"{self.port}\n".encode())
        await asyncio.gather(gateway.pipe(reader, up_writer), gateway.pipe(up_reader, writer))
        up_writer.close()


async def main(config_path: str) -> None:
    with open(config_path, encoding="utf-8") as f:
        config: dict[str, Any] = json.load(f)
    signal.signal(signal.SIGTERM, gateway.flush_and_exit)
    rules = gateway.Rules(config["rules"])
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(gateway.on_error)
    await loop.create_datagram_endpoint(
        lambda: gateway.Dns(rules, LOOPBACK), local_addr=(LOOPBACK, 53)
    )
    limit = gateway.Limit()
    servers = [
        await asyncio.start_server(Carry(config["socket"], port, limit), LOOPBACK, port)
        for port in rules.ports()
    ]
    gateway.emit(kind="ready", ports=rules.ports())
    await asyncio.gather(gateway.summaries(), *(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
