"""The byte streams under tarfile: the extractor's reader of hostile archives.

Python's ``tarfile`` parses the headers, but it is treated as a parser of
hostile input with known weak spots (as of the Python 3.11 we support):

* it quietly ends the archive at a truncated or garbled header, so we accept
  the end only at a real end-of-archive block followed by zero padding;
* it reads a whole pax or GNU long-name header into memory, so we cap the
  bytes it may read for the headers of one entry;
* its pax parser is quadratic in long runs of digits (CVE-2024-6232), so we
  refuse such runs in headers before it sees them;
* its own gzip reader checks no CRC, so we decompress with zlib ourselves.

All of this relies on reading the tar stream in 512-byte blocks
(``bufsize=BLOCK``): then every byte tarfile asks for while looking for
the next entry belongs to that entry's headers, and nothing else.
"""

from __future__ import annotations

import contextlib
import errno
import re
import tarfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from mppoci.errors import StoreError, UnsafeArchiveError
from mppoci.limits import KiB, Limits, MiB
from mppoci.package.extract_limits import check_header_bytes, check_layer_bytes, header_budget
from mppoci.package.extract_messages import HOSTILE_HINT, label

BLOCK = tarfile.BLOCKSIZE
CHUNK = 64 * KiB

# No legitimate header holds a longer run of digits: a path component is at
# most NAME_MAX bytes, numeric fields at most 12.
_MAX_DIGIT_RUN = 256
# tarfile and GNU tar pad to a 10 KiB record; a big blocking factor may add more.
_MAX_TRAILING_ZEROS = 1 * MiB

_DIGITS = re.compile(rb"[0-9]+")


class Reader(Protocol):
    def read(self, size: int, /) -> bytes: ...


class Progress:
    """Where we are in the archive, for error messages raised deep in a stream."""

    def __init__(self, compressed: bool) -> None:
        self.compressed = compressed
        self.last_entry: str | None = None

    def where(self) -> str:
        if self.last_entry is None:
            return "at the start of the archive"
        return f"after archive entry {label(self.last_entry)}"

    def invalid(self, problem: str) -> UnsafeArchiveError:
        kind = "tar+gzip" if self.compressed else "tar"
        return UnsafeArchiveError(
            f"package content is not a valid {kind} archive: {problem} ({self.where()})",
            hint=HOSTILE_HINT,
        )


class LayerReader:
    """Counts the bytes read from the caller's stream against limits.layer_bytes."""

    def __init__(self, stream: BinaryIO, limit: int, progress: Progress) -> None:
        self._stream = stream
        self._limit = limit
        self._progress = progress
        self._count = 0

    def read(self, size: int, /) -> bytes:
        try:
            data = self._stream.read(size)
        except OSError as e:
            raise StoreError(
                f"cannot read the package content: {e}",
                hint="check that the store and its disk are readable, then try again",
            ) from e
        self._count += len(data)
        check_layer_bytes(self._count, self._limit, self._progress.where())
        return data


class Gunzip:
    """Decompresses exactly one gzip member, never more than asked per read.

    zlib checks the CRC and length trailer, which tarfile's own gzip reader
    skips. Content layers are written as one member with nothing after it, so
    trailing bytes are refused rather than guessed about."""

    def __init__(self, raw: Reader, progress: Progress) -> None:
        self._raw = raw
        self._progress = progress
        self._zlib = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        self._pending = b""
        self._done = False

    def read(self, size: int, /) -> bytes:
        while not self._done:
            if not self._pending:
                self._pending = self._raw.read(CHUNK)
                if not self._pending:
                    raise self._progress.invalid("the gzip stream ends early (truncated)")
            out = self._zlib.decompress(self._pending, size)
            self._pending = self._zlib.unconsumed_tail
            if self._zlib.eof:
                self._done = True
                if self._zlib.unused_data or self._raw.read(CHUNK):
                    raise self._progress.invalid("there is data after the end of the gzip stream")
            if out:
                return out
        return b""


