"""Which image the egress gateway runs on (mppoci.egress.pin): pure choice."""

from __future__ import annotations

from pathlib import Path

import pytest

from mppoci.egress.pin import choose, gateway_image, read_pin, write_pin
from mppoci.errors import RuntimeEngineError, UserInputError
from mppoci.locations import Locations

PINNED = "sha256:" + "a" * 64
RETAGGED = "sha256:" + "b" * 64
OVERRIDE = "sha256:" + "c" * 64


def test_a_retagged_python3_runtime_does_not_become_the_gateway_once_pinned() -> None:
    choice = choose(None, PINNED, RETAGGED)
    assert choice.image == PINNED
    assert choice.record is False


def test_the_first_use_records_what_the_tag_names_then() -> None:
    choice = choose(None, None, RETAGGED)
    assert (choice.image, choice.record) == (RETAGGED, True)


def test_an_explicit_image_id_overrides_the_pin() -> None:
    assert choose(OVERRIDE, PINNED, RETAGGED).image == OVERRIDE


@pytest.mark.parametrize("override", ["mppoci-runtime/python3:latest", "sha256:abc", "python3"])
def test_an_override_that_is_not_an_image_id_is_refused(override: str) -> None:
    with pytest.raises(UserInputError, match="is not an image ID"):
        choose(override, PINNED, RETAGGED)


def test_no_runtime_and_no_pin_is_an_error_with_what_to_do() -> None:
    with pytest.raises(RuntimeEngineError) as caught:
        choose(None, None, None)
    assert "mppoci runtime build python3" in caught.value.diagnostics()


def test_the_pin_is_kept_in_the_data_folder_and_read_back(tmp_path: Path) -> None:
    locations = Locations(config=tmp_path / "c", data=tmp_path / "d", state=tmp_path / "s")
    assert read_pin(locations) is None
    write_pin(locations, PINNED)
    assert read_pin(locations) == PINNED
    # Pinned: the tag is not even looked up (no engine is needed for this call).
    assert gateway_image(locations, {}) == PINNED


def test_a_pin_file_that_holds_no_image_id_fails_closed(tmp_path: Path) -> None:
    locations = Locations(config=tmp_path / "c", data=tmp_path / "d", state=tmp_path / "s")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "egress-gateway-image").write_text("mppoci-runtime/python3:latest\n")
    with pytest.raises(RuntimeEngineError, match="does not hold an image ID"):
        gateway_image(locations, {})
