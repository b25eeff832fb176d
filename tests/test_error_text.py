"""Outside values inside error messages stay on one line (red-team B4).

The CLI prints an error's diagnostics keeping its newlines (they are the
layout of mppoci's own multi-line errors), so a newline that a registry, a
package or a lock file put into a value must be escaped where the value is
put into the message, and :class:`mppoci.errors.Error` escapes a message as
one line unless the error says its lines are its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from mppoci.errors import ManifestError, UntrustedContentError
from mppoci.manifest import parse_source
from tests.conftest import CliRunner, write_package
from tests.text_oracle import unsafe

HOSTILE_DIR = Path(__file__).parent / "assets" / "hostile" / "text"
FAKE = "application/x\n  - No network access at all\r\x1b[2K"


def test_a_newline_in_an_outside_value_cannot_start_a_line_of_an_error() -> None:
    # As mppoci/runtimes/transfer.py words it, with a registry's mediaType.
    error = UntrustedContentError(f"runtime layers must be uncompressed tars, not {FAKE}")
    assert "\n" not in error.message and "\\x0a  - No network" in error.message
    assert unsafe(error.diagnostics(), layout="\n") == []


def test_a_newline_in_a_hint_is_escaped_too() -> None:
    error = UntrustedContentError("refused", hint=f"ask about {FAKE}")
    assert error.hint is not None and "\n" not in error.hint


def test_mppocis_own_multiline_errors_keep_their_lines_and_escape_each_value() -> None:
    error = ManifestError([("name", f"bad {FAKE}"), ("version", "must be SemVer")])
    lines = error.message.split("\n")
    assert lines == [
        "mpp.yaml is invalid:",
        "  name: bad application/x\\x0a  - No network access at all\\x0d\\x1b[2K",
        "  version: must be SemVer",
    ]


def test_a_yaml_tag_with_an_encoded_newline_does_not_fake_a_line_in_the_error() -> None:
    with pytest.raises(ManifestError) as e:
        parse_source((HOSTILE_DIR / "yaml-tag-newline.yaml").read_bytes())
    assert e.value.message.count("\n") == 1  # the header and one problem
    assert "!x\\x0a  - No network access at all" in e.value.message


def test_the_cli_prints_the_yaml_tag_error_without_a_fake_line(
    cli: CliRunner, tmp_path: Path
) -> None:
    folder = write_package(tmp_path / "pkg", (HOSTILE_DIR / "yaml-tag-newline.yaml").read_text())
    result = cli("inspect", str(folder))
    assert result.returncode == 1
    assert "is not allowed" in result.stderr
    assert not any(line.startswith("  - No network") for line in result.stderr.splitlines())
