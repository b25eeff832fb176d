"""Talking to the person at the terminal: passwords and yes/no questions.

Non-interactive use never blocks on a prompt: without a terminal, a question
is answered "no" and a password must come from the environment.
"""

from __future__ import annotations

import getpass
import os
import sys
from typing import TYPE_CHECKING

from mppoci.app import UserInputError, terminal_safe
from mppoci.cli.output import echo

if TYPE_CHECKING:
    from mppoci.app import ApprovalQuestion, SignerAnswer, SignerQuestion

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


class TerminalPrompter:
    """The person at this terminal answers (conventions: the first-use and
    approval screens). Without a terminal every answer is "no", as with
    :data:`mppoci.app.FAIL_CLOSED`, and nothing is printed."""

    how = "terminal"

    def trust_signer(self, question: SignerQuestion) -> SignerAnswer:
        from mppoci.app import SignerAnswer

        if not interactive():
            return SignerAnswer.NO
        package = terminal_safe(question.package)
        publisher = terminal_safe(question.publisher)
        echo(
            f"\n{package} is signed by a key you have not trusted before:\n"
            f"  publisher:   {publisher}\n"
            f"  key id:      {question.key_id}\n"
            f"  fingerprint: {question.fingerprint}\n"
            f"  package:     {terminal_safe(question.subject)}\n"
            "Compare the key id with the one the publisher gives you out of band.",
            err=True,
        )
        if question.known_keys:
            # A new key for a publisher you know: a rotation, or someone else
            # signing in their name. Say so before the question.
            echo(
                f"WARNING: you already trust {len(question.known_keys)} other key(s) for "
                f"{publisher} or {package} ({', '.join(question.known_keys)}). A different key "
                "is a rotation only if the publisher says so; otherwise someone else signed "
                "this in their name.",
                err=True,
            )
        if not confirm(f"Trust this key for {question.package} (this package only)?"):
            return SignerAnswer.NO
        if confirm(f"Also trust it for every {question.publisher}/* package?"):
            return SignerAnswer.PUBLISHER
        return SignerAnswer.PACKAGE

    def approve(self, question: ApprovalQuestion) -> bool:
        if not interactive():
            return False
        show_permissions(question)
        return confirm("\nAllow this package to run with these permissions?")


def show_permissions(question: ApprovalQuestion) -> None:
    """The approval screen: every sentence the approval binds, and what
    changed since the last approval."""

    def write(line: str) -> None:
        echo(line, err=True, nl=False)

    write(
        f"\n{terminal_safe(question.package)} {terminal_safe(question.version)} by "
        f"{terminal_safe(question.publisher)} asks to:\n"
    )
    for line in question.lines:
        write(f"  - {terminal_safe(line)}\n")
    if question.changed:
        write("\nCompared with what you approved before:\n")
        for line in question.added:
            write(f"  + {terminal_safe(line)}\n")
        for line in question.removed:
            write(f"  - {terminal_safe(line)}\n")
        if not question.added and not question.removed:
            write(
                "  (the same sentences, but your approval was recorded by an older mppoci "
                "that did not bind all of them; approve again)\n"
            )
