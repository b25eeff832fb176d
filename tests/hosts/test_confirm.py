"""Confirmation of tools that may change things: who can be asked, what a yes
is, and the single-use tickets of 2026-07-28 connections."""

from __future__ import annotations

import mcp_types as types

from mppoci.hosts.confirm import (
    FIELD,
    Tickets,
    answered_yes,
    question,
    refusal,
    requested_schema,
    supports_form,
)
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
    assert "acme/files 1.0.0" in text and "'rm'" in text and '"/x"' in text
    long = question(manifest("acme/files", "rm"), Tool("rm", "remove"), {"p": "y" * 5000})
    assert len(long) < 1000


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
