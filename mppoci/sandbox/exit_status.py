"""What a tool's exit code says about how it ended.

Docker reports a process killed by signal N as exit code 128 + N. Two endings
are the sandbox's doing or often are, and get words of their own:

- ``SIGSYS`` (exit 159): the seccomp filter killed the tool. mppoci's profiles
  refuse a system call they do not allow with ``EPERM``; the kernel kills only
  for a call of another architecture (a 32-bit ``int 0x80`` on x86_64), since
  the profile lists the native one alone.
- ``SIGABRT``, ``SIGSEGV``, ``SIGBUS``, ``SIGILL``, ``SIGTRAP``: the tool
  crashed. A runtime that does not expect ``EPERM`` from a call it needs
  (Node.js without ``eventfd2`` aborts in ``uv_loop_init``) ends this way, so
  the words point at the profile without claiming it was the cause.

Pure: a number in, a value out.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

__all__ = ["Stopped", "stopped_by"]

_CRASHES = frozenset({signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGTRAP})
SECCOMP_TEXT = "stopped by the sandbox's seccomp filter (a system call it did not declare)"


@dataclass(frozen=True, slots=True)
class Stopped:
    """A tool ended by a signal: which, and what that suggests."""

    exit_code: int  # 128 + the signal's number, as Docker reports it
    signal: str  # "SIGSYS"
    by_seccomp: bool  # SIGSYS: the kernel's seccomp filter sent it
    crashed: bool  # SIGABRT, SIGSEGV...: the tool's own fault, perhaps a refused call

    def describe(self, tool: str) -> str | None:
        """One line for the person who ran ``tool``; None when the signal says nothing more
        than the exit code (SIGKILL, SIGTERM: a stop from outside)."""
        if self.by_seccomp:
            return f"{tool} was {SECCOMP_TEXT}: exit {self.exit_code} ({self.signal})"
        if self.crashed:
            return (
                f"{tool} crashed: exit {self.exit_code} ({self.signal}). The sandbox refuses "
                "the system calls its seccomp profile does not allow with EPERM (Operation "
                "not permitted), which some runtimes do not survive; "
                f"`mppoci policy show {tool}` lists what it is given"
            )
        return None


def stopped_by(exit_code: int) -> Stopped | None:
    """The signal behind ``exit_code`` (128 + N), or None for an ordinary exit."""
    if not 128 < exit_code < 128 + signal.NSIG:
        return None
    try:
        number = signal.Signals(exit_code - 128)
    except ValueError:
        return None  # a real-time signal: no name
    return Stopped(
        exit_code=exit_code,
        signal=number.name,
        by_seccomp=number is signal.SIGSYS,
        crashed=number in _CRASHES,
    )
