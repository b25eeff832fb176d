"""The verdict on a signed subject: pure, values in and values out.

Given the digest being verified, the signatures found beside it and either the
trust policy or one explicit key, decide which signatures count and why the
others do not. Nothing here reads files or the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric import ec

from mppoci.digest import Digest
from mppoci.errors import Error
from mppoci.signing.ecdsa import verify_signature
from mppoci.signing.evidence import Evidence
from mppoci.signing.keys import KeyId, key_id, load_public_key, short_id
from mppoci.signing.payload import parse_payload
from mppoci.text import terminal_safe
from mppoci.trust.policy import TrustedKey, TrustPolicy


class SignatureCheck(StrEnum):
    ACCEPTED = "accepted"
    BAD_PAYLOAD = "bad-payload"
    OTHER_DIGEST = "other-digest"
    NO_TRUSTED_KEY = "no-trusted-key"
    UNKNOWN_SIGNER = "unknown-signer"
    REVOKED = "revoked"
    OUT_OF_SCOPE = "out-of-scope"
    WRONG_ORIGIN = "wrong-origin"
    WRONG_KEY = "wrong-key"


@dataclass(frozen=True, slots=True)
class Subject:
    digest: Digest
    package_name: str | None  # None for a plain OCI image
    version: str | None = None
    origin: str | None = None  # the registry it came from; None when built here

    def describe(self) -> str:
        if self.package_name:
            return f"{self.package_name} {self.version or ''} ({self.digest})".replace("  ", " ")
        return self.digest


@dataclass(frozen=True, slots=True)
class SignatureResult:
    outcome: SignatureCheck
    detail: str
    key_id: KeyId | None = None
    public_key_pem: str | None = None
    publisher: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    subject: Subject
    results: tuple[SignatureResult, ...]

    @property
    def accepted(self) -> SignatureResult | None:
        return next((r for r in self.results if r.outcome is SignatureCheck.ACCEPTED), None)

    @property
    def unknown_signers(self) -> tuple[SignatureResult, ...]:
        return tuple(r for r in self.results if r.outcome is SignatureCheck.UNKNOWN_SIGNER)

    def explain(self) -> str:
        if not self.results:
            return f"{self.subject.describe()} is unsigned"
        # Lines of ours; what each quotes is escaped as one line.
        lines = [terminal_safe(f"{self.subject.describe()} has no acceptable signature:")]
        lines += [
            f"  signature {i}: {terminal_safe(r.detail)}" for i, r in enumerate(self.results, 1)
        ]
        return "\n".join(lines)


def _check_payload(subject: Subject, evidence: Evidence) -> SignatureResult | None:
    """Read the claim of a payload whose signature already verified."""
    try:
        payload = parse_payload(evidence.payload)
    except Error as e:
        return SignatureResult(
            SignatureCheck.BAD_PAYLOAD, f"its payload is malformed ({e.message})"
        )
    if payload.digest != subject.digest:
        return SignatureResult(
            SignatureCheck.OTHER_DIGEST,
            f"it signs another digest ({payload.digest}), not this one",
        )
    return None


def _embedded_key(evidence: Evidence) -> tuple[ec.EllipticCurvePublicKey, KeyId] | None:
    if evidence.public_key_pem is None:
        return None
    try:
        public = load_public_key(evidence.public_key_pem.encode("ascii"))
    except (Error, UnicodeEncodeError):
        return None
    return public, key_id(public)


def _signing_key(evidence: Evidence, policy: TrustPolicy) -> TrustedKey | None:
    for trusted in policy.keys:
        try:
            public = load_public_key(trusted.public_key_pem.encode("ascii"))
        except (Error, UnicodeEncodeError):
            continue
        if verify_signature(public, evidence.payload, evidence.signature):
            return trusted
    return None


def _judge(subject: Subject, evidence: Evidence, policy: TrustPolicy) -> SignatureResult:
    # The signature is checked over the exact bytes first; only a payload that a
    # key vouches for is parsed at all.
    trusted = _signing_key(evidence, policy)
    if trusted is None:
        embedded = _embedded_key(evidence)
        if embedded is None or not verify_signature(
            embedded[0], evidence.payload, evidence.signature
        ):
            return SignatureResult(SignatureCheck.NO_TRUSTED_KEY, "no trusted key verifies it")
        kid = embedded[1]
        if policy.is_revoked(kid):
            return SignatureResult(SignatureCheck.REVOKED, f"key {short_id(kid)} is revoked", kid)
        failed = _check_payload(subject, evidence)
        if failed:
            return failed
        return SignatureResult(
            SignatureCheck.UNKNOWN_SIGNER,
            f"made by key {short_id(kid)}, which is not in the trust policy",
            kid,
            evidence.public_key_pem,
        )
    kid, who = trusted.key_id, f"key {short_id(trusted.key_id)} ({trusted.publisher})"
    if policy.is_revoked(kid):
        return SignatureResult(SignatureCheck.REVOKED, f"{who} is revoked", kid)
    failed = _check_payload(subject, evidence)
    if failed:
        return failed
    if subject.package_name is None:
        return SignatureResult(
            SignatureCheck.OUT_OF_SCOPE,
            f"{who} is trusted for packages; verify plain images with --key",
            kid,
        )
    if not trusted.covers(subject.package_name):
        return SignatureResult(
            SignatureCheck.OUT_OF_SCOPE,
            f"{who} may sign only {', '.join(trusted.scopes)}, not {subject.package_name}",
            kid,
        )
    if not trusted.accepts_origin(subject.origin):
        return SignatureResult(
            SignatureCheck.WRONG_ORIGIN,
            f"{who} is trusted only for packages from {', '.join(trusted.registries)}, "
            f"not from {subject.origin or 'a local build'}",
            kid,
        )
    return SignatureResult(
        SignatureCheck.ACCEPTED,
        f"verified with {who}",
        kid,
        trusted.public_key_pem,
        trusted.publisher,
    )


def evaluate_policy(subject: Subject, evidence: Sequence[Evidence], policy: TrustPolicy) -> Verdict:
    """Judge every signature against the trust policy. Accepted when one is."""
    return Verdict(subject, tuple(_judge(subject, e, policy) for e in evidence))


def evaluate_key(
    subject: Subject,
    evidence: Sequence[Evidence],
    public_key: ec.EllipticCurvePublicKey,
    policy: TrustPolicy,
) -> Verdict:
    """Judge every signature against one explicit key (``verify --key``), as
    cosign does; a revoked key is still refused."""
    kid = key_id(public_key)
    results = []
    for e in evidence:
        if not verify_signature(public_key, e.payload, e.signature):
            results.append(
                SignatureResult(
                    SignatureCheck.WRONG_KEY, f"it does not verify with key {short_id(kid)}"
                )
            )
        elif policy.is_revoked(kid):
            results.append(
                SignatureResult(SignatureCheck.REVOKED, f"key {short_id(kid)} is revoked", kid)
            )
        else:
            results.append(
                _check_payload(subject, e)
                or SignatureResult(
                    SignatureCheck.ACCEPTED, f"verified with key {short_id(kid)}", kid
                )
            )
    return Verdict(subject, tuple(results))
