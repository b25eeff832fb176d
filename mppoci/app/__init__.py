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

from mppoci import __version__

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
    from mppoci.app.auditing import (
        AuditFilter,
        Checkpoint,
        TrailCheck,
        acknowledge_cut,
        audit_records,
        checkpoint,
        create_audit_key,
        export,
        export_lines,
        verify_trail,
    )
    from mppoci.app.bundles import (
        Loaded,
        Saved,
        load_bundle,
        save_bundle,
    )
    from mppoci.app.locking import (
        Pinned,
        add_pin,
        pins,
    )

    # packages, trust, signing, registries,
    # bundles, locks, the audit trail and runtimes
    from mppoci.app.packages import (
        Built,
        PackageView,
        Removed,
        StoredEntry,
        assess,
        assess_folder,
        build,
        list_packages,
        remove,
        scaffold,
        verification_status,
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
    from mppoci.app.remote import (
        Fetched,
        Pulled,
        RegistryOptions,
        connect,
        copy,
        destination,
        fetch_verified,
        login,
        pull,
        push,
        staged_fetch,
        verify_remote,
    )
    from mppoci.app.running import RunOutcome, execute, run
    from mppoci.app.runtimes import (
        BuiltRuntime,
        PushedRuntime,
        RuntimeRow,
        build_runtime,
        list_runtimes,
        pull_runtime,
        push_runtime,
    )
    from mppoci.app.session import Session
    from mppoci.app.signing import (
        Signed,
        generate_key_pair,
        key_pair_paths,
        read_key_file,
        sign,
        verify,
    )
    from mppoci.app.trusting import (
        TrustListing,
        add_trusted_key,
        remove_trusted_key,
        revoke_key,
        trust_listing,
    )
    from mppoci.app.verifying import (
        audit_refusal,
        load_audited,
        open_verified,
        remember,
        trust_on_first_use,
        verify_audited,
        verify_digest,
    )

    # value types
    from mppoci.digest import Digest
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
    from mppoci.fsutil import disk_full, is_disk_full
    from mppoci.lockfile import LOCK_FILE
    from mppoci.manifest.model import Access, Tool
    from mppoci.registry.client import RegistryClient
    from mppoci.signing.keys import short_id
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
    from mppoci.sandbox.exit_status import Stopped, stopped_by
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
    "Stopped": "mppoci.sandbox.exit_status",
    "stopped_by": "mppoci.sandbox.exit_status",
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
    "RegistryClient": "mppoci.registry.client",
    "LOCK_FILE": "mppoci.lockfile",
    # packages, trust, signing, registries,
    # bundles, locks, the audit trail and runtimes, and the values they return
    # packages (mppoci.app.packages)
    "Built": "mppoci.app.packages",
    "PackageView": "mppoci.app.packages",
    "StoredEntry": "mppoci.app.packages",
    "Removed": "mppoci.app.packages",
    "assess": "mppoci.app.packages",
    "assess_folder": "mppoci.app.packages",
    "build": "mppoci.app.packages",
    "list_packages": "mppoci.app.packages",
    "remove": "mppoci.app.packages",
    "scaffold": "mppoci.app.packages",
    "verification_status": "mppoci.app.packages",
    # trusting (mppoci.app.trusting)
    "TrustListing": "mppoci.app.trusting",
    "add_trusted_key": "mppoci.app.trusting",
    "remove_trusted_key": "mppoci.app.trusting",
    "revoke_key": "mppoci.app.trusting",
    "trust_listing": "mppoci.app.trusting",
    # signing (mppoci.app.signing)
    "Signed": "mppoci.app.signing",
    "generate_key_pair": "mppoci.app.signing",
    "key_pair_paths": "mppoci.app.signing",
    "read_key_file": "mppoci.app.signing",
    "sign": "mppoci.app.signing",
    "verify": "mppoci.app.signing",
    # remote (mppoci.app.remote)
    "Fetched": "mppoci.app.remote",
    "Pulled": "mppoci.app.remote",
    "RegistryOptions": "mppoci.app.remote",
    "connect": "mppoci.app.remote",
    "copy": "mppoci.app.remote",
    "destination": "mppoci.app.remote",
    "fetch_verified": "mppoci.app.remote",
    "login": "mppoci.app.remote",
    "pull": "mppoci.app.remote",
    "push": "mppoci.app.remote",
    "staged_fetch": "mppoci.app.remote",
    "verify_remote": "mppoci.app.remote",
    # bundles (mppoci.app.bundles)
    "Loaded": "mppoci.app.bundles",
    "Saved": "mppoci.app.bundles",
    "load_bundle": "mppoci.app.bundles",
    "save_bundle": "mppoci.app.bundles",
    # locking (mppoci.app.locking)
    "Pinned": "mppoci.app.locking",
    "add_pin": "mppoci.app.locking",
    "pins": "mppoci.app.locking",
    # auditing (mppoci.app.auditing)
    "AuditFilter": "mppoci.app.auditing",
    "Checkpoint": "mppoci.app.auditing",
    "TrailCheck": "mppoci.app.auditing",
    "acknowledge_cut": "mppoci.app.auditing",
    "audit_records": "mppoci.app.auditing",
    "checkpoint": "mppoci.app.auditing",
    "create_audit_key": "mppoci.app.auditing",
    "export": "mppoci.app.auditing",
    "export_lines": "mppoci.app.auditing",
    "verify_trail": "mppoci.app.auditing",
    # runtimes (mppoci.app.runtimes)
    "BuiltRuntime": "mppoci.app.runtimes",
    "PushedRuntime": "mppoci.app.runtimes",
    "RuntimeRow": "mppoci.app.runtimes",
    "build_runtime": "mppoci.app.runtimes",
    "pull_runtime": "mppoci.app.runtimes",
    "push_runtime": "mppoci.app.runtimes",
    "list_runtimes": "mppoci.app.runtimes",
    "Digest": "mppoci.digest",
    "Access": "mppoci.manifest.model",
    "Tool": "mppoci.manifest.model",
    "short_id": "mppoci.signing.keys",
    "disk_full": "mppoci.fsutil",
    "is_disk_full": "mppoci.fsutil",
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
    # packages, trust, signing, registries, bundles, locks, audit, runtimes
    "__version__",
    "Access",
    "AuditFilter",
    "Built",
    "BuiltRuntime",
    "Checkpoint",
    "Digest",
    "Fetched",
    "Loaded",
    "PackageView",
    "Pinned",
    "Pulled",
    "PushedRuntime",
    "LOCK_FILE",
    "RegistryClient",
    "RegistryOptions",
    "Removed",
    "RuntimeRow",
    "Saved",
    "Signed",
    "StoredEntry",
    "Tool",
    "TrailCheck",
    "TrustListing",
    "acknowledge_cut",
    "add_pin",
    "add_trusted_key",
    "assess",
    "assess_folder",
    "audit_records",
    "build",
    "build_runtime",
    "checkpoint",
    "connect",
    "copy",
    "create_audit_key",
    "destination",
    "disk_full",
    "export",
    "export_lines",
    "fetch_verified",
    "generate_key_pair",
    "is_disk_full",
    "key_pair_paths",
    "list_packages",
    "load_bundle",
    "login",
    "pins",
    "pull",
    "pull_runtime",
    "push",
    "push_runtime",
    "read_key_file",
    "remove",
    "remove_trusted_key",
    "revoke_key",
    "list_runtimes",
    "save_bundle",
    "scaffold",
    "short_id",
    "sign",
    "staged_fetch",
    "trust_listing",
    "verification_status",
    "verify",
    "verify_remote",
    "verify_trail",
    # sandbox, serve and k8s commands (planning, serving, kube)
    "ClusterRendering",
    "ClusterRequest",
    "Host",
    "Registration",
    "RunRequest",
    "SandboxPlan",
    "Stopped",
    "Written",
    "approval_question",
    "install_registration",
    "open_digest",
    "open_server",
    "plan_sandbox",
    "registration",
    "render_for_cluster",
    "stopped_by",
    "write_rendering",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mppoci.app' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
