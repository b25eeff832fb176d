"""The two questions only a person answers, and who answers them.

mppoci never decides on a person's behalf whether to trust a new signer or
to let a package run with what it asks for. A front end that has a person
(the CLI on a terminal) passes a :class:`Prompter` that asks them; a library
host passes its own. Everything else (``mppoci serve``, scripts, a host that
passes nothing) gets :data:`FAIL_CLOSED`, which answers "no" to both.

The questions carry text from the package and its signature (names,
permission sentences): a prompter that shows them on a terminal escapes them
(:func:`mppoci.text.terminal_safe`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class SignerAnswer(StrEnum):
    NO = "no"
    PACKAGE = "package"  # trust the key for this package only
    PUBLISHER = "publisher"  # trust it for every package of the publisher (publisher/*)


@dataclass(frozen=True, slots=True)
class SignerQuestion:
    """A package is signed by a key nobody trusted yet: trust it?"""

    package: str  # publisher/tool
    publisher: str
    key_id: str
    fingerprint: str  # the short form people compare
    subject: str  # the package as described by its verdict (name, version, digest)
    # Short ids of keys already trusted for this publisher or package: a new
    # key is then a rotation only if the publisher says so.
    known_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ApprovalQuestion:
    """May this package run with these permissions?"""

    package: str
    version: str
    publisher: str
    lines: tuple[str, ...]  # every sentence the approval binds
    changed: bool = False  # an earlier approval exists, for other permissions
    added: tuple[str, ...] = ()  # compared with it
    removed: tuple[str, ...] = ()


class Prompter(Protocol):
    """Who answers for the person. ``how`` names them in the audit record of
    an approval they gave (``terminal`` for the CLI).

    Only :attr:`SignerAnswer.PACKAGE` and :attr:`SignerAnswer.PUBLISHER`
    trust a key, and only ``True`` approves: any other answer is "no"."""

    @property
    def how(self) -> str: ...

    def trust_signer(self, question: SignerQuestion) -> SignerAnswer: ...

    def approve(self, question: ApprovalQuestion) -> bool: ...


@dataclass(frozen=True, slots=True)
class FailClosed:
    """Nobody is there to ask: every question is answered "no"."""

    how: str = "nobody"

    def trust_signer(self, question: SignerQuestion) -> SignerAnswer:
        return SignerAnswer.NO

    def approve(self, question: ApprovalQuestion) -> bool:
        return False


FAIL_CLOSED: Prompter = FailClosed()
