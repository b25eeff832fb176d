"""Progress bars on a terminal; nothing otherwise (output stays machine-readable)."""

from __future__ import annotations

import sys
from collections.abc import Callable


def _quiet(what: str, total: int) -> Callable[[int], None]:
    return lambda n: None


def _bar(what: str, total: int) -> Callable[[int], None]:
    done = 0

    def update(n: int) -> None:
        nonlocal done
        done += n
        share = done / total if total else 1.0
        filled = int(share * 30)
        sys.stderr.write(
            f"\r  {what}  [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%}  "
            f"{done / 1048576:.1f}/{total / 1048576:.1f} MiB"
        )
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return update


def factory() -> Callable[[str, int], Callable[[int], None]]:
    return _bar if sys.stderr.isatty() else _quiet
