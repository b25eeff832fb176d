"""`mppoci serve`: the declared tools of verified, approved packages as one
MCP server over stdio (the `mcp` SDK's low-level server).

At start every package is verified from its bytes and must already be
approved (stdio has no prompt); a runtime image or binding that every call
would miss is refused then too. Each call then:

1. checks the arguments against the tool's declared input schema;
2. verifies the package again from its bytes and checks its approval (the
   gate is cheap, and a revoked key or approval stops the next call);
3. asks the person through MCP elicitation when the tool requires
   confirmation (:mod:`mppoci.hosts.confirm`) - a client that cannot ask
   gets a refusal, never a silent run;
4. runs in a fresh sandbox: taken from the package's pool of prepared ones
   (:mod:`mppoci.hosts.pool`), or, for packages with egress or storage, a
   full `mppoci run` through :func:`mppoci.app.execute`; `cli` packages get
   the call as JSON on stdin, `mcp` packages are proxied
   (:mod:`mppoci.hosts.proxy`);
5. is written to the audit log (``tool.call``): allowed, refused or failed.

Verifying, approval and runs go through the use cases of :mod:`mppoci.app`
with the host's session, as the CLI's do; nobody is asked anything (the
session's prompter is :data:`mppoci.app.FAIL_CLOSED`).
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import anyio
import anyio.to_thread
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.shared.exceptions import MCPError, NoBackChannelError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mppoci import __version__
from mppoci.app.approving import require_approval
from mppoci.app.running import execute
from mppoci.app.session import Session
from mppoci.app.verifying import verify_audited
from mppoci.audit import events
from mppoci.engine.protocol import Engine, Listed
from mppoci.errors import EngineRefusedError, Error, UserInputError
from mppoci.hosts import confirm, content, proxy
from mppoci.hosts.naming import Exposed, expose
from mppoci.hosts.pool import DEFAULT_POOL_SIZE, Pool, Sandboxes
from mppoci.manifest import Manifest, Protocol
from mppoci.package.stored import StoredPackage
from mppoci.sandbox.docker_runner import RunResult
from mppoci.sandbox.launch import RunRequest, refuse_at_start
from mppoci.trust.gate import Verified

INSTRUCTIONS = (
    "Tools from signed mppoci packages. Every call runs in a fresh, locked-down "
    "container with only the permissions its package declares and the user approved; "
    "tools that may change things ask the user to confirm first."
)


class CallOutcome(StrEnum):
    """``outcome`` values of the ``tool.call`` audit event."""

    OK = "ok"  # the tool ran and answered
    ERROR = "error"  # the tool ran and reported an error (non-zero exit, isError)
    TIMEOUT = "timeout"
    OOM = "oom"
    REFUSED = "refused"  # mppoci or the person said no; nothing ran
    INVALID = "invalid-arguments"  # the arguments do not fit the schema; nothing ran
    FAILED = "failed"  # mppoci could not run it (engine, limits)
    CANCELLED = "cancelled"  # the client gave up on the call
    INTERRUPTED = "interrupted"  # mppoci serve was stopped (a signal) during the call


@dataclass(slots=True)
class Served:
    """One package being served."""

    reference: str
    package: StoredPackage  # as verified at start
    request: RunRequest
    sandboxes: Sandboxes | None = None  # None: egress or storage, run through app.execute
    pool: Pool | None = None

    @property
    def manifest(self) -> Manifest:
        return self.package.manifest


@dataclass(slots=True)
class _Call:
    """One tool call under way, for its audit record."""

    served: Served
    exposed: Exposed
    args_digest: str
    started: float
    confirmed: bool | None = None


@dataclass(slots=True)
class _Answer:
    result: types.CallToolResult
    outcome: CallOutcome
    exit_code: int | None = None
    error: str | None = None


def _direct(manifest: Manifest) -> bool:
    """Egress and storage need per-run resources (a network and gateway, a
    mounted filesystem), which is what `mppoci run` sets up."""
    return bool(manifest.permissions.egress or manifest.permissions.storage)


def split_bindings(
    manifests: Sequence[Manifest],
    mounts: Mapping[str, str],
    env: Mapping[str, str | None],
) -> list[RunRequest]:
    """Give each package the --mount and --env values it declares.

    Raises UserInputError for a value no served package declares."""
    requests = []
    used: set[str] = set()
    for m in manifests:
        fs = {g.name for g in m.permissions.filesystem}
        names = {v.name for v in m.permissions.env}
        mine_mounts = {k: v for k, v in mounts.items() if k in fs}
        mine_env = {k: v for k, v in env.items() if k in names}
        used |= {f"--mount {k}" for k in mine_mounts} | {f"--env {k}" for k in mine_env}
        requests.append(RunRequest(mounts=mine_mounts, env=mine_env))
    unused = sorted(({f"--mount {k}" for k in mounts} | {f"--env {k}" for k in env}) - used)
    if unused:
        raise UserInputError(
            f"no package being served declares {', '.join(unused)}",
            hint="see what each declares with `mppoci policy show REF`",
        )
    return requests


@dataclass
class Host:
    """The MCP server's state: the packages, their tools and pools."""

    session: Session  # its prompter asks nobody
    served: list[Served]
    tools: dict[str, Exposed]
    client: Engine | None = None
    report: Callable[[str], None] = lambda _: None
    tickets: confirm.Tickets = field(default_factory=confirm.Tickets)
    _stops: set[threading.Event] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Calls not yet audited: written by the call itself, or by interrupted().
    _unaudited: dict[int, _Call] = field(default_factory=dict)

    # --- MCP handlers -------------------------------------------------------

    def listing(self) -> list[types.Tool]:
        out = []
        for name, exposed in self.tools.items():
            a = exposed.tool.annotations
            out.append(
                types.Tool(
                    name=name,
                    title=a.title,
                    description=exposed.tool.description,
                    input_schema=exposed.tool.input_schema,
                    annotations=types.ToolAnnotations(
                        title=a.title,
                        read_only_hint=a.read_only_hint,
                        destructive_hint=a.destructive_hint,
                        idempotent_hint=a.idempotent_hint,
                        open_world_hint=a.open_world_hint,
                    ),
                )
            )
        return out

    async def list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=self.listing())

    async def call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        exposed = self.tools.get(params.name)
        if exposed is None:
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"unknown tool {params.name!r}",
                data={"tools": sorted(self.tools)},
            )
        served = self.served[exposed.package]
        arguments = dict(params.arguments or {})
        args_digest = content.arguments_digest(arguments)
        started = time.monotonic()
        confirmed: bool | None = None
        call = _Call(served, exposed, args_digest, started)
        with self._lock:
            self._unaudited[id(call)] = call

        async def audit(answer: _Answer) -> types.CallToolResult:
            call.confirmed = confirmed
            await anyio.to_thread.run_sync(self._audit_once, call, answer)
            return answer.result

        try:
            problem = content.argument_problem(exposed.tool.input_schema, arguments)
            if problem is not None:
                return await audit(
                    _Answer(
                        content.error_result(f"invalid arguments for {exposed.name}: {problem}"),
                        CallOutcome.INVALID,
                        error="the arguments do not match the tool's input schema",
                    )
                )
            try:
                verified = await anyio.to_thread.run_sync(self._gate, served)
            except Error as e:
                return await audit(
                    _Answer(
                        content.error_result(
                            f"mppoci refused to run {exposed.name}: {e.diagnostics()}"
                        ),
                        CallOutcome.REFUSED,
                        error=e.message,
                    )
                )
            if exposed.tool.requires_confirmation:
                decision = await self._confirm(ctx, params, served, exposed, arguments, args_digest)
                if isinstance(decision, types.InputRequiredResult):
                    with self._lock:  # not a call yet: the client asks and comes back
                        self._unaudited.pop(id(call), None)
                    return decision
                confirmed, refusal = decision
                if not confirmed:
                    return await audit(
                        _Answer(content.error_result(refusal), CallOutcome.REFUSED, error=refusal)
                    )
            return await audit(await self._run(served, verified, exposed, arguments))
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await audit(_Answer(content.error_result("cancelled"), CallOutcome.CANCELLED))
            raise
        except Exception as e:  # a bug or a vanished engine: still one audited answer
            # The type only, as the CLI does: an exception's text may carry secrets.
            what = f"internal error ({type(e).__name__})"
            self.report(f"{exposed.name}: {what}")
            text = f"mppoci could not run {exposed.name}: {what}"
            return await audit(_Answer(content.error_result(text), CallOutcome.FAILED, error=what))

    # --- the steps ------------------------------------------------------------

    def _gate(self, served: Served) -> Verified:
        verified = verify_audited(self.session, served.package.digest)
        if verified.package is None:  # cannot happen for a digest that loaded as a package
            raise UserInputError(f"{served.reference} is no longer an mppoci package")
        require_approval(self.session, verified.package, reference=served.reference)
        return verified

    async def _confirm(
        self,
        ctx: ServerRequestContext[Any, Any],
        params: types.CallToolRequestParams,
        served: Served,
        exposed: Exposed,
        arguments: dict[str, Any],
        args_digest: str,
    ) -> tuple[bool, str] | types.InputRequiredResult:
        if not confirm.supports_form(ctx.session.client_capabilities):
            return False, (
                f"The tool did not run: {exposed.name} is not read-only, so mppoci needs the "
                "user's confirmation, and this MCP client cannot ask (it did not declare the "
                "elicitation capability). Use a client that supports MCP elicitation."
            )
        unshowable = confirm.too_large_to_show(arguments)
        if unshowable is not None:
            return False, confirm.refusal(None, unshowable)
        message = confirm.question(served.manifest, exposed.tool, arguments)
        answer: types.ElicitResult | None
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS or not ctx.session.can_send_request:
            if params.request_state is None:
                return types.InputRequiredResult(
                    input_requests={confirm.INPUT_KEY: confirm.elicitation(message)},
                    request_state=self.tickets.issue(exposed.name, args_digest),
                )
            if not self.tickets.redeem(params.request_state, exposed.name, args_digest):
                return False, confirm.refusal(
                    None, "the confirmation does not match this call (expired, reused or altered)"
                )
            given = (params.input_responses or {}).get(confirm.INPUT_KEY)
            answer = given if isinstance(given, types.ElicitResult) else None
        else:
            try:
                answer = await ctx.session.elicit_form(
                    message, confirm.requested_schema(), related_request_id=ctx.request_id
                )
            except (MCPError, NoBackChannelError, ValueError) as e:
                return False, confirm.refusal(None, f"the client could not ask the user ({e})")
        if answer is not None and confirm.answered_yes(answer):
            return True, ""
        return False, confirm.refusal(answer)

    async def _run(
        self, served: Served, verified: Verified, exposed: Exposed, arguments: dict[str, Any]
    ) -> _Answer:
        stop = threading.Event()
        with self._lock:
            self._stops.add(stop)
        try:
            if served.manifest.protocol is Protocol.MCP:
                return await self._run_mcp(served, verified, exposed, arguments, stop)
            return await self._run_cli(served, verified, exposed, arguments, stop)
        except anyio.get_cancelled_exc_class():
            stop.set()
            raise
        finally:
            with self._lock:
                self._stops.discard(stop)

    def _runner(self, served: Served, verified: Verified, stop: threading.Event) -> proxy.Runner:
        sandboxes, pool = served.sandboxes, served.pool
        if sandboxes is not None and pool is not None:

            def pooled(stdin: Any, stdout: Any, stderr: Any) -> RunResult:
                prepared = pool.take()
                return sandboxes.run(prepared, stdin=stdin, stdout=stdout, stderr=stderr, stop=stop)

            return pooled

        def direct(stdin: Any, stdout: Any, stderr: Any) -> RunResult:
            return execute(
                self.session, verified, served.request, stdin=stdin, stdout=stdout, stderr=stderr
            )

        return direct

    async def _run_cli(
        self,
        served: Served,
        verified: Verified,
        exposed: Exposed,
        arguments: dict[str, Any],
        stop: threading.Event,
    ) -> _Answer:
        runner = self._runner(served, verified, stop)
        stdin = io.BytesIO(content.tool_input(exposed.tool.name, arguments))
        stdout, stderr = proxy.Capped(), proxy.Tail()

        def run() -> RunResult:
            return runner(stdin, proxy.as_io(stdout), proxy.as_io(stderr))

        try:
            result = await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
        except Error as e:
            return _failed(exposed, e)
        output = content.ToolOutput(
            exit_code=result.exit_code,
            stdout=stdout.getvalue(),
            stderr=stderr.getvalue(),
            timed_out=result.timed_out,
            oom_killed=result.oom_killed,
        )
        resources = served.manifest.permissions.resources
        mapped = content.to_result(
            output, tool=exposed.name, timeout=resources.timeout.text, memory=resources.memory.text
        )
        return _Answer(mapped, _outcome(result, mapped), exit_code=result.exit_code)

    async def _run_mcp(
        self,
        served: Served,
        verified: Verified,
        exposed: Exposed,
        arguments: dict[str, Any],
        stop: threading.Event,
    ) -> _Answer:
        runner = self._runner(served, verified, stop)
        proxied = await proxy.call_tool(runner, exposed.tool.name, arguments, stop=stop)
        if proxied.error is not None:
            return _failed(exposed, proxied.error)
        run = proxied.run
        exit_code = run.exit_code if run is not None else None
        if proxied.result is not None:
            result = proxied.result
            return _Answer(
                result,
                CallOutcome.ERROR if result.is_error else CallOutcome.OK,
                exit_code=exit_code,
            )
        if run is not None and (run.timed_out or run.oom_killed or run.exit_code != 0):
            resources = served.manifest.permissions.resources
            output = content.ToolOutput(
                exit_code=run.exit_code,
                stdout=b"",
                stderr=proxied.stderr,
                timed_out=run.timed_out,
                oom_killed=run.oom_killed,
            )
            mapped = content.to_result(
                output,
                tool=exposed.name,
                timeout=resources.timeout.text,
                memory=resources.memory.text,
            )
            return _Answer(
                mapped, _outcome(run, mapped), exit_code=exit_code, error=proxied.failure
            )
        tail = content.stderr_tail(proxied.stderr)
        text = f"{exposed.name}: {proxied.failure or 'the tool gave no answer'}"
        mapped = content.error_result(f"{text}\nstderr:\n{tail}" if tail else text)
        return _Answer(
            mapped, CallOutcome.ERROR, exit_code=exit_code, error=proxied.failure or None
        )

    def _audit_once(self, call: _Call, answer: _Answer) -> None:
        with self._lock:
            if self._unaudited.pop(id(call), None) is None:
                return  # interrupted() has recorded it already
        self._audit(call, answer.outcome, exit_code=answer.exit_code, error=answer.error)

    def _audit(
        self, call: _Call, outcome: CallOutcome, *, exit_code: int | None, error: str | None
    ) -> None:
        events.tool_call(
            self.session.locations,
            package=call.served.manifest.name,
            version=call.served.manifest.version,
            digest=call.served.package.digest,
            tool=call.exposed.name,
            args_digest=call.args_digest,
            outcome=outcome.value,
            duration_ms=int((time.monotonic() - call.started) * 1000),
            confirmed=call.confirmed,
            exit_code=exit_code,
            error=error,
        )

    def interrupted(self, signal_name: str) -> None:
        """Record every call still under way as interrupted (mppoci serve is
        being stopped); their own records, should they come, are not written."""
        with self._lock:
            calls = list(self._unaudited.values())
            self._unaudited.clear()
        for call in calls:
            self._audit(
                call, CallOutcome.INTERRUPTED, exit_code=None, error=f"stopped by {signal_name}"
            )

    # --- serving ----------------------------------------------------------------

    def server(self) -> Server[Any]:
        return Server(
            "mppoci",
            version=__version__,
            instructions=INSTRUCTIONS,
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
        )

    async def serve_stdio(self) -> None:
        """Serve MCP on stdin/stdout until the client closes stdin."""
        from mcp.server.stdio import stdio_server

        server = self.server()
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    def close(self) -> None:
        """Stop running calls and remove every container this host made:
        prepared, running, finishing. Idempotent."""
        with self._lock:
            stops = list(self._stops)
        for stop in stops:
            stop.set()
        for served in self.served:
            if served.pool is not None:
                served.pool.close()
        for served in self.served:
            if served.sandboxes is not None:
                served.sandboxes.close()
        if self.client is not None:
            _remove_ours(self.client)


