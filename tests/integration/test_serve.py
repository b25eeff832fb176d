"""`mppoci serve` with a real MCP client: the SDK's stdio client spawns the
command, and every call runs in a real sandbox (busybox for `cli` tools, the
python3 runtime for an `mcp` package proxied through the sandbox).

Each package carries a random file, so its digest is unique to this run and
the "nothing left behind" checks only see this run's containers."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import docker
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext, ClientSession, ElicitationFnT
from mcp.client.stdio import StdioServerParameters, stdio_client

from mppoci.hosts.confirm import SHOWN_VALUES
from tests.conftest import MPPOCI
from tests.engine_listing import list_containers

pytestmark = pytest.mark.integration
PASSWORD = "serve-tests"
DIGEST_LABEL = "dev.mppoci.digest"

ECHO = """\
schemaVersion: 1
name: acme/echo
version: 1.0.0
description: Echo tools on busybox.
authors: [Ada]
license: MIT
runtime: busybox
entrypoint: ["/bin/sh", "/pkg/tool.sh"]
protocol: cli
tools:
  - name: say
    description: Say the text back.
    inputSchema:
      type: object
      properties: {text: {type: string}}
      required: [text]
    annotations: {readOnlyHint: true, title: Say it}
  - name: wipe
    description: Pretend to wipe everything (destructive).
  - name: crash
    description: Fail with exit code 3.
    annotations: {readOnlyHint: true}
  - name: slow
    description: Sleep past the timeout.
    annotations: {readOnlyHint: true}
permissions:
  resources: {timeout: 2s}
"""

# Reads the call's JSON from stdin with busybox tools, and answers.
TOOL_SH = """\
#!/bin/sh
input=$(cat)
tool=$(echo "$input" | sed -n 's/.*"tool": *"\\([^"]*\\)".*/\\1/p')
case "$tool" in
  say) printf '%s' "$(echo "$input" | sed -n 's/.*"text": *"\\([^"]*\\)".*/\\1/p')" ;;
  wipe) echo "wiped" ;;
  crash) echo "something broke" >&2; exit 3 ;;
  slow) sleep 30 ;;
esac
"""

ADDER = """\
schemaVersion: 1
name: acme/adder
version: 1.0.0
description: An MCP server that adds, on the python3 runtime.
authors: [Ada]
license: MIT
runtime: python3
entrypoint: ["python3", "/pkg/server.py"]
protocol: mcp
tools:
  - name: add
    description: Add two numbers.
    inputSchema:
      type: object
      properties: {a: {type: number}, b: {type: number}}
      required: [a, b]
    annotations: {readOnlyHint: true}
  - name: fail
    description: Exit before answering.
    annotations: {readOnlyHint: true}
  - name: hang
    description: Never answer.
    annotations: {readOnlyHint: true}
permissions:
  resources: {timeout: 3s}
"""

# A tiny MCP server on the standard library only: newline-delimited JSON-RPC.
SERVER_PY = """\
import contextlib
import json
import sys
import time

TOOLS = [
    {"name": "add", "description": "Add two numbers.", "inputSchema": {"type": "object"}},
    {"name": "fail", "description": "Exit before answering.", "inputSchema": {"type": "object"}},
    {"name": "hang", "description": "Never answer.", "inputSchema": {"type": "object"}},
]


def send(message):
    sys.stdout.write(json.dumps(message) + "\\n")
    sys.stdout.flush()


