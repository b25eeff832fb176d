"""How the extractor names archive entries and hostile content in its errors.

Shared by every part of the extractor so that a refusal reads the same
wherever it is raised."""

from __future__ import annotations

import contextlib

from mppoci.errors import UnsafeArchiveError

# Names longer than this are shortened in messages.
_LABEL_MAX = 160

HOSTILE_HINT = (
    "the package content is broken or hostile; do not use this package, and tell its publisher"
)


def label(text: str) -> str:
    """A name from the archive as shown in messages: quoted, with undecodable
    bytes as escapes, and shortened in the middle when very long."""
    # A lone surrogate that is no escaped byte cannot be encoded; repr() shows it.
    with contextlib.suppress(UnicodeEncodeError):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if len(text) > _LABEL_MAX:
        text = f"{text[: _LABEL_MAX // 2]}[...]{text[-_LABEL_MAX // 4 :]}"
    return repr(text)


def unsafe(name: str, problem: str) -> UnsafeArchiveError:
    """The archive entry ``name`` is refused because of ``problem``."""
    return UnsafeArchiveError(f"archive entry {label(name)}: {problem}", hint=HOSTILE_HINT)
