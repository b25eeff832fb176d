"""Shared pieces of the fuzz tests: the one property, and structure-aware strategies.

The property every parser of outside input must keep: it returns its typed
value or raises a subclass of :class:`mppoci.errors.Error`. Anything else
(ValueError, KeyError, TypeError, UnicodeError, RecursionError, ...) would
surface as a traceback instead of a diagnostic, and is a bug.

Strategies start from valid documents and mutate them, so that most inputs get
past the first checks and reach the code behind them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import strategies as st

from mppoci.errors import Error

T = TypeVar("T")


def parsed_or_our_error(call: Callable[[], T]) -> T | None:
    """``call()``'s value, or None when it raised one of our errors. Any other
    exception propagates and fails the test."""
    try:
        return call()
    except Error as e:
        assert e.message, f"{type(e).__name__} without a message"
        return None


# Text that steers parsers: JSON and path punctuation, NUL, a lone surrogate
# (never encodable), Go's escaped characters, non-ASCII digits and letters.
HOSTILE_CHARS = [
    *"aZ09 :/@.-_*?\"'\\{}[],#\n\t\r=%+",
    "\x00",
    "\x7f",
    "\ud800",
    "\udcff",
    "\u2028",
    "<",
    ">",
    "&",
    "\u0663",  # ARABIC-INDIC DIGIT THREE: \d matches it
    "\u00e9",
    "\u212a",  # KELVIN SIGN: lowercases to ASCII k
    "\U0001f600",
]
hostile_text = st.text(alphabet=st.sampled_from(HOSTILE_CHARS), max_size=24) | st.text(max_size=24)

numbers = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, -1, 1, 2, 2**31, 2**63, 2**64])
    | st.floats(allow_nan=False, allow_infinity=False)
)

json_leaves = st.none() | st.booleans() | numbers | hostile_text

json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=12,
)


def deeply_nested(depth: int) -> Any:
    """A list nested ``depth`` levels deep (json.loads recurses once per level)."""
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


# Nesting deep enough that json.loads runs out of stack.
DEEP_JSON = ("[" * 5000 + "]" * 5000).encode()


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


@st.composite
def mutated(draw: st.DrawFn, valid: Any, *, max_edits: int = 3) -> Any:
    """``valid`` with 1..max_edits structural edits: a value replaced (often by
    another type), a key or item removed, a key added, a list item duplicated."""
    doc = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, max_edits))):
        path = draw(st.sampled_from(_paths(doc)))
        op = draw(st.sampled_from(["replace", "replace", "delete", "add", "duplicate"]))
        if not path:
            if op == "replace":
                doc = draw(json_values)
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if op == "replace":
            parent[last] = draw(json_values | st.just(deeply_nested(draw(st.integers(1, 40)))))
        elif op == "delete":
            del parent[last]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(hostile_text)] = draw(json_values)
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(last, copy.deepcopy(parent[last]))
    return doc


def to_json_bytes(value: Any) -> bytes:
    # ensure_ascii writes lone surrogates as \\ud800 escapes: valid JSON that
    # decodes to a str no UTF-8 encoder accepts, which parsers must survive.
    return json.dumps(value).encode()


@st.composite
def byte_edits(draw: st.DrawFn, data: bytes, *, max_edits: int = 4) -> bytes:
    """``data`` with a few bytes replaced, inserted or deleted, or cut short."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, max_edits))):
        op = draw(st.sampled_from(["set", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if op == "set" and out:
            out[at] = draw(st.integers(0, 255))
        elif op == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and out:
            del out[at : at + draw(st.integers(1, 8))]
        elif op == "truncate":
            del out[at:]
    return bytes(out)


def documents(valid: Any) -> st.SearchStrategy[bytes]:
    """Bytes for a JSON parser: mutated valid documents (most), byte-level
    damage of the valid form, random JSON, random bytes, and deep nesting."""
    good = to_json_bytes(valid)
    return st.one_of(
        mutated(valid).map(to_json_bytes),
        byte_edits(good),
        json_values.map(to_json_bytes),
        st.binary(max_size=200),
        st.just(DEEP_JSON),
        st.just(good),
    )
