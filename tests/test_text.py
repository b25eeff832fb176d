"""terminal_safe: what a terminal would obey or hide is written visibly."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from mppoci.text import first_hidden, terminal_safe

HOSTILE = json.loads((Path(__file__).parent / "assets/hostile/text/strings.json").read_text())


def _obeyed(text: str) -> list[str]:
    """Characters a terminal could act on or not show (checked independently)."""
    return [ch for ch in text if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")]


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