def _outcome(result: RunResult, mapped: types.CallToolResult) -> CallOutcome:
    if result.timed_out:
        return CallOutcome.TIMEOUT
    if result.oom_killed:
        return CallOutcome.OOM
    return CallOutcome.ERROR if mapped.is_error else CallOutcome.OK


def _failed(exposed: Exposed, e: Error) -> _Answer:
    return _Answer(
        content.error_result(f"mppoci could not run {exposed.name}: {e.diagnostics()}"),
        CallOutcome.FAILED,
        error=e.message,
    )


def _remove_ours(engine: Engine) -> None:
    """Remove the containers and networks labelled as this process's: what
    calls through `app.execute` were still using, or a sandbox that was being
    prepared at that moment."""
    from mppoci.egress.network import OWNER_LABEL, owner

    mine = f"{OWNER_LABEL}={owner()}"
    with contextlib.suppress(EngineRefusedError):
        # One list call: no inspect per container, which a concurrent removal would fail
        containers = engine.containers(mine)

        def remove(container: Listed) -> None:
            with contextlib.suppress(EngineRefusedError):
                engine.remove_container(container.id)

        if containers:
            with ThreadPoolExecutor(max_workers=8) as removers:
                list(removers.map(remove, containers))
        for network in engine.networks(mine):
            with contextlib.suppress(EngineRefusedError):
                engine.remove_network(network.id)


