"""What every command needs from its environment, read once."""

from __future__ import annotations

import os

from mppoci.errors import UserInputError
from mppoci.locations import Locations, locate
from mppoci.store import Store


def locations() -> Locations:
    return locate(os.environ)


def store() -> Store:
    return Store(locations().store)


def source_date_epoch() -> int | None:
    """SOURCE_DATE_EPOCH (reproducible-builds.org), if set."""
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise UserInputError(
            f"SOURCE_DATE_EPOCH={value!r} is not a number of seconds",
            hint="set it to a Unix time, e.g. $(git log -1 --format=%ct), or unset it",
        )
    return int(value)
