"""--mount and --env of `mppoci serve` go to the packages that declare them."""

from __future__ import annotations

import pytest

from mppoci.errors import UserInputError
from mppoci.hosts.server import split_bindings
from tests.hosts.helpers import with_grants


def test_each_package_gets_only_what_it_declares() -> None:
    a = with_grants("acme/a", mounts=("data",), env=("TOKEN",))
    b = with_grants("acme/b", env=("TOKEN", "REGION"))
    ra, rb = split_bindings([a, b], {"data": "/srv"}, {"TOKEN": "t", "REGION": None})
    assert dict(ra.mounts) == {"data": "/srv"} and dict(ra.env) == {"TOKEN": "t"}
    assert dict(rb.mounts) == {} and dict(rb.env) == {"TOKEN": "t", "REGION": None}


def test_a_value_no_package_declares_is_refused() -> None:
    with pytest.raises(UserInputError, match="--env SECRET, --mount home"):
        split_bindings([with_grants("acme/a")], {"home": "/root"}, {"SECRET": "x"})
