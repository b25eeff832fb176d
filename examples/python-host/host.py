"""A host that embeds mppoci: it opens a signed package, lets its own user
approve what the package asks for, calls the tool, and reads back what the
audit trail recorded. docs/python-api.md walks through it.

    python host.py acme/echo 'some input'

The host answers mppoci's two questions through its own user interface:
here, lines on its standard input (an IDE would show a dialog). mppoci
never approves anything by itself; without a prompter, every question is
answered "no".
"""

from __future__ import annotations

import sys

from mppoci import app


class AskMyUser:
    """The host's prompter: mppoci's questions, asked of the host's user."""

    how = "example host"  # how the audit names who approved

    def trust_signer(self, question: app.SignerQuestion) -> app.SignerAnswer:
        # This host trusts only keys its user added beforehand.
        return app.SignerAnswer.NO

    def approve(self, question: app.ApprovalQuestion) -> bool:
        name = app.terminal_safe(f"{question.package} {question.version}")
        print(f"{name} asks to:")
        for line in question.lines:
            print(f"  - {app.terminal_safe(line)}")
        print("Allow? [y/N] ", end="", flush=True)
        return sys.stdin.readline().strip().lower() in ("y", "yes")


def main(reference: str, text: str) -> int:
    session = app.Session.open(prompter=AskMyUser())
    try:
        verified = app.open_verified(session, reference)  # signature, digests, rollback
        reviewed = app.review(session, verified)
        if not reviewed.approved and not app.approve(session, reviewed):
            print(f"not approved: {reference} will not run")
            return 1
        outcome = app.run(session, reference, stdin=text.encode())
    except app.Error as e:  # every refusal mppoci makes on purpose
        print(f"refused: {e.diagnostics()}")
        return 1
    print(f"exit code {outcome.exit_code}")
    print(f"output: {app.terminal_safe(outcome.stdout.decode(errors='replace'))}")
    for record in app.audit_records(session, app.AuditFilter(package=outcome.package)):
        print(f"audit: {record['event']} {record['time']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""))
