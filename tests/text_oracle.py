"""An independent oracle for "a terminal would obey, hide or overdraw this".

Written from Unicode character names and categories, not from mppoci.text's
range table, so a gap in that table shows up as a failing test."""

from __future__ import annotations

import unicodedata

CATEGORIES = ("Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn")
NAMES = (
    "FILLER",  # Hangul fillers U+115F U+1160 U+3164 U+FFA0
    "VARIATION SELECTOR",
    "COMBINING GRAPHEME JOINER",
    "BRAILLE PATTERN BLANK",
    "KHMER VOWEL INHERENT",
    "MONGOLIAN VOWEL SEPARATOR",
    "OBJECT REPLACEMENT CHARACTER",
    "OVERLAY",
    "COMBINING LONG SOLIDUS",
    "COMBINING SHORT SOLIDUS",
)


def unsafe(text: str, *, layout: str = "") -> list[str]:
    """Characters of ``text`` a terminal could act on, not show, or stack
    (a third combining mark in a row); ``layout`` characters are allowed."""
    found: list[str] = []
    marks = 0
    for ch in text:
        if ch in layout:
            marks = 0
            continue
        name = unicodedata.name(ch, "")
        if unicodedata.category(ch) in CATEGORIES or any(n in name for n in NAMES):
            found.append(ch)
        if unicodedata.category(ch) in ("Mn", "Me"):
            marks += 1
            if marks > 2:
                found.append(ch)
        else:
            marks = 0
    return found
