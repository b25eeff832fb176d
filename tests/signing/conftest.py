"""The real cosign test vectors, kept in the repository (tests/assets/cosign,
with their provenance in its README). Missing vectors fail the tests: never skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

COSIGN_VECTORS = Path(__file__).resolve().parents[1] / "assets" / "cosign"

# A symlink in the upstream git repository arrives as a small file holding
# its target when copied without git (containers-image/dir-img-cosign-valid-2
# links its manifest and first signature to dir-img-cosign-valid).
_LINK_MAX_BYTES = 256


@pytest.fixture(scope="session")
def vectors() -> Path:
    if not (COSIGN_VECTORS / "README.md").is_file():
        pytest.fail(
            f"the cosign interop vectors are missing at {COSIGN_VECTORS}: "
            "they are part of the repository; restore them with git"
        )
    return COSIGN_VECTORS


@pytest.fixture(scope="session")
def read_vector(vectors: Path) -> Callable[[str], bytes]:
    """Bytes of a vector file by path relative to the vectors folder,
    following link files (see above) that stay inside the vectors folder."""

    def read(relative: str) -> bytes:
        path = vectors / relative
        data = path.read_bytes()
        if len(data) < _LINK_MAX_BYTES and data.startswith(b"../"):
            target = (path.parent / data.decode("ascii").strip()).resolve()
            assert target.is_relative_to(vectors), f"{relative} links outside the vectors"
            data = target.read_bytes()
        return data

    return read
