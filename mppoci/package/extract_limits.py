"""The extractor's size and count limits: each cap of :class:`Limits` that an
archive can exceed, checked in one place, with one message.

Pure: the callers keep the running totals and ask here whether the next
step would go over."""

from __future__ import annotations

from mppoci.errors import LimitExceededError
from mppoci.limits import KiB, Limits
from mppoci.package.extract_messages import label

# Slack on top of two paths (a pax path and linkpath, or GNU long name and
# long link) for the fixed header blocks and the small pax records (mtime,
# uid, ...) that legitimate archivers add.
HEADER_SLACK = 16 * KiB

_LIMIT_HINT = (
    "the package is bigger than mppoci accepts; if it is genuine, ask its publisher to "
    "make it smaller (split data out, or ship fewer files)"
)


def check_entries(name: str, entries: int, limits: Limits) -> None:
    """``entries`` counts every entry so far, ``name`` included."""
    if entries > limits.files:
        raise LimitExceededError(
            f"archive entry {label(name)}: the archive has more than {limits.files} "
            "entries (limits.files)",
            hint=_LIMIT_HINT,
        )


def check_declared_size(name: str, size: int, before: int, limits: Limits) -> None:
    """The file ``name`` declares ``size`` bytes after ``before`` bytes of
    earlier files."""
    if size > limits.unpacked_bytes - before:
        raise LimitExceededError(
            f"archive entry {label(name)}: declares {size} bytes; with the "
            f"{before} bytes before it the package would unpack to more than "
            f"{limits.unpacked_bytes} bytes (limits.unpacked_bytes)",
            hint=_LIMIT_HINT,
        )


def check_written(name: str, total: int, limits: Limits) -> None:
    """``total`` bytes have actually been written so far, the file ``name``
    included: a declared size that lies must not get past the cap."""
    if total > limits.unpacked_bytes:
        raise LimitExceededError(
            f"archive entry {label(name)}: the package unpacks to more than "
            f"{limits.unpacked_bytes} bytes (limits.unpacked_bytes)",
            hint=_LIMIT_HINT,
        )


def check_layer_bytes(count: int, limit: int, where: str) -> None:
    """``count`` compressed bytes have been read from the caller's stream."""
    if count > limit:
        raise LimitExceededError(
            f"package content is larger than {limit} bytes compressed "
            f"(limits.layer_bytes), {where}",
            hint=_LIMIT_HINT,
        )


def header_budget(limits: Limits) -> int:
    """How many bytes tarfile may read for the headers of one entry."""
    return 2 * limits.path_bytes + HEADER_SLACK


def check_header_bytes(count: int, budget: int, where: str) -> None:
    """``count`` bytes have been read for the headers of the current entry."""
    if count > budget:
        raise LimitExceededError(
            f"the headers of an archive entry are larger than {budget} bytes "
            f"(twice limits.path_bytes plus {HEADER_SLACK}), {where}",
            hint=_LIMIT_HINT,
        )
