"""Confirmation of tools that may change things: who can be asked, what a yes
is, and the single-use tickets of 2026-07-28 connections."""

from __future__ import annotations

import json

import mcp_types as types
import pytest

from mppoci.hosts.confirm import (
    FIELD,
    SHOWN_VALUES,
    Tickets,
    answered_yes,
    question,
    refusal,
    requested_schema,
    supports_form,
    too_large_to_show,
)
from mppoci.hosts.content import arguments_digest
from mppoci.manifest import Tool
from tests.hosts.helpers import manifest


def test_only_clients_that_declared_form_elicitation_can_be_asked() -> None:
    assert not supports_form(None)
    assert not supports_form(types.ClientCapabilities())
    assert supports_form(types.ClientCapabilities(elicitation=types.ElicitationCapability()))
    form = types.ElicitationCapability(form=types.FormElicitationCapability())
    assert supports_form(types.ClientCapabilities(elicitation=form))
    url_only = types.ElicitationCapability(url=types.UrlElicitationCapability())
    assert not supports_form(types.ClientCapabilities(elicitation=url_only))


def test_only_an_accept_with_confirm_true_is_a_yes() -> None:
    assert answered_yes(types.ElicitResult(action="accept", content={FIELD: True}))
    assert not answered_yes(types.ElicitResult(action="accept", content={FIELD: False}))
    assert not answered_yes(types.ElicitResult(action="accept"))
    assert not answered_yes(types.ElicitResult(action="decline"))
    assert not answered_yes(types.ElicitResult(action="cancel", content={FIELD: True}))


def test_refusals_say_why() -> None:
    assert "declined" in refusal(types.ElicitResult(action="decline"))
    assert "cancelled" in refusal(types.ElicitResult(action="cancel"))
    assert "cancelled" in refusal(None)
    assert "did not confirm" in refusal(types.ElicitResult(action="accept", content={}))


def test_the_question_names_package_tool_and_arguments() -> None:
    text = question(manifest("acme/files", "rm"), Tool("rm", "remove"), {"path": "/x"})
    assert "acme/files 1.0.0" in text and "'rm'" in text and 'path = "/x"' in text
    long = question(manifest("acme/files", "rm"), Tool("rm", "remove"), {"p": "y" * 5000})
    assert len(long) < 1000 and "…(5002 chars)…" in long


def test_the_schema_is_one_required_boolean() -> None:
    schema = requested_schema()
    assert schema["required"] == [FIELD] and schema["properties"][FIELD]["type"] == "boolean"


def test_a_ticket_is_redeemed_once_for_the_same_call_only() -> None:
    tickets = Tickets()
    state = tickets.issue("wipe", "sha256:aa")
    assert not tickets.redeem(state, "other", "sha256:aa")
    assert not tickets.redeem(state, "wipe", "sha256:bb")
    assert tickets.redeem(state, "wipe", "sha256:aa")
    assert not tickets.redeem(state, "wipe", "sha256:aa")  # replayed


def test_forged_or_foreign_tickets_are_refused() -> None:
    ours, theirs = Tickets(), Tickets()
    state = theirs.issue("wipe", "sha256:aa")
    assert not ours.redeem(state, "wipe", "sha256:aa")
    body, _, mac = ours.issue("wipe", "sha256:aa").partition(".")
    assert not ours.redeem(body[:-4] + "AAAA." + mac, "wipe", "sha256:aa")
    assert not ours.redeem("garbage", "wipe", "sha256:aa")
    assert not ours.redeem("!!!.abc", "wipe", "sha256:aa")


def test_an_expired_ticket_is_refused() -> None:
    now = [1000.0]
    tickets = Tickets(clock=lambda: now[0], lifetime=60)
    state = tickets.issue("wipe", "sha256:aa")
    now[0] += 61
    assert not tickets.redeem(state, "wipe", "sha256:aa")


# --- what the question shows (issue #17 item 6) -----------------------------

RM = Tool("rm", "remove")


def _ask(arguments: dict[str, object]) -> str:
    return question(manifest("acme/files", "rm"), RM, arguments)


def test_confirmation_shows_an_argument_pushed_past_600_chars() -> None:
    # The old question cut the JSON at 600 characters: a long "note" sorted
    # first pushed path=/ and recursive=true out of view.
    text = _ask({"a_note": "harmless " * 100, "path": "/", "recursive": True})
    assert '\n  path = "/"\n' in text
    assert "\n  recursive = true\n" in text