for line in sys.stdin:
    if not line.strip():
        continue
    request = json.loads(line)
    method, ident = request.get("method"), request.get("id")
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": ident, "result": {
            "protocolVersion": request["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "adder", "version": "1.0.0"}}})
    elif method == "notifications/initialized":
        pass
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": ident, "result": {"tools": TOOLS}})
    elif method == "tools/call":
        name = request["params"]["name"]
        args = request["params"].get("arguments") or {}
        if name == "fail":
            print("the adder gave up", file=sys.stderr)
            sys.exit(4)
        if name == "hang":
            print("thinking forever", file=sys.stderr, flush=True)
            time.sleep(3600)
        total = args["a"] + args["b"]
        send({"jsonrpc": "2.0", "id": ident, "result": {
            "content": [{"type": "text", "text": str(total)}],
            "structuredContent": {"sum": total}}})
    elif ident is not None:
        send({"jsonrpc": "2.0", "id": ident,
              "error": {"code": -32601, "message": "Method not found"}})
"""


def _mppoci(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MPPOCI), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "MPPOCI_HOME": str(home), "MPPOCI_PASSWORD": PASSWORD},
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


class World:
    """A mppoci home with three signed packages; two of them approved."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.digests: dict[str, str] = {}

    def publish(self, name: str, manifest: str, files: dict[str, str], approve: bool) -> None:
        folder = self.root / name.replace("/", "-")
        folder.mkdir()
        (folder / "mpp.yaml").write_text(manifest)
        for file, text in {**files, "nonce.txt": secrets.token_hex(16)}.items():
            (folder / file).write_text(text)
        self.digests[name] = _ok(_mppoci(self.home, "build", str(folder)))
        _ok(_mppoci(self.home, "sign", name, "--key", str(self.root / "k.key")))
        if approve:
            _ok(_mppoci(self.home, "approve", name, "--yes"))

    def tool_calls(self) -> list[dict[str, Any]]:
        shown = _ok(_mppoci(self.home, "audit", "show", "--event", "tool", "--json"))
        return [r["data"] for r in json.loads(shown)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> World:
    subprocess.run([str(MPPOCI), "runtime", "build", "busybox"], check=True, capture_output=True)
    inspect = ["docker", "image", "inspect", "mppoci-runtime/python3:latest"]
    if subprocess.run(inspect, capture_output=True, check=False).returncode != 0:
        # Built once (about a minute with debootstrap), reused afterwards.
        subprocess.run(
            [str(MPPOCI), "runtime", "build", "python3"], check=True, capture_output=True
        )
    w = World(tmp_path_factory.mktemp("serve"))
    _ok(_mppoci(w.home, "key", "generate", "--output-key-prefix", str(w.root / "k")))
    _ok(_mppoci(w.home, "trust", "add", str(w.root / "k.pub"), "--publisher", "acme"))
    w.publish("acme/echo", ECHO, {"tool.sh": TOOL_SH}, approve=True)
    w.publish("acme/adder", ADDER, {"server.py": SERVER_PY}, approve=True)
    unapproved = ECHO.replace("name: acme/echo", "name: acme/unreviewed")
    w.publish("acme/unreviewed", unapproved, {"tool.sh": TOOL_SH}, approve=False)
    return w


def _containers(docker_client: Any, world: World) -> list[Any]:
    found = []
    for digest in world.digests.values():
        found += list_containers(docker_client, {"label": f"{DIGEST_LABEL}={digest}"})
    return found


@pytest.fixture(autouse=True)
def no_container_left(world: World, docker_client: Any) -> Iterator[None]:
    """After each test, no sandbox of the test world remains: removal may
    trail the end of a session by a moment, so poll (up to ~15 s, a hang
    guard), then assert, and force-remove leftovers whatever happened."""
    yield
    try:
        deadline = time.monotonic() + 15
        while _containers(docker_client, world) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _containers(docker_client, world) == []
    finally:
        for container in _containers(docker_client, world):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                container.remove(force=True)


def _now() -> str:
    """A timestamp for Docker's event filter, finer than docker-py's whole seconds."""
    return f"{time.time():.9f}"


def _starts(docker_client: Any, digest: str, since: str) -> int:
    """How many sandboxes of this package were started since then."""
    events = docker_client.events(
        since=since,
        until=_now(),
        filters={"type": "container", "event": "start", "label": f"{DIGEST_LABEL}={digest}"},
        decode=True,
    )
    return sum(1 for _ in events)


def _params(world: World, *refs: str, pool: int | None = None) -> StdioServerParameters:
    extra = ["--pool", str(pool)] if pool is not None else []
    return StdioServerParameters(
        command=str(MPPOCI),
        args=["serve", *extra, *refs],
        env=_server_env(world),
    )


def _server_env(world: World) -> dict[str, str]:
    """What `mppoci serve` gets beside the SDK's default environment (which
    drops everything else): its home, and the engine under test."""
    env = {"MPPOCI_HOME": str(world.home)}
    if "DOCKER_HOST" in os.environ:
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    return env


Body = Callable[[ClientSession], Awaitable[None]]


def _session(
    world: World, refs: list[str], body: Body, *, elicitation: ElicitationFnT | None = None
) -> None:
    """Run ``body`` in a handshake-era session with `mppoci serve REFS`."""

    async def main() -> None:
        with (world.root / "serve.log").open("a") as errlog:
            async with (
                stdio_client(_params(world, *refs), errlog=errlog) as (read, write),
                ClientSession(read, write, elicitation_callback=elicitation) as session,
            ):
                await session.initialize()
                await body(session)

    anyio.run(main)


def _text(result: types.CallToolResult) -> str:
    return "".join(b.text for b in result.content if isinstance(b, types.TextContent))


asked: list[str] = []


async def _accept(
    ctx: ClientRequestContext, params: types.ElicitRequestParams
) -> types.ElicitResult:
    asked.append(params.message)
    return types.ElicitResult(action="accept", content={"confirm": True})


async def _decline(
    ctx: ClientRequestContext, params: types.ElicitRequestParams
) -> types.ElicitResult:
    asked.append(params.message)
    return types.ElicitResult(action="decline")


def test_one_package_lists_its_tools_and_runs_calls_in_sandboxes(
    world: World, docker_client: Any
) -> None:
    before = len(world.tool_calls())
    asked.clear()

    async def body(session: ClientSession) -> None:
        listed = {t.name: t for t in (await session.list_tools()).tools}
        assert list(listed) == ["say", "wipe", "crash", "slow"]
        say = listed["say"]
        assert say.description == "Say the text back."
        assert say.input_schema["required"] == ["text"]
        assert say.annotations is not None and say.annotations.read_only_hint is True
        assert say.annotations.title == "Say it"
        wipe = listed["wipe"].annotations
        assert wipe is not None and wipe.read_only_hint is False and wipe.destructive_hint is True

        result = await session.call_tool("say", {"text": "hello"})
        assert not result.is_error and _text(result) == "hello"

        result = await session.call_tool("wipe", {})  # destructive: the user is asked, says yes
        assert not result.is_error and _text(result) == "wiped\n"
        assert len(asked) == 1 and "acme/echo 1.0.0" in asked[0] and "'wipe'" in asked[0]

        crashed = await session.call_tool("crash", {})
        assert crashed.is_error
        assert "exit code 3" in _text(crashed) and "something broke" in _text(crashed)

        started = time.monotonic()
        slow = await session.call_tool("slow", {})
        assert slow.is_error and "ran out of time (2s)" in _text(slow)
        assert time.monotonic() - started < 10

        invalid = await session.call_tool("say", {})
        assert invalid.is_error and "required" in _text(invalid)

        again = await session.call_tool("say", {"text": "still here"})  # the server survived
        assert not again.is_error and _text(again) == "still here"

    _session(world, ["acme/echo"], body, elicitation=_accept)
    assert _containers(docker_client, world) == []
    calls = world.tool_calls()[before:]
    assert [(c["tool"], c["outcome"], c["confirmed"]) for c in calls] == [
        ("say", "ok", None),
        ("wipe", "ok", True),
        ("crash", "error", None),
        ("slow", "timeout", None),
        ("say", "invalid-arguments", None),
        ("say", "ok", None),
    ]
    assert all(c["digest"] == world.digests["acme/echo"] for c in calls)
    assert all(c["argsDigest"].startswith("sha256:") for c in calls)
    assert calls[2]["exitCode"] == 3 and calls[0]["durationMs"] >= 0
    assert "hello" not in json.dumps(calls)  # arguments appear as a digest only


def test_a_declined_confirmation_starts_no_container(world: World, docker_client: Any) -> None:
    before = len(world.tool_calls())
    since = _now()
    asked.clear()

    async def body(session: ClientSession) -> None:
        result = await session.call_tool("wipe", {})
        assert result.is_error and "declined" in _text(result)

    _session(world, ["acme/echo"], body, elicitation=_decline)
    assert len(asked) == 1
    assert _starts(docker_client, world.digests["acme/echo"], since) == 0
    assert _containers(docker_client, world) == []
    [call] = world.tool_calls()[before:]
    assert (call["tool"], call["outcome"], call["confirmed"]) == ("wipe", "refused", False)


def test_confirmation_question_shows_every_argument_and_refuses_too_many(
    world: World, docker_client: Any
) -> None:
    """A steered model pads the arguments so path=/ falls past what is shown,
    or sends more values than a question can show: the person sees every
    argument (escaped), and a call too large to show runs nothing."""
    before = len(world.tool_calls())
    since = _now()
    asked.clear()

    async def body(session: ClientSession) -> None:
        pushed = {"a_note": "harmless " * 100, "path": "/", "recursive": True, "z\u2028": "\x1b[2K"}
        result = await session.call_tool("wipe", pushed)
        assert result.is_error and "declined" in _text(result)
        many = {f"k{i:03}": i for i in range(SHOWN_VALUES + 1)}
        refused = await session.call_tool("wipe", many)
        assert refused.is_error and "too many to show" in _text(refused)

    _session(world, ["acme/echo"], body, elicitation=_decline)
    [message] = asked  # the over-large call was never put to the person
    assert '\n  path = "/"\n' in message and "\n  recursive = true\n" in message
    assert "\u2028" not in message and "\x1b" not in message
    assert _starts(docker_client, world.digests["acme/echo"], since) == 0
    calls = world.tool_calls()[before:]
    assert [(c["tool"], c["outcome"]) for c in calls] == [("wipe", "refused"), ("wipe", "refused")]


def test_a_client_that_cannot_ask_gets_a_refusal_never_a_silent_run(
    world: World, docker_client: Any
) -> None:
    before = len(world.tool_calls())
    since = _now()

    async def body(session: ClientSession) -> None:
        refused = await session.call_tool("wipe", {})
        assert refused.is_error and "elicitation" in _text(refused)
        assert _starts(docker_client, world.digests["acme/echo"], since) == 0
        fine = await session.call_tool("say", {"text": "read-only runs"})
        assert not fine.is_error and _text(fine) == "read-only runs"
        assert (
            _starts(docker_client, world.digests["acme/echo"], since) == 1
        )  # the filter sees starts

    _session(world, ["acme/echo"], body)  # no elicitation callback: no capability declared
    calls = world.tool_calls()[before:]
    assert [(c["tool"], c["outcome"]) for c in calls] == [("wipe", "refused"), ("say", "ok")]
    assert _containers(docker_client, world) == []


def test_two_packages_prefix_names_and_an_mcp_package_is_proxied(
    world: World, docker_client: Any
) -> None:
    before = len(world.tool_calls())

    async def body(session: ClientSession) -> None:
        names = [t.name for t in (await session.list_tools()).tools]
        assert names == [
            "echo_say",
            "echo_wipe",
            "echo_crash",
            "echo_slow",
            "adder_add",
            "adder_fail",
            "adder_hang",
        ]
        added = await session.call_tool("adder_add", {"a": 2, "b": 3.5})
        assert not added.is_error and _text(added) == "5.5"
        assert added.structured_content == {"sum": 5.5}
        failed = await session.call_tool("adder_fail", {})
        assert failed.is_error
        assert "exit code 4" in _text(failed) and "the adder gave up" in _text(failed)
        hung = await session.call_tool("adder_hang", {})
        assert hung.is_error
        assert "ran out of time (3s)" in _text(hung) and "thinking forever" in _text(hung)
        said = await session.call_tool("echo_say", {"text": "next"})
        assert not said.is_error and _text(said) == "next"
        added = await session.call_tool("adder_add", {"a": 1, "b": 1})
        assert _text(added) == "2"

    _session(world, ["acme/echo", "acme/adder"], body)
    assert _containers(docker_client, world) == []
    calls = world.tool_calls()[before:]
    assert [(c["package"], c["tool"], c["outcome"]) for c in calls] == [
        ("acme/adder", "adder_add", "ok"),
        ("acme/adder", "adder_fail", "error"),
        ("acme/adder", "adder_hang", "timeout"),
        ("acme/echo", "echo_say", "ok"),
        ("acme/adder", "adder_add", "ok"),
    ]


def test_a_2026_client_confirms_through_input_required(world: World, docker_client: Any) -> None:
    """On 2026-07-28 connections a server may not send requests: the call
    returns the elicitation embedded in InputRequiredResult, and the SDK's
    Client answers and retries."""
    before = len(world.tool_calls())
    asked.clear()

    async def main() -> None:
        with (world.root / "serve.log").open("a") as errlog:
            transport = stdio_client(_params(world, "acme/echo", pool=0), errlog=errlog)
            for answer in (_accept, _decline):
                async with Client(transport, elicitation_callback=answer) as client:
                    assert client.session.protocol_version == "2026-07-28"
                    result = await client.call_tool("wipe", {})
                    assert result.is_error is (answer is _decline)
                transport = stdio_client(_params(world, "acme/echo", pool=0), errlog=errlog)

    anyio.run(main)
    assert len(asked) == 2
    calls = world.tool_calls()[before:]
    assert [(c["outcome"], c["confirmed"]) for c in calls] == [("ok", True), ("refused", False)]
    assert _containers(docker_client, world) == []


def test_an_unapproved_package_is_refused_before_serving(world: World) -> None:
    result = subprocess.run(
        [str(MPPOCI), "serve", "acme/echo", "acme/unreviewed"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        input="",
        env={**os.environ, "MPPOCI_HOME": str(world.home)},
    )
    assert result.returncode == 1
    assert result.stdout == ""  # nothing was served
    assert "acme/unreviewed 1.0.0 has not been approved" in result.stderr
    assert "mppoci approve acme/unreviewed" in result.stderr


def test_sigterm_removes_the_prepared_sandboxes(world: World, docker_client: Any) -> None:
    digest = world.digests["acme/echo"]
    mine = {"label": f"{DIGEST_LABEL}={digest}"}
    # Only containers created after Popen count: a leftover of another test
    # must not fill the pool in this test's eyes.
    earlier = {c.id for c in docker_client.containers.list(all=True, filters=mine, sparse=True)}

    def created_since() -> list[Any]:
        listed = docker_client.containers.list(all=True, filters=mine, sparse=True)
        return [c for c in listed if c.id not in earlier]

    server = subprocess.Popen(
        [str(MPPOCI), "serve", "--pool", "3", "acme/echo"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "MPPOCI_HOME": str(world.home)},
    )
    try:
        deadline = time.monotonic() + 60
        while len(created_since()) < 3:
            assert time.monotonic() < deadline, "the pool was not filled"
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            time.sleep(0.2)
        prepared = created_since()
        assert {c.status for c in prepared} == {"created"}  # prepared, never started
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if server.poll() is None:
            server.kill()
    assert created_since() == []
    assert docker_client.containers.list(all=True, filters=mine, sparse=True) == []
    assert server.stderr is not None and b"sandboxes removed" in server.stderr.read()


def test_stopping_serve_mid_call_does_not_erase_the_call_from_the_audit_log(
    world: World, docker_client: Any
) -> None:
    # The call's own record is written when it ends; mppoci serve stopped by
    # SIGTERM never gets there, so it used to leave no trace of the call.
    sleeper = ECHO.replace("name: acme/echo", "name: acme/sleeper").replace(
        "timeout: 2s", "timeout: 120s"
    )
    world.publish("acme/sleeper", sleeper, {"tool.sh": TOOL_SH}, approve=True)
    mine = {"label": f"{DIGEST_LABEL}={world.digests['acme/sleeper']}"}
    server = subprocess.Popen(
        [str(MPPOCI), "serve", "--pool", "1", "acme/sleeper"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "MPPOCI_HOME": str(world.home)},
    )
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "slow", "arguments": {}},
        },
    ]
    try:
        assert server.stdin is not None
        server.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in messages))
        server.stdin.flush()
        deadline = time.monotonic() + 60
        while not any(c.status == "running" for c in list_containers(docker_client, mine)):
            assert time.monotonic() < deadline, "the call's sandbox never started"
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            time.sleep(0.1)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if server.poll() is None:
            server.kill()
    assert docker_client.containers.list(all=True, filters=mine, sparse=True) == []
    calls = [c for c in world.tool_calls() if c["package"] == "acme/sleeper"]
    assert [(c["tool"], c["outcome"], c.get("error")) for c in calls] == [
        ("slow", "interrupted", "stopped by SIGTERM")
    ], calls
    _ok(_mppoci(world.home, "audit", "verify"))