class TarStream:
    """The tar bytes as tarfile sees them, with the guards described in the
    module docstring. Implements the file-object protocol tarfile needs."""

    def __init__(self, source: Reader, limits: Limits, progress: Progress) -> None:
        self._source = source
        self._progress = progress
        self._header_budget = header_budget(limits)
        self._buf = b""
        self._at = 0
        self._pos = 0
        self.start_headers()

    def start_headers(self) -> None:
        """Called before tarfile looks for the next entry."""
        self._in_headers = True
        self._header_bytes = 0
        self._headers_all_zero = True
        self._digit_run = 0

    def end_headers(self) -> None:
        """Called once tarfile has returned the next entry (or none)."""
        self._in_headers = False

    def read(self, size: int, /) -> bytes:
        data = self._take(size)
        if self._in_headers and data:
            self._screen(data)
        return data

    def finish(self) -> None:
        """Check, after tarfile has found no further entry, that the archive
        really ended there and that only zero padding follows."""
        if self._header_bytes != BLOCK or not self._headers_all_zero:
            raise self._progress.invalid(
                "the tar archive is truncated or has a damaged entry header "
                "where its end-of-archive marker should be"
            )
        trailing = 0
        while chunk := self._take(CHUNK):
            if chunk.count(0) != len(chunk):
                raise self._progress.invalid("there is data after the end-of-archive marker")
            trailing += len(chunk)
            if trailing > _MAX_TRAILING_ZEROS:
                raise self._progress.invalid(
                    f"more than {_MAX_TRAILING_ZEROS} bytes of padding follow the archive"
                )

    def _screen(self, data: bytes) -> None:
        self._header_bytes += len(data)
        check_header_bytes(self._header_bytes, self._header_budget, self._progress.where())
        if self._headers_all_zero and data.count(0) != len(data):
            self._headers_all_zero = False
        for match in _DIGITS.finditer(data):
            run = match.end() - match.start()
            if match.start() == 0:
                run += self._digit_run
            if run > _MAX_DIGIT_RUN:
                raise self._progress.invalid(
                    f"an entry header holds a run of more than {_MAX_DIGIT_RUN} digits"
                )
        last = data[-1:]
        if last.isdigit():
            tail = len(data) - len(data.rstrip(b"0123456789"))
            self._digit_run = tail + (self._digit_run if tail == len(data) else 0)
        else:
            self._digit_run = 0

    def _take(self, size: int) -> bytes:
        if self._at + size <= len(self._buf):
            data = self._buf[self._at : self._at + size]
            self._at += size
        else:
            parts = [self._buf[self._at :]]
            have = len(parts[0])
            self._buf, self._at = b"", 0
            while have < size:
                more = self._source.read(max(CHUNK, size - have))
                if not more:
                    break
                need = size - have
                if len(more) > need:
                    parts.append(more[:need])
                    self._buf, self._at = more, need
                    have = size
                else:
                    parts.append(more)
                    have += len(more)
            data = b"".join(parts)
        self._pos += len(data)
        return data

    # The rest of the file-object protocol tarfile expects; reading only.
    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, /) -> int:
        raise OSError(errno.ESPIPE, "the package content stream is not seekable")

    def write(self, data: bytes, /) -> int:
        raise OSError(errno.EBADF, "the package content stream is read-only")

    def close(self) -> None:
        pass


@contextlib.contextmanager
def archive_errors(progress: Progress) -> Iterator[None]:
    """Turn whatever tarfile or zlib raise on malformed input into our error.
    Besides TarError, tarfile lets ValueError, TypeError and the like escape
    from malformed numeric fields and sparse maps."""
    try:
        yield
    except (
        tarfile.TarError,
        zlib.error,
        EOFError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        OverflowError,
        RecursionError,
    ) as e:
        raise progress.invalid(str(e) or type(e).__name__) from e
