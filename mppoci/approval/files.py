"""The approvals file (``<data>/approvals.json``), read and updated under a lock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mppoci.approval.records import Approvals, approvals_bytes, parse_approvals
from mppoci.fsutil import locked_update, read_optional
from mppoci.locations import Locations


def approvals_path(locations: Locations) -> Path:
    return locations.data / "approvals.json"


def _parse(data: bytes | None) -> Approvals:
    return Approvals() if data is None else parse_approvals(data)


def load_approvals(locations: Locations) -> Approvals:
    return _parse(read_optional(approvals_path(locations)))


def update_approvals(locations: Locations, change: Callable[[Approvals], Approvals]) -> Approvals:
    return locked_update(approvals_path(locations), _parse, approvals_bytes, change)