LISTER = """\
schemaVersion: 1
name: acme/lister
version: 1.0.0
description: Lists the folder it is given.
authors: [Ada]
license: MIT
runtime: busybox
entrypoint: ["/bin/sh", "/pkg/tool.sh"]
protocol: cli
tools:
  - name: list
    description: List /data.
    annotations: {readOnlyHint: true}
permissions:
  filesystem:
    - {name: data, path: /data, access: read, why: The files to list.}
"""


def test_folder_swapped_for_a_symlink_after_the_pool_prepared_it_is_not_bound(
    world: World, docker_client: Any, tmp_path: Path
) -> None:
    # The attack: a pooled sandbox is created with the bound folder's path;
    # replacing that folder by a symlink before the sandbox starts would make
    # the engine bind wherever the link leads (here another folder; /etc or
    # mppoci's own state would do as well).
    world.publish("acme/lister", LISTER, {"tool.sh": "cat > /dev/null\nls /data\n"}, approve=True)
    digest = world.digests["acme/lister"]
    data, other = tmp_path / "data", tmp_path / "other"
    data.mkdir()
    (data / "mine.txt").write_text("the folder the user named\n")
    other.mkdir()
    (other / "other-secret.txt").write_text("never for this tool\n")
    for folder in (tmp_path, data, other):
        folder.chmod(0o755)  # the tool runs as nobody
    params = StdioServerParameters(
        command=str(MPPOCI),
        args=["serve", "--pool", "1", "--mount", f"data={data}", "acme/lister"],
        env=_server_env(world),
    )
    mine = {"label": f"{DIGEST_LABEL}={digest}", "status": "created"}

    async def pool_ready() -> None:
        deadline = time.monotonic() + 60
        while not docker_client.containers.list(all=True, filters=mine, sparse=True):
            assert time.monotonic() < deadline, "the pool prepared no sandbox"
            await anyio.sleep(0.1)

    texts: list[tuple[bool, str]] = []

    async def main() -> None:
        with (world.root / "serve.log").open("a") as errlog:
            async with (
                stdio_client(params, errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                await pool_ready()
                control = await session.call_tool("list", {})
                texts.append((bool(control.is_error), _text(control)))
                await pool_ready()  # prepared with data's path, not started
                data.rename(tmp_path / "data.before")
                data.symlink_to(other)
                for _ in range(2):  # the prepared sandbox, then a fresh one
                    swapped = await session.call_tool("list", {})
                    texts.append((bool(swapped.is_error), _text(swapped)))

    anyio.run(main)
    assert texts[0] == (False, "mine.txt\n"), texts
    for is_error, text in texts[1:]:
        assert "other-secret.txt" not in text, texts
        assert is_error and "changed after it was checked" in text, texts
        assert f"{data} now leads to {other}" in text, texts
    assert list_containers(docker_client, {"label": f"{DIGEST_LABEL}={digest}"}) == []
    shown = _ok(_mppoci(world.home, "audit", "show", "--event", "sandbox", "--json"))
    refused = [r["data"] for r in json.loads(shown) if r["data"]["package"] == "acme/lister"]
    assert refused and all(f"{data} now leads to {other}" in r["reason"] for r in refused), refused
    calls = [c for c in world.tool_calls() if c["package"] == "acme/lister"]
    assert [c["outcome"] for c in calls] == ["ok", "failed", "failed"], calls
