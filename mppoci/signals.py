"""Termination signals around work that must finish or be recorded: turn
SIGTERM and SIGHUP into an exception (so cleanup runs), or hold every stop
signal back until a state change and its audit record are both written."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from mppoci.errors import Terminated

_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def interruption(error: BaseException) -> str | None:
    """The signal's name when ``error`` is Ctrl-C or a termination, else None."""
    if isinstance(error, KeyboardInterrupt):
        return "SIGINT"
    if isinstance(error, Terminated):
        return signal.Signals(error.signum).name
    return None


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and terminations back while cleaning up (removing the
    container, writing the run's record); they are delivered afterwards.

    Python runs signal handlers in the main thread only, so elsewhere there is
    nothing to hold back. (Blocking the signals would not do: the kernel hands
    them to another thread and Python still runs the handler here.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def hold(signum: int, frame: object) -> None:
        pending.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        for signum in dict.fromkeys(pending):
            signal.raise_signal(signum)


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into an exception while a sandbox runs, so the
    ``finally`` that removes the container runs; they would otherwise end the
    interpreter at once and leave the tool running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise Terminated(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
