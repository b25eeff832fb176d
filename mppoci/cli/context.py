"""The CLI's session: this process's environment, the root command's lock
options, and the person at the terminal as the prompter. Built once per
invocation; every command passes it to the use cases in :mod:`mppoci.app`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from mppoci.cli.output import echo

if TYPE_CHECKING:
    from mppoci.app import Session

# Set by the root command's --lock and --approved-by-lock options.
_lock_override: Path | None = None
_approved_by_lock = False
_session: Session | None = None


def set_lock_file(path: Path | None, approved_by_lock: bool = False) -> None:
    global _lock_override, _approved_by_lock, _session
    _lock_override = path
    _approved_by_lock = approved_by_lock and path is not None
    _session = None


def _note(text: str) -> None:
    echo(text, err=True)


def session() -> Session:
    """This invocation's session (built on first use)."""
    global _session
    if _session is None:
        from mppoci.app import LOCK_FILE, Session
        from mppoci.cli.prompts import TerminalPrompter

        _session = Session.open(
            os.environ,
            # Pins from ./mppoci.lock unless --lock names another; only a
            # named one can approve (--approved-by-lock).
            lock_file=_lock_override or Path.cwd() / LOCK_FILE,
            approved_by_lock=_approved_by_lock,
            prompter=TerminalPrompter(),
            notify=_note,
        )
    return _session
