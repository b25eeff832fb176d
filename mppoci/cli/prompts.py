"""Talking to the person at the terminal: passwords and yes/no questions.

Non-interactive use never blocks on a prompt: without a terminal, a question
is answered "no" and a password must come from the environment.
"""

from __future__ import annotations

import getpass
import os
import sys

from mppoci.errors import UserInputError
from mppoci.text import terminal_safe

PASSWORD_VARIABLES = ("MPPOCI_PASSWORD", "COSIGN_PASSWORD")


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def password(what: str, *, confirm: bool = False) -> bytes:
    """The key password: from MPPOCI_PASSWORD or COSIGN_PASSWORD, else a prompt.

    Raises UserInputError when neither is available or confirmations differ."""
    for name in PASSWORD_VARIABLES:
        if name in os.environ:
            return os.environ[name].encode("utf-8")
    if not interactive():
        raise UserInputError(
            f"a password is needed for {what} and there is no terminal to ask on",
            hint="set MPPOCI_PASSWORD (or COSIGN_PASSWORD) in the environment",
        )
    first = getpass.getpass(f"Password for {terminal_safe(what)}: ")
    if confirm and getpass.getpass("Again, to confirm: ") != first:
        raise UserInputError("the two passwords differ", hint="run the command again")
    return first.encode("utf-8")


def confirm(question: str) -> bool:
    """Ask a yes/no question on the terminal; "no" without one."""
    if not interactive():
        return False
    sys.stderr.write(f"{terminal_safe(question, multiline=True)} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")
