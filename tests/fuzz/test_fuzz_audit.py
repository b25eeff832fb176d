"""Fuzzing of the audit log: arbitrary lines, and valid chains damaged in
structured ways. Verification must report every change as a break (never
crash, never call a changed log intact); appending to a damaged log must work
or raise StoreError."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import example, given
from hypothesis import strategies as st

from mppoci.audit import log
from mppoci.audit.chain import GENESIS, line_hash, make_line, verify_lines
from mppoci.locations import Locations
from tests.fuzz.support import DEEP_JSON, byte_edits, json_values, parsed_or_our_error

pytestmark = pytest.mark.fuzz

KEY = ec.generate_private_key(ec.SECP256R1())
ACTOR = {"user": "ada", "uid": 1000, "host": "h", "pid": 1}


def _chain(count: int, *, signed: bool) -> list[bytes]:
    lines: list[bytes] = []
    prev = GENESIS
    for seq in range(1, count + 1):
        event = "audit.key" if signed and seq == 1 else "run"
        line = make_line(
            seq=seq,
            prev=prev,
            time=f"2024-01-01T00:00:{seq:02d}Z",
            event=event,
            actor=ACTOR,
            data={"package": "acme/a", "exit": seq},
            key=KEY if signed else None,
        )
        lines.append(line)
        prev = line_hash(line)
    return lines


CHAINS = {signed: _chain(5, signed=signed) for signed in (False, True)}


def test_the_seed_chains_verify() -> None:
    for signed, lines in CHAINS.items():
        report = verify_lines(lines, key=KEY.public_key() if signed else None)
        assert report.intact and report.records == 5
        assert report.signed == (5 if signed else 0)


hostile_lines = (
    st.binary(max_size=120)
    | json_values.map(lambda v: __import__("json").dumps(v).encode())
    | st.just(DEEP_JSON)
    | st.sampled_from(
        [
            b'{"seq": 1e400, "prev": ""}',
            b'{"seq": true, "prev": "x"}',
            b'{"seq": 2, "prev": "x", "sig": "\\ud800"}',
            b'{"seq": 1, "prev": "x", "sig": "AAAA", "data": NaN}',
        ]
    )
)


@st.composite
def damaged_chains(draw: st.DrawFn) -> tuple[bool, list[bytes]]:
    signed = draw(st.booleans())
    lines = list(CHAINS[signed])
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["edit", "delete", "swap", "duplicate", "insert", "replace"]))
        at = draw(st.integers(0, max(len(lines) - 1, 0)))
        if not lines:
            lines.append(draw(hostile_lines))
        elif op == "edit":
            lines[at] = draw(byte_edits(lines[at], max_edits=2))
        elif op == "delete":
            del lines[at]
        elif op == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif op == "duplicate":
            lines.insert(at, lines[at])
        elif op == "insert":
            lines.insert(at, draw(hostile_lines))
        else:
            lines[at] = draw(hostile_lines)
    return signed, lines


@given(st.lists(hostile_lines, max_size=6))
@example([DEEP_JSON])
def test_arbitrary_lines_are_reported_never_crash(lines: list[bytes]) -> None:
    report = verify_lines(lines, key=KEY.public_key())
    assert report.records == len(lines)
    assert all(1 <= p.line <= max(len(lines), 1) for p in report.problems)


@given(damaged_chains())
@example((False, [DEEP_JSON]))
def test_any_change_to_a_chain_is_reported_as_a_break(case: tuple[bool, list[bytes]]) -> None:
    signed, lines = case
    original = CHAINS[signed]
    # The checkpoint a previous `audit verify` kept: the head's seq and hash.
    checkpoint = (len(original), line_hash(original[-1]))
    report = verify_lines(lines, key=KEY.public_key() if signed else None, checkpoint=checkpoint)
    assert report.intact == (lines == original)


def _locations(root: Path) -> Locations:
    return Locations(config=root / "config", data=root / "data", state=root / "state")


@given(st.lists(hostile_lines, max_size=3), st.booleans())
@example([b'{"seq": 1e400, "prev": ""}'], True)
@example([b"[1]"], True)
@example([b'{"seq": null}'], True)
@example([DEEP_JSON], True)
def test_appending_to_a_damaged_log_works_or_raises_store_error(
    lines: list[bytes], terminated: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        where = _locations(Path(tmp))
        where.state.mkdir(parents=True)
        body = b"\n".join(lines) + (b"\n" if terminated and lines else b"")
        log.log_path(where).write_bytes(body)
        seq = parsed_or_our_error(lambda: log.append(where, "run", {"exit": 0}, signing_key=KEY))
        if seq is not None:
            written, _ = log.read_lines(where)
            assert written[-1] == written[-1].strip() and b'"event":"run"' in written[-1]
            assert f'"seq":{seq},'.encode() in written[-1]
        # Reading a damaged log for `audit show` never crashes either.
        list(log.records(where))
