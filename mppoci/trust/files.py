"""Reading and writing the trust policy and rollback state, atomically and locked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mppoci.fsutil import atomic_write, locked
from mppoci.locations import Locations
from mppoci.trust.policy import TrustPolicy, parse_policy, policy_bytes
from mppoci.trust.rollback import RollbackState, parse_rollback, rollback_bytes


def policy_path(locations: Locations) -> Path:
    return locations.config / "trust.json"


def rollback_path(locations: Locations) -> Path:
    return locations.data / "rollback.json"


def load_policy(locations: Locations) -> TrustPolicy:
    """The trust policy; a missing file is the empty policy, which trusts nothing."""
    path = policy_path(locations)
    try:
        return parse_policy(path.read_bytes())
    except FileNotFoundError:
        return TrustPolicy()


def load_rollback(locations: Locations) -> RollbackState:
    try:
        return parse_rollback(rollback_path(locations).read_bytes())
    except FileNotFoundError:
        return RollbackState()


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with locked(path.with_name(path.name + ".lock")):
        yield


def update_policy(
    locations: Locations, change: Callable[[TrustPolicy], TrustPolicy]
) -> TrustPolicy:
    """Apply ``change`` to the policy under a lock and write it atomically."""
    path = policy_path(locations)
    with _exclusive(path):
        policy = change(load_policy(locations))
        atomic_write(path, policy_bytes(policy), mode=0o644)
    return policy


def update_rollback(
    locations: Locations, change: Callable[[RollbackState], RollbackState]
) -> RollbackState:
    path = rollback_path(locations)
    with _exclusive(path):
        before = load_rollback(locations)
        after = change(before)
        if after is not before:
            atomic_write(path, rollback_bytes(after))
    return after
