"""Prepared sandboxes, and the pool that keeps a few ready per package.

A prepared sandbox is everything `mppoci run` does before ``start``: the
package content unpacked fresh from verified bytes into a folder of its own,
the spec compiled, the container created and its stdio attached. A call takes
one, starts it, streams stdin and stdout, and the container is removed: a
container is never started twice, so every call begins from a clean state.
While calls run, a background thread refills the pool.

Host folders are resolved once, when the host opens (what the user named and
saw checked); a later change of where a named path leads is refused, and at
start every bind source must still be the folder it was when the sandbox was
prepared (:mod:`mppoci.sandbox.binds`), or the sandbox is discarded, the call
refused and the refusal audited.

The guarantees of :func:`mppoci.sandbox.docker_runner.run_container` hold
here too, with the same helpers: the wall-clock timeout is enforced from
``start``, stdin is closed at its end (the container is created with
StdinOnce), stdout and stderr are demultiplexed as they come, and every
container this module created is removed: after its call (in the background,
so the answer does not wait for it), or when the host closes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from mppoci.audit import events
from mppoci.engine.protocol import Attached, Container, Engine
from mppoci.errors import EngineRefusedError, Error, PolicyError, RuntimeEngineError
from mppoci.locations import Locations
from mppoci.package.stored import StoredPackage
from mppoci.policy.spec import ContainerSpec
from mppoci.sandbox.binds import BoundFolder, changed, snapshot, swapped
from mppoci.sandbox.docker_runner import RunResult, start_and_stream
from mppoci.sandbox.launch import RunRequest, check_runtime, prepare_spec, unpack
from mppoci.store.layout import Store

DEFAULT_POOL_SIZE = 2
_MAX_BACKOFF = 30.0


@dataclass(slots=True)
class Prepared:
    """A created, attached, not yet started container."""

    container: Container
    attached: Attached  # holding it keeps the socket open
    folder: Path  # holds the unpacked content bound at /pkg
    timeout_seconds: float
    bound: tuple[BoundFolder, ...] = ()  # the bind sources as they were when created


class Sandboxes:
    """Creates, runs and removes the sandboxes of one package (without egress
    or storage: those need per-run resources and go through ``app.execute``).

    Every container it created and has not removed yet is tracked, so
    :meth:`close` leaves nothing behind."""

    def __init__(
        self,
        engine: Engine,
        store: Store,
        locations: Locations,
        package: StoredPackage,
        request: RunRequest,
        environ: Mapping[str, str],
    ) -> None:
        self._engine = engine
        self._store = store
        self._locations = locations
        self._package = package
        # Each named folder resolved now, once: every sandbox binds exactly that.
        self._pinned = {
            name: os.path.realpath(Path(path).expanduser()) for name, path in request.mounts.items()
        }
        self._request = replace(request, mounts=dict(self._pinned))
        self._environ = dict(environ)
        self._lock = threading.Lock()
        self._live: dict[int, Prepared] = {}
        self._removals = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mppoci-remove")
        self._closed = False

    @property
    def package(self) -> StoredPackage:
        return self._package

    def _refuse(self, why: str) -> PolicyError:
        """Audited: a host folder changed under a sandbox of this package."""
        events.sandbox_refused(
            self._locations,
            package=self._package.manifest.name,
            digest=self._package.digest,
            reason=why,
        )
        refusal = swapped(why, self._package.manifest.name)
        refusal.hint = "check who changed the folder, then restart `mppoci serve` with it"
        return refusal

    def _spec(self, content: Path) -> ContainerSpec:
        for name, pinned in self._pinned.items():
            now = os.path.realpath(pinned)
            if now != pinned:
                raise self._refuse(f"filesystem {name}: {pinned} now leads to {now}")
        return prepare_spec(
            self._package,
            self._request,
            self._locations,
            content,
            self._environ,
            run_id=secrets.token_hex(8),
        )

    def check(self) -> None:
        """Compile the spec and look for the runtime image, so that a host
        refuses at start what every call would fail on.

        Raises PolicyError, RuntimeEngineError."""
        check_runtime(self._engine, self._spec(Path("/nonexistent/pkg")))

    def prepare(self) -> Prepared:
        """Unpack, compile, create, attach. Raises Error subclasses."""
        with self._lock:
            if self._closed:
                raise RuntimeEngineError("mppoci is shutting down; no new sandbox is made")
        folder = Path(tempfile.mkdtemp(prefix="mppoci-serve-"))
        try:
            content = folder / "pkg"
            unpack(self._store, self._package, content)
            spec = self._spec(content)
            try:
                bound = snapshot(spec)
            except ValueError as e:
                raise self._refuse(str(e)) from None
            container = self._engine.create(spec)  # ImageMissingError, EngineRefusedError
            try:
                attached = container.attach()
            except BaseException as e:
                with contextlib.suppress(Exception):
                    container.remove()
                if isinstance(e, EngineRefusedError):
                    raise RuntimeEngineError(
                        f"could not attach to the sandbox: {e.explanation}"
                    ) from e
                raise
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        prepared = Prepared(container, attached, folder, spec.timeout_seconds, bound)
        with self._lock:
            closed = self._closed
            if not closed:
                self._live[id(prepared)] = prepared
        if closed:  # close() ran while this one was made: it would be missed
            self._remove(prepared)
            raise RuntimeEngineError("mppoci is shutting down; no new sandbox is made")
        return prepared

    def run(
        self,
        prepared: Prepared,
        *,
        stdin: IO[bytes] | None,
        stdout: IO[bytes],
        stderr: IO[bytes],
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> RunResult:
        """Check the bind sources, start, stream, wait; the container is then
        removed in the background. Setting ``stop`` kills it. Raises
        PolicyError (a bound folder was swapped; audited), RuntimeEngineError
        (or what the output streams raise)."""
        try:
            why = changed(prepared.bound, [str(p) for p in self._locations.protected()])
            if why is not None:
                raise self._refuse(why)
            return start_and_stream(
                prepared.container,
                prepared.attached.sock,
                timeout_seconds=prepared.timeout_seconds,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                clock=clock,
                stop=stop,
            )
        finally:
            self.retire(prepared)

    def retire(self, prepared: Prepared) -> None:
        """Remove a sandbox, in the background unless the host is closing."""
        with self._lock:
            closed = self._closed
        if closed:
            self._remove(prepared)
            return
        try:
            self._removals.submit(self._remove, prepared)
        except RuntimeError:  # the executor shut down meanwhile
            self._remove(prepared)

    def _remove(self, prepared: Prepared) -> None:
        with contextlib.suppress(Exception):
            prepared.container.remove()
        with contextlib.suppress(OSError):
            prepared.attached.sock.close()
        shutil.rmtree(prepared.folder, ignore_errors=True)
        with self._lock:
            self._live.pop(id(prepared), None)

    def live(self) -> int:
        with self._lock:
            return len(self._live)

    def close(self) -> None:
        """Remove every container still here (prepared or finishing). Idempotent."""
        with self._lock:
            self._closed = True
        self._removals.shutdown(wait=True)
        with self._lock:
            left = list(self._live.values())
        if left:
            with ThreadPoolExecutor(max_workers=8) as removers:
                list(removers.map(self._remove, left))


class Pool:
    """Keeps up to ``size`` prepared sandboxes of one package ready.

    :meth:`take` hands out a ready one, or prepares one on the spot when none
    is (always, with size 0). A background thread refills; when preparing
    fails (the engine is down, say) it reports and retries with a backoff, and
    the calls meanwhile prepare their own and see the error themselves."""

    def __init__(
        self, sandboxes: Sandboxes, size: int, *, report: Callable[[str], None] = lambda _: None
    ) -> None:
        self._sandboxes = sandboxes
        self._size = max(0, size)
        self._report = report
        self._ready: deque[Prepared] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    @property
    def size(self) -> int:
        return self._size

    def ready(self) -> int:
        with self._cond:
            return len(self._ready)

    def start(self) -> None:
        if self._size and self._thread is None:
            name = f"mppoci-pool-{self._sandboxes.package.manifest.name}"
            self._thread = threading.Thread(target=self._refill, name=name, daemon=True)
            self._thread.start()

    def take(self) -> Prepared:
        """A prepared sandbox for one call. Raises Error subclasses."""
        with self._cond:
            if self._ready:
                prepared = self._ready.popleft()
                self._cond.notify_all()
                return prepared
        return self._sandboxes.prepare()

    def _refill(self) -> None:
        backoff = 1.0
        while True:
            with self._cond:
                while not self._closed and len(self._ready) >= self._size:
                    self._cond.wait()
                if self._closed:
                    return
            try:
                prepared = self._sandboxes.prepare()
            except Exception as e:  # keep refilling; calls surface their own errors
                detail = e.message if isinstance(e, Error) else type(e).__name__
                self._report(f"could not prepare a sandbox: {detail}; retrying in {backoff:g} s")
                with self._cond:
                    self._cond.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                continue
            backoff = 1.0
            with self._cond:
                if not self._closed:
                    self._ready.append(prepared)
                    continue
            self._sandboxes.retire(prepared)
            return

    def close(self) -> None:
        """Stop refilling and remove the sandboxes that were ready. Idempotent."""
        with self._cond:
            self._closed = True
            left = list(self._ready)
            self._ready.clear()
            self._cond.notify_all()
        for prepared in left:
            self._sandboxes.retire(prepared)
        if self._thread is not None:
            self._thread.join(timeout=30)
