"""Outside-supplied text made harmless for a terminal. Pure.

A terminal obeys what it is sent: ESC starts a sequence that can move the
cursor, erase lines or retitle the window; a carriage return goes back to
the start of the line; bidi overrides reorder what is shown; zero-width and
other format characters hide text. Other code points show nothing at all
(Hangul fillers, the braille blank, variation selectors) or draw over their
neighbours (overlay and stacked combining marks), so they can pad a line or
disguise a word. A package, a registry or a tool must not be able to
rewrite what the person reads, so every printer passes what came from
outside through :func:`terminal_safe`, and the manifest parser refuses the
same characters (:func:`first_hidden`) in every human-facing field.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

# Cc: C0 controls, DEL and C1 controls. Cf: bidi embeddings, overrides and
# isolates, zero-width spaces and joiners, the BOM, soft hyphen and the other
# invisible format characters. Cs: lone surrogates (no character at all).
# Zl / Zp: U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR, which many
# renderers (and JavaScript) treat as a new line. Co: private use (a font
# decides what it looks like, often nothing). Cn: unassigned in the Unicode
# version Python knows (a newer terminal may treat it as anything).
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn"})

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, 15.1):
# code points a renderer shows as nothing. Many are Cf already; the others
# (Lo, Mn) are why this list exists: U+115F/U+1160/U+3164/U+FFA0 Hangul
# fillers, U+034F COMBINING GRAPHEME JOINER, U+17B4/U+17B5 Khmer inherent
# vowels, U+180B..U+180F Mongolian variation selectors and vowel separator,
# U+FE00..U+FE0F and U+E0100..U+E01EF variation selectors.
DEFAULT_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)

# Shown as blank or as a box, yet not whitespace: U+2800 BRAILLE PATTERN
# BLANK (a common "invisible" padding), U+FFFC OBJECT REPLACEMENT CHARACTER.
_BLANK_LOOKALIKES = frozenset({0x2800, 0xFFFC})

# Combining marks in a row on one base character; more are escaped (Zalgo
# text stacks dozens to cover the lines around it).
MAX_MARKS = 2

# Kept by the multi-line form: a newline, and a tab inside a line.
_LAYOUT = frozenset({"\n", "\t"})

# One-line fields in a manifest: a run of this many whitespace characters,
# or whitespace at either end, is refused (see :func:`padding`).
MAX_BLANK_RUN = 3


def _ignorable(code: int) -> bool:
    return any(low <= code <= high for low, high in DEFAULT_IGNORABLE)


def is_hidden(ch: str) -> bool:
    """Whether a terminal could treat ``ch`` as a command, not show it, or
    draw it over its neighbour (an overlay combining mark)."""
    code = ord(ch)
    return (
        unicodedata.category(ch) in _HIDDEN_CATEGORIES
        or _ignorable(code)
        or code in _BLANK_LOOKALIKES
        or unicodedata.combining(ch) == 1  # overlays: strike through the base
    )


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch) in ("Mn", "Me")


def _escaped(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _unsafe(text: str, multiline: bool) -> Iterator[int]:
    """Positions of the characters to escape: hidden ones, and every
    combining mark after the first :data:`MAX_MARKS` on one base."""
    marks = 0
    for index, ch in enumerate(text):
        if is_hidden(ch):
            if not (multiline and ch in _LAYOUT):
                yield index
            marks = 0
        elif _is_mark(ch):
            marks += 1
            if marks > MAX_MARKS:
                yield index
        else:
            marks = 0


def terminal_safe(text: str, *, multiline: bool = False) -> str:
    """``text`` with every control, invisible, separator, lone surrogate,
    private-use, unassigned and blank-looking character, overlay mark and
    combining mark beyond :data:`MAX_MARKS` on one base written visibly as
    an escape (``\\x1b``, ``\\u202e``, ``\\u3164``).

    With ``multiline``, newlines and tabs are kept as layout; use it only for
    whole blocks whose line structure is ours (a rendered screen, an error's
    diagnostics), never for a single field an outsider supplied."""
    if text.isascii() and text.isprintable():
        return text
    positions = set(_unsafe(text, multiline))
    if not positions:
        return text
    return "".join(_escaped(ch) if i in positions else ch for i, ch in enumerate(text))


def first_hidden(text: str, *, multiline: bool = False) -> tuple[int, str] | None:
    """The position and escaped form of the first character
    :func:`terminal_safe` would escape, or None when there is none."""
    for index in _unsafe(text, multiline):
        return index, _escaped(text[index])
    return None


def padding(text: str) -> str | None:
    """Why one-line ``text`` could pad a line out to look like another, or None.

    A one-line field shown after a label (``why: ...``) can push words to the
    start of the next terminal row with a long run of blanks, where they read
    as a line of their own. Normal text never needs whitespace at its ends or
    more than :data:`MAX_BLANK_RUN` blanks in a row."""
    if text != text.strip():
        return "must not start or end with whitespace"
    run = 0
    for index, ch in enumerate(text):
        run = run + 1 if ch.isspace() else 0
        if run > MAX_BLANK_RUN:
            return (
                f"must not have more than {MAX_BLANK_RUN} whitespace characters in a row "
                f"(found at character {index + 1 - MAX_BLANK_RUN}): blanks can push text "
                "onto a line of its own"
            )
    return None