def open_host(
    session: Session,
    references: Sequence[str],
    *,
    pool_size: int = DEFAULT_POOL_SIZE,
    mounts: Mapping[str, str] | None = None,
    env: Mapping[str, str | None] | None = None,
    report: Callable[[str], None] = lambda _: None,
) -> Host:
    """Verify, check approvals, name the tools, check what every call needs,
    and start the pools. Nobody is asked to trust a key or approve a
    package: the host's session asks nobody, whatever ``session`` says.

    Raises mppoci.errors.Error subclasses: NotFoundError, VerificationError,
    NotApprovedError, UserInputError (names that collide, bindings nobody
    declares), PolicyError, RuntimeEngineError."""
    from mppoci.app.prompter import FAIL_CLOSED
    from mppoci.app.references import pinned, resolve_local
    from mppoci.app.verifying import open_digest
    from mppoci.egress.network import sweep
    from mppoci.engine.docker_engine import connect

    session = replace(session, prompter=FAIL_CLOSED)
    # Every reference resolved before any is verified.
    wanted = [(r, resolve_local(session, pinned(session, r))) for r in references]
    if pool_size < 0:
        raise UserInputError(f"--pool {pool_size}: the pool size cannot be negative")
    packages: list[tuple[str, Verified, StoredPackage]] = []
    for reference, digest in wanted:
        verified = open_digest(session, digest)
        assert verified.package is not None
        require_approval(session, verified.package, reference=reference)
        packages.append((reference, verified, verified.package))
    manifests = [p.manifest for _, _, p in packages]
    tools = expose(manifests)
    requests = split_bindings(manifests, dict(mounts or {}), dict(env or {}))
    for manifest, request in zip(manifests, requests, strict=True):
        refuse_at_start(manifest, request)
    client = connect(environ=session.environ)
    # What killed mppoci processes on this host left behind; best effort (a
    # container that another run removes while the sweep lists it is NotFound).
    with contextlib.suppress(EngineRefusedError):
        sweep(client)
    served: list[Served] = []
    host = Host(session=session, served=served, tools=tools, client=client, report=report)
    store, locations, environ = session.store, session.locations, session.environ
    try:
        for (reference, verified, package), request in zip(packages, requests, strict=True):
            item = Served(reference, package, request)
            if _direct(package.manifest):
                _check_direct(session, client, verified, request)
            else:
                item.sandboxes = Sandboxes(client, store, locations, package, request, environ)
                item.sandboxes.check()
                item.pool = Pool(item.sandboxes, pool_size, report=report)
            served.append(item)
        for item in served:
            if item.pool is not None:
                item.pool.start()
    except BaseException:
        host.close()
        raise
    return host


def _check_direct(
    session: Session, client: Engine, verified: Verified, request: RunRequest
) -> None:
    """What `mppoci run` would refuse for every call of a package with egress
    or storage: unbound required variables, refused folders, a missing image."""
    from mppoci.app.planning import plan_sandbox
    from mppoci.sandbox.launch import check_runtime

    check_runtime(client, plan_sandbox(session, verified, request, placeholders=False).spec)
    assert verified.package is not None
    if verified.package.manifest.permissions.egress:
        from mppoci.egress.pin import gateway_image

        gateway_image(session.locations, session.environ)
