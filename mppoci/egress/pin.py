"""Which image the egress gateway (and the relay) runs on, pinned by image ID.

The gateway is what enforces a grant, so it never follows a tag at run time:
``mppoci runtime build python3`` records the image ID it built in the data
folder, and every run uses that ID. With no record yet, the first run records
what the local python3 runtime is then (trust on first use) and later runs
keep it, even if the tag moves. ``MPPOCI_GATEWAY_IMAGE=sha256:...`` overrides
both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mppoci.digest import Digest, is_digest
from mppoci.errors import RuntimeEngineError, UserInputError
from mppoci.fsutil import atomic_write, read_optional
from mppoci.locations import Locations

PIN_FILE = "egress-gateway-image"
ENV = "MPPOCI_GATEWAY_IMAGE"


@dataclass(frozen=True, slots=True)
class Choice:
    image: Digest
    record: bool  # the caller writes it as the pin (first use)


def choose(explicit: str | None, pinned: str | None, tagged: str | None) -> Choice:
    """The gateway's image from the override, the recorded pin and what the
    python3 tag names now, in that order. Pure.

    Raises UserInputError (a bad override), RuntimeEngineError (nothing to run)."""
    if explicit:
        if not explicit.startswith("sha256:") or not is_digest(explicit):
            raise UserInputError(
                f"{ENV}={explicit} is not an image ID",
                hint="give sha256:<64 hex digits> (`docker image inspect -f {{.Id}} IMAGE`)",
            )
        return Choice(Digest(explicit), False)
    if pinned:
        return Choice(Digest(pinned), False)
    if tagged:
        return Choice(Digest(tagged), True)
    raise RuntimeEngineError(
        "the egress gateway runs on the python3 runtime, which is not built here",
        hint="run `mppoci runtime build python3`",
    )


def _pin_path(locations: Locations) -> Path:
    return locations.data / PIN_FILE


def read_pin(locations: Locations) -> str | None:
    raw = read_optional(_pin_path(locations))
    if raw is None:
        return None
    text = raw.decode("ascii", errors="replace").strip()
    if not is_digest(text):
        raise RuntimeEngineError(
            f"{_pin_path(locations)} does not hold an image ID",
            hint="run `mppoci runtime build python3` to pin the gateway again",
        )
    return text


def write_pin(locations: Locations, image_id: str) -> None:
    locations.data.mkdir(parents=True, exist_ok=True)
    atomic_write(_pin_path(locations), (image_id + "\n").encode("ascii"))


def gateway_image(locations: Locations, environ: Mapping[str, str]) -> Digest:
    """The pinned gateway image (recorded on first use). Raises Error subclasses."""
    from mppoci.runtimes.images import local_runtime_id

    pinned = read_pin(locations)
    explicit = environ.get(ENV)
    tagged = None if (explicit or pinned) else local_runtime_id("python3")
    choice = choose(explicit, pinned, tagged)
    if choice.record:
        write_pin(locations, choice.image)
    return choice.image
