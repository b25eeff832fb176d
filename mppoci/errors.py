"""The one error hierarchy of mppoci, grouped by who is at fault.

Every expected failure raises a subclass of :class:`Error`. Its
:meth:`Error.diagnostics` text says what happened and what to do about it. The
CLI is the only place that turns these into a message and an exit code; the
library never prints and never exits.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from mppoci.text import terminal_safe

if TYPE_CHECKING:
    from mppoci.trust.verdict import Verdict


class Error(Exception):
    """Root of every error mppoci raises on purpose.

    A message often quotes text from outside (a registry's media type, a
    YAML tag, a lock entry). So the message and the hint are escaped as one
    line (:func:`mppoci.text.terminal_safe`): a newline or control an
    outsider put in a value is shown as ``\\x0a``, never obeyed. An error
    whose lines are mppoci's own passes ``multiline=True`` and escapes each
    outside value itself where it puts it in."""

    def __init__(self, message: str, *, hint: str | None = None, multiline: bool = False) -> None:
        message = terminal_safe(message, multiline=multiline)
        hint = None if hint is None else terminal_safe(hint, multiline=multiline)
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """What happened and, when we know it, what the user can do about it."""
        if self.hint:
            return f"{self.message}\n\nWhat to do: {self.hint}"
        return self.message


class UserInputError(Error):
    """The user asked for something malformed or impossible (a bad flag value,
    a missing folder, a reference that does not parse)."""


class PolicyError(UserInputError):
    """What the user asked for cannot be granted to this package (a binding
    into a protected folder, a mount of an undeclared entry, storage that
    cannot be had)."""


class NotApprovedError(UserInputError):
    """The package's permissions have not been approved (or changed since)."""


class NotFoundError(UserInputError):
    """A package, blob or file the user named does not exist."""


class KeyFileError(UserInputError):
    """A key file the user named cannot be used: not PEM, the wrong kind or
    curve of key, a wrong password, or damaged."""


class UntrustedContentError(Error):
    """Content from outside is not acceptable: malformed, tampered, unsigned or
    hostile. Never retried, never run."""


class ManifestError(UntrustedContentError):
    """An `mpp.yaml` or package config is invalid. Carries every problem found,
    each as (field path, what is wrong)."""

    def __init__(self, problems: list[tuple[str, str]], *, source: str = "mpp.yaml") -> None:
        self.problems = list(problems)
        self.source = source
        # One line per problem; each may quote the file, so each is escaped.
        lines = [terminal_safe(f"{path}: {msg}" if path else msg) for path, msg in self.problems]
        super().__init__(
            f"{terminal_safe(source)} is invalid:\n  " + "\n  ".join(lines),
            hint="fix the fields named above; the format is documented in docs/manifest.md "
            "and schema/mpp-v1.schema.json",
            multiline=True,
        )


class VerificationError(UntrustedContentError):
    """No signature on the package is acceptable: unsigned, unknown or
    untrusted signer, revoked key, out of scope, or a signature over other bytes.

    ``verdict`` is the :class:`mppoci.trust.verdict.Verdict` that refused it."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        verdict: Verdict | None = None,
        multiline: bool = False,
    ) -> None:
        super().__init__(message, hint=hint, multiline=multiline)
        self.verdict = verdict


class RollbackError(UntrustedContentError):
    """An older version than one already verified was offered."""


class PinMismatchError(UntrustedContentError):
    """A lock entry pins a reference to a package of another name or version."""


class DigestMismatchError(UntrustedContentError):
    """Bytes do not hash to the digest that names them (tampering or corruption)."""


class UnsafeArchiveError(UntrustedContentError):
    """An archive entry would escape its target or carries something we never
    extract (links out, devices, setuid bits) or breaks a size cap."""


class SignatureError(UntrustedContentError):
    """A signature, its signed payload or the manifest that carries them is
    malformed or does not verify."""


class LimitExceededError(UntrustedContentError):
    """Outside input is larger or more numerous than the limits allow."""


class AuditLogCutError(UntrustedContentError):
    """The audit log no longer reaches the head kept beside it (records were
    cut off the end, the log was emptied or removed, its last record replaced,
    or the head file is missing or damaged). Nothing more is appended until a
    person has looked and run `mppoci audit acknowledge-cut`."""


class TransportError(Error):
    """A registry could not be reached or did not answer as the protocol says:
    refused connection, timeout, TLS failure, server errors after bounded retries."""


class AuthError(TransportError):
    """A registry or its token server refused the credentials, or they do not
    grant what the operation needs (e.g. push with read-only credentials)."""


class StoreError(Error):
    """The local OCI store is missing, unreadable or inconsistent."""


class RuntimeEngineError(Error):
    """The container engine (Docker) is unreachable or refused an operation."""


class EngineRefusedError(RuntimeEngineError):
    """The engine answered a call with an error. ``explanation`` is the
    engine's own words, for a caller that says in its own what failed."""

    def __init__(self, message: str, *, explanation: str) -> None:
        super().__init__(message)
        self.explanation = explanation


class ImageMissingError(RuntimeEngineError):
    """A container was to be created from an image the engine does not have
    (``pinned``: the image a package pins, looked up before a run)."""

    def __init__(self, image: str, *, pinned: bool = False) -> None:
        which = f"{image} that the package pins" if pinned else image
        super().__init__(
            f"the runtime image {which} is not on this machine",
            hint="build it (`mppoci runtime build NAME`) or pull it by digest "
            "(`mppoci runtime pull REGISTRY/REPO@DIGEST`)",
        )
        self.image = image


class Terminated(BaseException):
    """mppoci was told to stop (SIGTERM, SIGHUP) while a sandbox ran. Not an
    :class:`Error`: like KeyboardInterrupt, it unwinds everything (so the
    sandbox is removed and the run recorded) and is never a user's mistake."""

    @property
    def signum(self) -> int:
        return int(self.args[0]) if self.args else int(signal.SIGTERM)
