"""mppoci's application layer: the use cases every front end calls.

The CLI, ``mppoci serve`` and a Python host that embeds mppoci all go
through here, so they get the same checks, the same refusals and the same
audit records. A front end builds one :class:`Session` (where mppoci keeps
its state, the environment it may read, the lock file, who answers the two
questions only a person answers) and passes it to each use case::

    from mppoci.app import Session, open_verified, review, approve, run

    session = Session.open(prompter=MyPrompter())
    verified = open_verified(session, "acme/word-count")
    approve(session, review(session, verified))
    outcome = run(session, "acme/word-count", stdin=b'{"text": "a b"}')

docs/python-api.md walks through a whole host. Use cases return values and
raise :class:`mppoci.errors.Error` subclasses; they never print, never exit
and never ask anyone but the session's prompter.

Names are loaded on first use, so that importing this package costs nothing
a command does not use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mppoci.app.approving import (
        Review,
        approvals,
        approve,
        authorize,
        require_approval,
        review,
        revoke,
    )
    from mppoci.app.prompter import (
        FAIL_CLOSED,
        ApprovalQuestion,
        FailClosed,
        Prompter,
        SignerAnswer,
        SignerQuestion,
    )
    from mppoci.app.references import check_remote_pin, pinned, resolve_local
    from mppoci.app.running import RunOutcome, execute, run
    from mppoci.app.session import Session
    from mppoci.app.verifying import (
        audit_refusal,
        load_audited,
        open_verified,
        remember,
        trust_on_first_use,
        verify_audited,
        verify_digest,
    )
    from mppoci.errors import (
        DigestMismatchError,
        Error,
        NotApprovedError,
        NotFoundError,
        RollbackError,
        RuntimeEngineError,
        Terminated,
        UntrustedContentError,
        UserInputError,
        VerificationError,
    )
    from mppoci.text import terminal_safe

if TYPE_CHECKING:  # sandbox, serve and k8s commands (planning, serving, kube)
    from mppoci.app.approving import approval_question
    from mppoci.app.kube import (
        ClusterRendering,
        ClusterRequest,
        Written,
        render_for_cluster,
        write_rendering,
    )
    from mppoci.app.planning import SandboxPlan, plan_sandbox
    from mppoci.app.serving import Registration, install_registration, open_server, registration
    from mppoci.app.verifying import open_digest
    from mppoci.hosts.server import Host
    from mppoci.sandbox.launch import RunRequest

# name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "Session": "mppoci.app.session",
    "Prompter": "mppoci.app.prompter",
    "FailClosed": "mppoci.app.prompter",
    "FAIL_CLOSED": "mppoci.app.prompter",
    "SignerAnswer": "mppoci.app.prompter",
    "SignerQuestion": "mppoci.app.prompter",
    "ApprovalQuestion": "mppoci.app.prompter",
    "pinned": "mppoci.app.references",
    "check_remote_pin": "mppoci.app.references",
    "resolve_local": "mppoci.app.references",
    "audit_refusal": "mppoci.app.verifying",
    "verify_audited": "mppoci.app.verifying",
    "verify_digest": "mppoci.app.verifying",
    "load_audited": "mppoci.app.verifying",
    "remember": "mppoci.app.verifying",
    "open_verified": "mppoci.app.verifying",
    "trust_on_first_use": "mppoci.app.verifying",
    "Review": "mppoci.app.approving",
    "review": "mppoci.app.approving",
    "approve": "mppoci.app.approving",
    "authorize": "mppoci.app.approving",
    "require_approval": "mppoci.app.approving",
    "approvals": "mppoci.app.approving",
    "revoke": "mppoci.app.approving",
    "RunOutcome": "mppoci.app.running",
    "execute": "mppoci.app.running",
    "run": "mppoci.app.running",
    # sandbox, serve and k8s commands (planning, serving, kube)
    "approval_question": "mppoci.app.approving",
    "open_digest": "mppoci.app.verifying",
    "SandboxPlan": "mppoci.app.planning",
    "plan_sandbox": "mppoci.app.planning",
    "RunRequest": "mppoci.sandbox.launch",
    "Host": "mppoci.hosts.server",
    "Registration": "mppoci.app.serving",
    "open_server": "mppoci.app.serving",
    "registration": "mppoci.app.serving",
    "install_registration": "mppoci.app.serving",
    "ClusterRequest": "mppoci.app.kube",
    "ClusterRendering": "mppoci.app.kube",
    "Written": "mppoci.app.kube",
    "render_for_cluster": "mppoci.app.kube",
    "write_rendering": "mppoci.app.kube",
    # Value types a front end handles: errors, and escaping outside text.
    "Error": "mppoci.errors",
    "UserInputError": "mppoci.errors",
    "NotFoundError": "mppoci.errors",
    "NotApprovedError": "mppoci.errors",
    "UntrustedContentError": "mppoci.errors",
    "VerificationError": "mppoci.errors",
    "DigestMismatchError": "mppoci.errors",
    "RollbackError": "mppoci.errors",
    "RuntimeEngineError": "mppoci.errors",
    "Terminated": "mppoci.errors",
    "terminal_safe": "mppoci.text",
}

__all__ = [
    "ApprovalQuestion",
    "DigestMismatchError",
    "Error",
    "FAIL_CLOSED",
    "FailClosed",
    "NotApprovedError",
    "NotFoundError",
    "Prompter",
    "Review",
    "RollbackError",
    "RunOutcome",
    "RuntimeEngineError",
    "Session",
    "SignerAnswer",
    "SignerQuestion",
    "Terminated",
    "UntrustedContentError",
    "UserInputError",
    "VerificationError",
    "approvals",
    "approve",
    "audit_refusal",
    "authorize",
    "check_remote_pin",
    "execute",
    "load_audited",
    "open_verified",
    "pinned",
    "remember",
    "require_approval",
    "resolve_local",
    "review",
    "revoke",
    "run",
    "terminal_safe",
    "trust_on_first_use",
    "verify_audited",
    "verify_digest",
    # sandbox, serve and k8s commands (planning, serving, kube)
    "ClusterRendering",
    "ClusterRequest",
    "Host",
    "Registration",
    "RunRequest",
    "SandboxPlan",
    "Written",
    "approval_question",
    "install_registration",
    "open_digest",
    "open_server",
    "plan_sandbox",
    "registration",
    "render_for_cluster",
    "write_rendering",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mppoci.app' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
