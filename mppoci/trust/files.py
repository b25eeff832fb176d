"""Reading and writing the trust policy and rollback state, atomically and locked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mppoci.fsutil import locked_update, read_optional
from mppoci.locations import Locations
from mppoci.trust.policy import TrustPolicy, parse_policy, policy_bytes
from mppoci.trust.rollback import RollbackState, parse_rollback, rollback_bytes


def policy_path(locations: Locations) -> Path:
    return locations.config / "trust.json"


def rollback_path(locations: Locations) -> Path:
    return locations.data / "rollback.json"


def _policy(data: bytes | None) -> TrustPolicy:
    # A missing file is the empty policy, which trusts nothing.
    return TrustPolicy() if data is None else parse_policy(data)


def _rollback(data: bytes | None) -> RollbackState:
    return RollbackState() if data is None else parse_rollback(data)


def load_policy(locations: Locations) -> TrustPolicy:
    return _policy(read_optional(policy_path(locations)))


def load_rollback(locations: Locations) -> RollbackState:
    return _rollback(read_optional(rollback_path(locations)))


def update_policy(
    locations: Locations, change: Callable[[TrustPolicy], TrustPolicy]
) -> TrustPolicy:
    """Apply ``change`` to the policy under a lock and write it atomically."""
    return locked_update(policy_path(locations), _policy, policy_bytes, change)


def update_rollback(
    locations: Locations, change: Callable[[RollbackState], RollbackState]
) -> RollbackState:
    return locked_update(rollback_path(locations), _rollback, rollback_bytes, change)
