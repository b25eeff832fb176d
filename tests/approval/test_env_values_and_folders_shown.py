"""What the approval screen says about fixed environment values and required
folders, and that the approval binds them."""

from __future__ import annotations

from mppoci.approval.binding import approval_digest
from mppoci.approval.words import permission_lines
from mppoci.manifest import Manifest, parse_source, permissions_digest
from tests.conftest import SAMPLE_MANIFEST

FIXED = """\
permissions:
  env:
    - {name: PYTHONPATH, why: the vendored dependencies, value: /pkg/vendor}
    - {name: TOKEN, why: auth, secret: true}
"""
FOLDER = """\
permissions:
  filesystem:
    - {name: repo, path: /repo, why: the repository to read%s}
"""


def _manifest(text: str) -> Manifest:
    return parse_source(text.encode())


def test_a_fixed_value_is_shown_as_set_in_the_tools_environment() -> None:
    lines = permission_lines(_manifest(SAMPLE_MANIFEST + FIXED))
    assert (
        "Set PYTHONPATH=/pkg/vendor in the tool's environment: the vendored dependencies" in lines
    )
    assert "Receive the secret environment variable TOKEN: auth" in lines


def test_the_approval_binds_a_fixed_value() -> None:
    base = approval_digest(_manifest(SAMPLE_MANIFEST + FIXED))
    changed = FIXED.replace("/pkg/vendor", "/pkg/evil")
    assert approval_digest(_manifest(SAMPLE_MANIFEST + changed)) != base
    passed = FIXED.replace(", value: /pkg/vendor", "")
    assert approval_digest(_manifest(SAMPLE_MANIFEST + passed)) != base


def test_required_changes_neither_the_approval_sentences_nor_the_binding() -> None:
    optional = _manifest(SAMPLE_MANIFEST + FOLDER % "")
    required = _manifest(SAMPLE_MANIFEST + FOLDER % ", required: true")
    assert permission_lines(required) == permission_lines(optional)
    # It grants nothing more: an update that only adds it is still approved
    # (a changed binding would ask again, and could not say what changed).
    assert approval_digest(required) == approval_digest(optional)
    assert permissions_digest(required) != permissions_digest(optional)
    # The folder itself stays bound.
    other = _manifest(SAMPLE_MANIFEST + (FOLDER % ", required: true").replace("/repo", "/src"))
    assert approval_digest(other) != approval_digest(required)
