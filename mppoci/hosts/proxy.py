"""Calling a tool of an `mcp` package: its MCP server runs in the sandbox, and
mppoci is its client for exactly one call.

The sandbox's stdin and stdout carry newline-delimited JSON-RPC. Over them an
SDK ``ClientSession`` does the initialize handshake and sends the one
``tools/call``; then stdin is closed, the server exits, and the container is
removed. The sandbox runs in a worker thread (the same blocking runner as a
`cli` call); a socket pair feeds its stdin, and its stdout is cut into lines and
handed to the session on the event loop.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, cast

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.client.session import ClientSession
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage

from mppoci.errors import Error, LimitExceededError
from mppoci.hosts.content import MAX_OUTPUT_BYTES, STDERR_TAIL_BYTES
from mppoci.sandbox.docker_runner import RunResult

# Runs the sandbox to its end with these streams (blocking).
Runner = Callable[[IO[bytes] | None, IO[bytes], IO[bytes]], RunResult]

EXIT_GRACE_SECONDS = 2.0  # after the answer: time for the server to exit on EOF


class Tail:
    """Keeps the last ``limit`` bytes written (stderr: what says why)."""

    def __init__(self, limit: int = STDERR_TAIL_BYTES * 4) -> None:
        self._limit = limit
        self._data = bytearray()
        self._lock = threading.Lock()

    def write(self, data: bytes) -> int:
        with self._lock:
            self._data += data
            del self._data[: max(0, len(self._data) - self._limit)]
        return len(data)

    def flush(self) -> None:
        pass

    def getvalue(self) -> bytes:
        with self._lock:
            return bytes(self._data)


class Capped:
    """Collects stdout, refusing more than ``limit`` bytes (the sandbox is then
    stopped and removed)."""

    def __init__(self, limit: int = MAX_OUTPUT_BYTES) -> None:
        self._limit = limit
        self._data = bytearray()

    def write(self, data: bytes) -> int:
        if len(self._data) + len(data) > self._limit:
            raise LimitExceededError(
                f"the tool wrote more than {self._limit} bytes of output",
                hint="ask for less at a time",
            )
        self._data += data
        return len(data)

    def flush(self) -> None:
        pass

    def getvalue(self) -> bytes:
        return bytes(self._data)


def as_io(stream: Tail | Capped | _Lines | _StdinReader) -> IO[bytes]:
    """These classes implement the part of IO[bytes] the runners use
    (read, or write and flush)."""
    return cast(IO[bytes], stream)


class _StdinReader:
    """The sandbox's stdin: one end of a socket pair, EOF once the other end
    is shut down. Only the sandbox's stdin pump reads it, and it closes its
    end itself at EOF, so no descriptor is closed under a read in progress."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._sock.recv(size if size > 0 else 65536)
        except OSError:
            data = b""
        if not data:
            self._sock.close()
        return data


class _Lines:
    """The sandbox's stdout: cut into lines, each handed to ``deliver``."""

    def __init__(self, deliver: Callable[[bytes], None], limit: int = MAX_OUTPUT_BYTES) -> None:
        self._deliver = deliver
        self._limit = limit
        self._buffer = b""

    def write(self, data: bytes) -> int:
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            if line.strip():
                self._deliver(line)
        if len(self._buffer) > self._limit:
            raise LimitExceededError(f"the tool's MCP server sent a line over {self._limit} bytes")
        return len(data)

    def flush(self) -> None:
        pass


def _parse(line: bytes) -> SessionMessage | Exception:
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as e:  # pydantic's ValidationError is a ValueError
        return e


@dataclass(slots=True)
class Proxied:
    """The answer (or why there is none), and how the sandbox ended."""

    result: types.CallToolResult | None = None
    failure: str = ""  # the MCP error, when the server answered with one or went away
    run: RunResult | None = None
    error: Error | None = None  # mppoci could not run the sandbox
    stderr: bytes = field(default=b"", repr=False)


async def call_tool(
    runner: Runner,
    tool: str,
    arguments: dict[str, Any],
    *,
    stop: threading.Event | None = None,
) -> Proxied:
    """Start the sandbox with ``runner``, and be the MCP client of its server
    for one ``tools/call``."""
    token = anyio.lowlevel.current_token()
    to_session: MemoryObjectSendStream[SessionMessage | Exception]
    session_in: MemoryObjectReceiveStream[SessionMessage | Exception]
    to_session, session_in = anyio.create_memory_object_stream[SessionMessage | Exception](64)
    session_out: MemoryObjectSendStream[SessionMessage]
    from_session: MemoryObjectReceiveStream[SessionMessage]
    session_out, from_session = anyio.create_memory_object_stream[SessionMessage](64)
    ours, theirs = socket.socketpair()
    stderr = Tail()
    out = Proxied()
    finished = anyio.Event()

    def deliver(line: bytes) -> None:
        # From the sandbox's thread; a session that is gone just drops the line.
        gone = (anyio.ClosedResourceError, anyio.BrokenResourceError, RuntimeError)
        with contextlib.suppress(*gone):
            anyio.from_thread.run(to_session.send, _parse(line), token=token)

    stdin = _StdinReader(theirs)

    def run_sandbox() -> RunResult:
        return runner(as_io(stdin), as_io(_Lines(deliver)), as_io(stderr))

    async def sandbox() -> None:
        try:
            out.run = await anyio.to_thread.run_sync(run_sandbox, abandon_on_cancel=True)
        except Error as e:
            out.error = e
        finally:
            to_session.close()  # the server is gone: the session sees the end
            finished.set()

    # Our end is non-blocking and written on the event loop, so a sandbox that
    # stops reading can never wedge a thread; it is closed once nothing uses it.
    ours.setblocking(False)
    feeding = anyio.CancelScope()

    async def feed() -> None:
        with feeding:
            async with from_session:
                async for message in from_session:
                    line = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    data = memoryview(line.encode() + b"\n")
                    while data:
                        try:
                            data = data[ours.send(data) :]
                        except BlockingIOError:
                            await anyio.wait_writable(ours)
                        except OSError:
                            return  # the sandbox stopped reading

    def close_stdin() -> None:
        feeding.cancel()
        with contextlib.suppress(OSError):
            ours.shutdown(socket.SHUT_WR)  # EOF on the sandbox's stdin

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(sandbox)
            tg.start_soon(feed)
            try:
                async with ClientSession(session_in, session_out) as session:
                    try:
                        await session.initialize()
                        out.result = await session.send_request(
                            types.CallToolRequest(
                                params=types.CallToolRequestParams(name=tool, arguments=arguments)
                            ),
                            types.CallToolResult,
                        )
                    except MCPError as e:
                        out.failure = e.error.message
            except Exception as e:  # the server is untrusted: any misstep is its error
                out.failure = f"the tool's MCP server answered out of protocol ({type(e).__name__})"
            finally:
                close_stdin()  # EOF: the server's cue to exit
                session_out.close()
                session_in.close()  # later output from the sandbox is dropped, never queued
            with anyio.move_on_after(EXIT_GRACE_SECONDS):
                await finished.wait()
            if not finished.is_set():
                if stop is not None:
                    stop.set()
                tg.cancel_scope.cancel()
    except BaseException:
        if stop is not None:
            stop.set()
        raise
    finally:
        close_stdin()
        ours.close()
        out.stderr = stderr.getvalue()
    return out
