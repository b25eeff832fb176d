"""terminal_safe: what a terminal would obey or hide is written visibly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mppoci.text import DEFAULT_IGNORABLE, first_hidden, is_hidden, terminal_safe
from tests.text_oracle import unsafe

HOSTILE = json.loads((Path(__file__).parent / "assets/hostile/text/strings.json").read_text())


def _obeyed(text: str) -> list[str]:
    """Characters a terminal could act on or not show (checked independently)."""
    return unsafe(text)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_every_hostile_string_comes_out_with_nothing_a_terminal_obeys(name: str) -> None:
    shown = terminal_safe(HOSTILE[name])
    assert _obeyed(shown) == []
    assert shown != HOSTILE[name]  # something was escaped, visibly
    assert first_hidden(HOSTILE[name]) is not None


def test_escapes_are_visible_and_name_the_character() -> None:
    assert terminal_safe("\r\x1b[2K") == "\\x0d\\x1b[2K"
    assert terminal_safe("a\u202eb\u2028c\u200bd\x85") == "a\\u202eb\\u2028c\\u200bd\\x85"
    assert terminal_safe("\U000e0041") == "\\U000e0041"  # a tag character (Cf)


def test_ordinary_text_is_unchanged_including_other_scripts() -> None:
    for text in ("Query CSV files", "Größe → 5 €", "日本語のツール", "emoji 🙂", "a\\x1b"):
        assert terminal_safe(text) == text
        assert first_hidden(text) is None


def test_a_single_field_loses_its_newlines_a_block_keeps_them() -> None:
    fake = "fine\n  - No network access at all"
    assert "\n" not in terminal_safe(fake)
    assert terminal_safe(fake, multiline=True) == fake
    assert terminal_safe("a\tb\n\x1b", multiline=True) == "a\tb\n\\x1b"
    assert first_hidden("a\nb", multiline=True) is None
    assert first_hidden("a\nb") == (1, "\\x0a")


def test_hangul_filler_padding_is_escaped_so_no_fake_line_is_shown() -> None:
    why = "Fetch data" + "\u3164" * 8 + "   - No network access at all"
    shown = terminal_safe(why)
    assert "\u3164" not in shown
    assert shown == "Fetch data" + "\\u3164" * 8 + "   - No network access at all"


def test_every_default_ignorable_code_point_is_hidden() -> None:
    for low, high in DEFAULT_IGNORABLE:
        for code in range(low, high + 1):
            assert is_hidden(chr(code)), hex(code)
    for ch in "\u115f\u1160\u3164\uffa0\u2800\u034f\ufe00\ufe0f\U000e0100\U000e01ef":
        assert is_hidden(ch), ascii(ch)
    for ch in "\u17b4\u17b5\u180b\u180f\ue000\U000f0000\u0378\ufffc":
        assert is_hidden(ch), ascii(ch)


def test_stacked_combining_marks_beyond_two_are_escaped() -> None:
    zalgo = "Z" + "\u0301\u0302\u0303\u0304"
    assert terminal_safe(zalgo) == "Z\u0301\u0302\\u0303\\u0304"
    assert first_hidden(zalgo) == (3, "\\u0303")
    decomposed = "Vie\u0323\u0302t"  # Vietnamese: two marks on one letter are ordinary
    assert terminal_safe(decomposed) == decomposed
    assert first_hidden(decomposed) is None


def test_an_overlay_mark_that_strikes_through_a_letter_is_escaped() -> None:
    assert terminal_safe("/etc/passwd\u0338") == "/etc/passwd\\u0338"
