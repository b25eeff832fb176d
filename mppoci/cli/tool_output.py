"""A tool's output on the way to a terminal, escaped so it cannot pass for
mppoci's own words.

A tool writes what it likes to stdout and stderr. Sent to a terminal as is,
it could clear the screen, retitle the window, or print a line that looks
like ``mppoci: ...`` (a carriage return overwriting the real one). When the
stream is a terminal, :class:`TerminalSafeWriter` decodes the bytes as UTF-8
(undecodable bytes shown as ``\\xNN``) and writes them through
:func:`mppoci.text.terminal_safe` with newlines and tabs kept. A pipe or a
file gets the exact bytes: scripts keep what the tool wrote.
"""

from __future__ import annotations

import codecs
import io
from typing import IO, BinaryIO

from mppoci.app import terminal_safe


class TerminalSafeWriter(io.BufferedIOBase, BinaryIO):
    """A binary stream that escapes what it is given and writes it to ``target``."""

    def __init__(self, target: IO[bytes]) -> None:
        super().__init__()
        self._target = target
        # A UTF-8 sequence split across two writes is kept until it is whole.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="backslashreplace")

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview, /) -> int:  # type: ignore[override]
        text = self._decoder.decode(bytes(data))
        if text:
            self._target.write(terminal_safe(text, multiline=True).encode("utf-8"))
        return len(data)

    def flush(self) -> None:
        self._target.flush()

    def finish(self) -> None:
        """Write out a UTF-8 sequence the tool left unfinished (escaped)."""
        rest = self._decoder.decode(b"", final=True)
        if rest:
            self._target.write(terminal_safe(rest, multiline=True).encode("utf-8"))
        self._target.flush()


def for_terminal(target: IO[bytes], *, is_terminal: bool, raw: bool) -> IO[bytes]:
    """``target`` itself for a pipe, a file or ``--raw-output``; escaped for a terminal."""
    if raw or not is_terminal:
        return target
    return TerminalSafeWriter(target)
