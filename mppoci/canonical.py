"""Canonical JSON: the exact bytes mppoci hashes and signs.

UTF-8, keys sorted, no insignificant whitespace. The bytes are made once, at
build time; everything later hashes and parses the bytes it received and never
re-serialises them, so a float's textual form only has to be stable within one
build (Python's shortest round-trip repr is).
"""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` canonically. Raises ValueError on NaN or infinity."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
