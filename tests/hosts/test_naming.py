"""Tool names as an MCP client sees them, with one package and with several."""

from __future__ import annotations

import pytest

from mppoci.errors import UserInputError
from mppoci.hosts.naming import SEPARATOR, expose, short_name
from tests.hosts.helpers import manifest


def test_one_package_keeps_the_declared_names() -> None:
    exposed = expose([manifest("acme/echo", "say", "wipe")])
    assert list(exposed) == ["say", "wipe"]
    assert exposed["say"].package == 0 and exposed["say"].tool.name == "say"


def test_several_packages_prefix_each_name_with_the_short_name() -> None:
    exposed = expose([manifest("acme/echo", "say"), manifest("tools/word-count", "count", "say")])
    assert SEPARATOR == "_"
    assert list(exposed) == ["echo_say", "word-count_count", "word-count_say"]
    assert exposed["word-count_say"].package == 1
    assert exposed["word-count_say"].tool.name == "say"


def test_short_name_is_the_part_after_the_publisher() -> None:
    assert short_name("acme/csv.query") == "csv.query"


def test_underscores_inside_names_are_looked_up_not_split() -> None:
    exposed = expose([manifest("acme/a_b", "c_d"), manifest("acme/x", "y")])
    assert exposed["a_b_c_d"].tool.name == "c_d" and exposed["a_b_c_d"].package == 0


def test_names_that_would_collide_are_refused() -> None:
    with pytest.raises(UserInputError, match=r"would mean both acme/a .*acme/a_b"):
        expose([manifest("acme/a", "b_c"), manifest("acme/a_b", "c")])


def test_same_short_name_from_two_publishers_collides_only_on_equal_tools() -> None:
    exposed = expose([manifest("acme/echo", "say"), manifest("other/echo", "shout")])
    assert list(exposed) == ["echo_say", "echo_shout"]
    with pytest.raises(UserInputError, match="echo_say"):
        expose([manifest("acme/echo", "say"), manifest("other/echo", "say")])


def test_a_package_named_twice_is_refused() -> None:
    with pytest.raises(UserInputError, match="named twice"):
        expose([manifest("acme/echo", "say"), manifest("acme/echo", "say", version="2.0.0")])
