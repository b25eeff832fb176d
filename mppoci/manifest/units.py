"""Reading the manifest's units: byte quantities, durations and CPU counts.

Pure functions on values. Every error is a :class:`UnitError` whose message is
written for the author of the manifest.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

KI = 1024
MI = 1024 * KI
GI = 1024 * MI
TI = 1024 * GI

_QUANTITY = re.compile(r"([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?", re.ASCII)
_SUFFIX = {
    "": 1,
    "k": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "Ki": KI,
    "Mi": MI,
    "Gi": GI,
    "Ti": TI,
}
_DURATION = re.compile(r"([0-9]+)(ms|s|m|h)", re.ASCII)
_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
_DECIMAL = re.compile(r"([0-9]+)(?:\.([0-9]+))?", re.ASCII)

# Every value we accept is far shorter; the cap keeps the arithmetic below
# cheap on hostile input (and under Python's int-from-text digit limit).
MAX_TEXT = 32

QUANTITY_HELP = "a quantity such as 256Mi (bytes, or a number with Ki, Mi, Gi, Ti, k, M, G or T)"
DURATION_HELP = "a duration such as 30s (a whole number with ms, s, m or h)"
CPUS_HELP = "a decimal number of CPUs with at most 3 decimals, such as 0.5"


class UnitError(ValueError):
    """A value is not in the unit's syntax. The message is for the manifest author."""


def parse_quantity(value: str | int) -> int:
    """Bytes in a Kubernetes-style quantity (``"256Mi"``, ``"1.5G"``) or a plain
    int of bytes, rounded up to a whole byte.

    Raises:
        UnitError: not a quantity.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise UnitError(f"must be {QUANTITY_HELP}")
        return value
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise UnitError(f"must be {QUANTITY_HELP}")
    match = _QUANTITY.fullmatch(value)
    if match is None:
        raise UnitError(f"must be {QUANTITY_HELP}")
    number, suffix = match.group(1), match.group(2) or ""
    return math.ceil(Fraction(number) * _SUFFIX[suffix])


def parse_duration(text: str) -> int:
    """Milliseconds in a duration such as ``"30s"``, ``"500ms"``, ``"5m"``, ``"1h"``.

    Milliseconds are kept as an int so that the value is exact and compares
    the same after every round trip.

    Raises:
        UnitError: not a duration.
    """
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise UnitError(f"must be {DURATION_HELP}")
    match = _DURATION.fullmatch(text)
    if match is None:
        raise UnitError(f"must be {DURATION_HELP}")
    return int(match.group(1)) * _DURATION_MS[match.group(2)]


def parse_cpus(value: str | int | float) -> int:
    """Millicores in a CPU count: ``"0.5"`` or ``0.5`` gives 500, ``2`` gives 2000.

    A float from YAML is read through its shortest decimal form (``repr``), so
    ``0.5`` and ``"0.5"`` mean the same.

    Raises:
        UnitError: not a decimal with at most 3 decimals.
    """
    if isinstance(value, bool):
        raise UnitError(f"must be {CPUS_HELP}")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, str):
        text = value
    else:
        raise UnitError(f"must be {CPUS_HELP}")
    if len(text) > MAX_TEXT:
        raise UnitError(f"must be {CPUS_HELP}")
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise UnitError(f"must be {CPUS_HELP}")
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > 3:
        raise UnitError(f"must be {CPUS_HELP}")
    return int(whole) * 1000 + int(fraction.ljust(3, "0"))


def format_cpus(millicores: int) -> str:
    """The shortest decimal text of a CPU count: 500 gives ``"0.5"``, 1000 gives ``"1"``."""
    whole, rest = divmod(millicores, 1000)
    if rest == 0:
        return str(whole)
    return f"{whole}.{rest:03d}".rstrip("0")