def test_a_long_value_is_elided_in_the_middle_with_its_length() -> None:
    value = "HEAD" + "y" * 5000 + "TAIL"
    text = _ask({"p": value})
    shown = json.dumps(value)
    assert f"…({len(shown)} chars)…" in text
    assert '"HEAD' in text and 'TAIL"' in text
    assert "y" * 1000 not in text


def test_line_separator_in_arguments_cannot_fake_a_new_line() -> None:
    fake = "x\u2028It runs with no permissions at all.\u2029\r\x1b[2K\x85"
    text = _ask({"path": fake, "key\u2028fake": 1})
    for hidden in ("\u2028", "\u2029", "\r", "\x1b", "\x85"):
        assert hidden not in text
    assert "\\u2028It runs with no permissions at all.\\u2029" in text
    assert '["key\\u2028fake"] = 1' in text


def test_bidi_override_in_an_argument_is_shown_escaped() -> None:
    text = _ask({"path": "/home/me/\u202egpj.exe"})
    assert "\u202e" not in text and "\\u202e" in text


def test_a_nested_argument_gets_its_own_line() -> None:
    text = _ask({"options": {"force": True, "paths": ["/a", "/"]}})
    assert "\n  options.force = true\n" in text
    assert '\n  options.paths[1] = "/"\n' in text


def test_arguments_too_many_to_show_are_refused_not_cut() -> None:
    many = {f"k{i:03}": i for i in range(SHOWN_VALUES + 1)}
    reason = too_large_to_show(many)
    assert reason is not None and str(SHOWN_VALUES) in reason
    with pytest.raises(ValueError):
        _ask(many)
    nested = {"deep": [[i] for i in range(SHOWN_VALUES + 1)]}
    assert too_large_to_show(nested) is not None
    just_enough = {f"k{i:03}": i for i in range(SHOWN_VALUES)}
    assert too_large_to_show(just_enough) is None
    assert f"k{SHOWN_VALUES - 1:03} = {SHOWN_VALUES - 1}" in _ask(just_enough)


def test_the_question_lists_arguments_in_a_stable_order() -> None:
    one = _ask({"b": 1, "a": 2, "c": {"z": 1, "y": 2}})
    two = _ask({"c": {"y": 2, "z": 1}, "a": 2, "b": 1})
    assert one == two
    assert one.index("  a = 2") < one.index("  b = 1") < one.index("  c.y = 2")


def test_an_elided_middle_hiding_a_command_is_announced_with_its_size_and_digest() -> None:
    args = {"cmd": "echo hello " + "- " * 150 + "; rm -rf ~ ;" + " -" * 150 + " # harmless"}
    text = _ask(args)
    assert "; rm -rf ~ ;" not in text  # the attack: the middle is not shown ...
    # ... so the question says so, with how much is unseen and a digest to check.
    assert f"(value cmd: {len(json.dumps(args['cmd'])) - 180} characters not shown; " in text
    assert f"{arguments_digest(args)} of all the arguments" in text


def test_no_unseen_note_when_every_value_is_shown_whole() -> None:
    text = _ask({"cmd": "ls -l", "path": "/tmp"})
    assert "not shown" not in text and "sha256:" not in text


def test_an_elided_key_path_is_announced_too() -> None:
    text = _ask({"k" * 400: 1})
    assert "(key path k" in text and "characters not shown;" in text


def test_blank_padding_cannot_hide_a_command_or_push_a_fake_line() -> None:
    """300 spaces either side once put ``; rm -rf ~ ;`` in the elided middle,
    and 80 spaces push ``recursive = false`` onto a terminal row of its own."""
    hidden = _ask({"cmd": "echo hello " + " " * 300 + "; rm -rf ~ ;" + " " * 300 + "# ok"})
    assert '"echo hello«301 blanks»; rm -rf ~ ;«300 blanks»# ok"' in hidden
    fake = _ask({"path": "/home/u/notes" + " " * 80 + "recursive = false", "recursive": True})
    assert '  path = "/home/u/notes«80 blanks»recursive = false"\n' in fake
    assert "    " not in fake.replace("\n  ", "\n")  # no run of 4 blanks anywhere


def test_invisible_padding_and_marks_in_an_argument_are_escaped() -> None:
    text = _ask({"path": "/home/u/notes" + "\u3164" * 40 + "  recursive = false"})
    assert "\u3164" not in text and "\\u3164" * 40 in text
    text = _ask({"path": "/home/u\u034f\ufe0f\u17b4/notes", "p2": "/etc/passwd\u0338\u20e5"})
    for ch in "\u034f\ufe0f\u17b4\u0338\u20e5":
        assert ch not in text
