"""Fuzzing of references and SemVer versions: every command-line reference,
lock-file key and manifest version goes through these parsers."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mppoci.errors import UserInputError
from mppoci.reference import is_remote, parse_local, parse_remote
from mppoci.semver import is_semver, precedence_key
from tests.fuzz.support import HOSTILE_CHARS, parsed_or_our_error

pytestmark = pytest.mark.fuzz

DIGEST = "sha256:" + "0123456789abcdef" * 4
SEEDS = [
    "acme/word-count",
    "acme/word-count:1.0.0",
    "acme/word_count.x:1.0.0-rc.1+build.5",
    DIGEST,
    "ghcr.io/acme/word-count:1.0.0",
    "127.0.0.1:5000/acme/tool@" + DIGEST,
    "localhost/a/b/c:tag_1.x-y",
    "[::1]:5000/acme/tool:v1@" + DIGEST,
]
PIECES = [*HOSTILE_CHARS, "sha256:", "ghcr.io", ":5000", "[", "]", "@", "..", "__", "--"]


@st.composite
def reference_texts(draw: st.DrawFn) -> str:
    """A valid reference with a few characters or pieces inserted, removed or replaced."""
    text = list(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from(PIECES))
        if op == "insert":
            text[at:at] = [piece]
        elif op == "delete" and at < len(text):
            del text[at]
        elif at < len(text):
            text[at] = piece
    return "".join(text)


@given(reference_texts() | st.text(max_size=40))
@example("1\u0663.0.0")
@example("acme/tool:1\u0663.0.0")
def test_references_parse_to_what_they_say_or_are_refused(text: str) -> None:
    local = parsed_or_our_error(lambda: parse_local(text))
    if local is not None:
        assert str(local) == text
        assert text.isascii()
    remote = parsed_or_our_error(lambda: parse_remote(text))
    if remote is not None:
        assert is_remote(text)
        assert str(remote) == text
        assert text.isascii()
        # What a registry client builds URLs from never carries a separator.
        assert "/" not in remote.registry and "@" not in remote.repository


VERSION_SEEDS = ["0.0.0", "1.2.3", "10.20.30-alpha.1+b.2", "1.0.0-0.3.7", "1.0.0-x-y-z.--"]
VERSION_PIECES = [*"0123456789.-+aZ", "\u0663", "\u00b2", "\uff11", "\n"]


@st.composite
def version_texts(draw: st.DrawFn) -> str:
    text = list(draw(st.sampled_from(VERSION_SEEDS)))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        piece = draw(st.sampled_from(VERSION_PIECES))
        if draw(st.booleans()) or at == len(text):
            text[at:at] = [piece]
        else:
            text[at] = piece
    return "".join(text)


@given(version_texts(), version_texts())
@example("1\u0663.0.0", "13.0.0")
@example("1.0.0-\u0663", "1.0.0-3")
def test_semver_accepts_only_the_ascii_grammar_and_orders_consistently(a: str, b: str) -> None:
    for text in (a, b):
        if is_semver(text):
            # SemVer 2.0 is ASCII: a version that is not would be a second
            # spelling of another one (1\u0663.0.0 sorted as 13.0.0).
            assert text.isascii(), text
            precedence_key(text)
        else:
            with pytest.raises(ValueError):
                precedence_key(text)
    if is_semver(a) and is_semver(b) and precedence_key(a) == precedence_key(b):
        # Equal precedence only when they differ at most in build metadata.
        assert a.split("+")[0] == b.split("+")[0]


def test_a_refused_reference_says_how_to_write_one() -> None:
    with pytest.raises(UserInputError, match="not a valid reference") as caught:
        parse_local("acme/tool:1\u0663.0.0")
    assert caught.value.hint is not None and "publisher/tool" in caught.value.hint
