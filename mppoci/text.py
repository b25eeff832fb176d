"""Outside-supplied text made harmless for a terminal. Pure.

A terminal obeys what it is sent: ESC starts a sequence that can move the
cursor, erase lines or retitle the window; a carriage return goes back to
the start of the line; bidi overrides reorder what is shown; zero-width and
other format characters hide text. A package, a registry or a tool must not
be able to rewrite what the person reads, so every printer passes what came
from outside through :func:`terminal_safe`, and the manifest parser refuses
the same characters (:func:`first_hidden`) in every human-facing field.
"""

from __future__ import annotations

import unicodedata

# Cc: C0 controls, DEL and C1 controls. Cf: bidi embeddings, overrides and
# isolates, zero-width spaces and joiners, the BOM, soft hyphen and the other
# invisible format characters. Cs: lone surrogates (no character at all).
# Zl / Zp: U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR, which many
# renderers (and JavaScript) treat as a new line.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

# Kept by the multi-line form: a newline, and a tab inside a line.
_LAYOUT = frozenset({"\n", "\t"})


def is_hidden(ch: str) -> bool:
    """Whether a terminal could treat ``ch`` as a command or not show it."""
    return unicodedata.category(ch) in _HIDDEN_CATEGORIES


def _escaped(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def terminal_safe(text: str, *, multiline: bool = False) -> str:
    """``text`` with every control, invisible format, separator and lone
    surrogate character written visibly as an escape (``\\x1b``,
    ``\\u202e``, ``\\u2028``).

    With ``multiline``, newlines and tabs are kept as layout; use it only for
    whole blocks whose line structure is ours (a rendered screen, an error's
    diagnostics), never for a single field an outsider supplied."""
    if not any(is_hidden(ch) for ch in text):
        return text
    keep = _LAYOUT if multiline else frozenset()
    return "".join(ch if ch in keep or not is_hidden(ch) else _escaped(ch) for ch in text)


def first_hidden(text: str, *, multiline: bool = False) -> tuple[int, str] | None:
    """The position and escaped form of the first character
    :func:`terminal_safe` would escape, or None when there is none."""
    for index, ch in enumerate(text):
        if is_hidden(ch) and not (multiline and ch in _LAYOUT):
            return index, _escaped(ch)
    return None
