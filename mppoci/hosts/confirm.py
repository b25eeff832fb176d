"""Asking a person before a tool that may change things runs. Pure, apart
from the random key of :class:`Tickets`.

The question goes to the MCP client as an elicitation (a form with one
boolean, ``confirm``), which the client shows to its user. Only an explicit
"accept" with ``confirm: true`` is a yes; decline, cancel, an error, or a
client that cannot ask is a no, and the tool does not run.

On handshake-era connections (protocol up to 2025-11-25) the server sends
``elicitation/create`` to the client. On 2026-07-28 connections a server may
not send requests; the call instead returns ``InputRequiredResult`` with the
same elicitation embedded and an opaque ``requestState``, and the client
retries the call with the answer. That state is a :class:`Tickets` ticket:
HMAC-signed, bound to the tool and the exact arguments, short-lived and
redeemable once, so an answer cannot be replayed for another call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import mcp_types as types

from mppoci.hosts.content import arguments_digest
from mppoci.manifest import Manifest, Tool
from mppoci.text import terminal_safe

FIELD = "confirm"
INPUT_KEY = "mppoci.confirm"
TICKET_SECONDS = 600.0
SHOWN_VALUE = 200  # characters of one argument value (or path) before its middle is elided
SHOWN_VALUES = 64  # argument values in one question; more are refused, never cut
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# A run of blanks long enough to push the rest of a value onto a terminal
# row of its own, where it would read as another argument line.
_BLANK_RUN = re.compile(r"\s{4,}")


def supports_form(capabilities: types.ClientCapabilities | None) -> bool:
    """Whether the client declared form elicitation (an empty ``elicitation``
    object means form, as before 2025-11-25 added the modes)."""
    if capabilities is None or capabilities.elicitation is None:
        return False
    e = capabilities.elicitation
    return e.form is not None or e.url is None


def _path(parent: str, key: str) -> str:
    if _PLAIN_KEY.fullmatch(key):
        return f"{parent}.{key}" if parent else key
    quoted = json.dumps(key, ensure_ascii=False)
    return f"{parent}[{quoted}]"


def _leaves(value: Any, path: str, out: list[tuple[str, str]]) -> None:
    # Every scalar the tool receives gets a line of its own, however deep it
    # sits: a nested {"recursive": true} is an argument like any other.
    if isinstance(value, dict) and value:
        for key in sorted(value, key=str):
            _leaves(value[key], _path(path, str(key)), out)
    elif isinstance(value, list) and value:
        for index, sub in enumerate(value):
            _leaves(sub, f"{path}[{index}]", out)
    else:
        out.append((path, json.dumps(value, ensure_ascii=False, sort_keys=True)))


def _shown(text: str) -> str:
    """``text`` with each run of 4+ blanks written as its length."""
    return _BLANK_RUN.sub(lambda m: f"«{len(m.group())} blanks»", text)


def _elided(text: str) -> str:
    """``text`` whole, or its two ends around the number of characters it has."""
    if len(text) <= SHOWN_VALUE:
        return text
    keep = (SHOWN_VALUE - 20) // 2
    return f"{text[:keep]}…({len(text)} chars)…{text[-keep:]}"


def _unseen(text: str) -> int:
    """How many characters of ``text`` :func:`_elided` leaves out."""
    return 0 if len(text) <= SHOWN_VALUE else len(text) - 2 * ((SHOWN_VALUE - 20) // 2)


def _leaf_list(arguments: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    leaves: list[tuple[str, str]] = []
    for key in sorted(arguments, key=str):
        _leaves(arguments[key], _path("", str(key)), leaves)
        if len(leaves) > SHOWN_VALUES:
            return None
    return leaves


def argument_lines(arguments: Mapping[str, Any]) -> list[str] | None:
    """One line per argument value (``path = JSON value``), sorted, escaped
    for display, long values elided in the middle with their length; None
    when there are too many values to show them all."""
    leaves = _leaf_list(arguments)
    if leaves is None:
        return None
    # Escaped after eliding, so an escape is never cut in half; the path is
    # escaped too, as keys come from the model like values.
    return [
        f"  {terminal_safe(_elided(_shown(path)))} = {terminal_safe(_elided(_shown(v)))}"
        for path, v in leaves
    ]


def unseen_lines(arguments: Mapping[str, Any]) -> list[str]:
    """For each elided value (or key path), a line saying how many of its
    characters are not shown, with the SHA-256 of the whole arguments: an
    elided middle could hide ``; rm -rf ~ ;``, and the person should know
    that something is unseen and be able to check what it was."""
    leaves = _leaf_list(arguments) or []
    notes: list[tuple[str, int]] = []
    for raw_path, raw_value in leaves:
        path, value = _shown(raw_path), _shown(raw_value)
        if _unseen(path):
            notes.append((f"key path {terminal_safe(_elided(path))}", _unseen(path)))
        if _unseen(value):
            notes.append((f"value {terminal_safe(_elided(path))}", _unseen(value)))
    if not notes:
        return []
    digest = arguments_digest(arguments)
    return [
        f"  ({what}: {count} characters not shown; {digest} of all the arguments, canonical JSON)"
        for what, count in notes
    ]


def too_large_to_show(arguments: Mapping[str, Any]) -> str | None:
    """Why these arguments cannot be put to a person, or None when they can.

    A question that showed only some of them could hide the one that
    matters, so such a call is refused instead of asked."""
    if argument_lines(arguments) is not None:
        return None
    return (
        f"its arguments have more than {SHOWN_VALUES} values, too many to show in a "
        "confirmation, and mppoci does not ask about arguments it cannot show; "
        "call the tool with fewer values"
    )


def question(manifest: Manifest, tool: Tool, arguments: Mapping[str, Any]) -> str:
    """The words the person sees: the package, the tool, and every argument.

    Raises:
        ValueError: when the arguments are too many to show
            (check :func:`too_large_to_show` first).
    """
    lines = argument_lines(arguments)
    if lines is None:
        raise ValueError("the arguments are too many to show; refuse the call")
    kind = "may change or delete things" if tool.annotations.destructive else "may change things"
    shown = "\n".join(lines + unseen_lines(arguments)) if lines else "  (none)"
    return (
        f"Allow {manifest.name} {manifest.version} (publisher {manifest.publisher}) "
        f"to run its tool {tool.name!r}? It is not read-only and {kind}.\n"
        f"Arguments ({len(lines)}, every one shown; … marks the middle of a long value left out):\n"
        f"{shown}\n"
        "It runs in a fresh sandbox with only the permissions you approved."
    )


def requested_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            FIELD: {
                "type": "boolean",
                "title": "Run this tool",
                "description": "Check to let the tool run this once.",
                "default": False,
            }
        },
        "required": [FIELD],
    }


def elicitation(message: str) -> types.ElicitRequest:
    return types.ElicitRequest(
        params=types.ElicitRequestFormParams(message=message, requested_schema=requested_schema())
    )


def answered_yes(answer: types.ElicitResult) -> bool:
    return answer.action == "accept" and (answer.content or {}).get(FIELD) is True


def refusal(answer: types.ElicitResult | None, reason: str = "") -> str:
    """Why the tool did not run, for the model and the person."""
    if reason:
        return f"The tool did not run: {reason}."
    if answer is None or answer.action == "cancel":
        return "The tool did not run: the confirmation was cancelled."
    if answer.action == "decline":
        return "The tool did not run: the user declined."
    return "The tool did not run: the user did not confirm it."


class Tickets:
    """Signed, single-use ``requestState`` values for 2026-07-28 confirmations."""

    def __init__(
        self,
        key: bytes | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        lifetime: float = TICKET_SECONDS,
    ) -> None:
        self._key = key or secrets.token_bytes(32)
        self._clock = clock
        self._lifetime = lifetime
        self._redeemed: dict[str, float] = {}
        self._lock = threading.Lock()

    def _mac(self, body: bytes) -> str:
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()

    def issue(self, tool: str, args_digest: str) -> str:
        body = json.dumps(
            {
                "tool": tool,
                "args": args_digest,
                "nonce": secrets.token_hex(16),
                "expires": self._clock() + self._lifetime,
            },
            sort_keys=True,
        ).encode()
        return base64.urlsafe_b64encode(body).decode() + "." + self._mac(body)

    def redeem(self, state: str, tool: str, args_digest: str) -> bool:
        """True once for a genuine, unexpired ticket of this exact call."""
        encoded, _, mac = state.partition(".")
        try:
            body = base64.urlsafe_b64decode(encoded.encode())
        except ValueError:
            return False
        if not hmac.compare_digest(self._mac(body), mac):
            return False
        claims = json.loads(body)
        now = self._clock()
        if claims["tool"] != tool or claims["args"] != args_digest or claims["expires"] < now:
            return False
        with self._lock:
            self._redeemed = {n: t for n, t in self._redeemed.items() if t >= now}
            if claims["nonce"] in self._redeemed:
                return False
            self._redeemed[claims["nonce"]] = claims["expires"]
        return True
