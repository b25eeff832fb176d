"""``mppoci.api.run`` (the first release's API, kept as a shim) reads no
lock file unless the caller names one, as before: an ``mppoci.lock`` lying
in the working folder (a cloned repository) does not re-point its references."""

from __future__ import annotations

from pathlib import Path

import pytest

from mppoci import api
from mppoci.digest import Digest
from mppoci.errors import NotFoundError
from mppoci.locations import locate
from mppoci.lockfile import LOCK_FILE, Pin, add_pin


def test_api_run_ignores_a_lock_file_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tmp_path / "cloned-repo"
    workspace.mkdir()
    add_pin(workspace / LOCK_FILE, "acme/word-count", Pin(Digest("sha256:" + "0" * 64), None))
    monkeypatch.chdir(workspace)
    locations = locate({"MPPOCI_HOME": str(tmp_path / "home")})
    with pytest.raises(NotFoundError) as caught:
        api.run("acme/word-count", locations=locations)
    # As before: the reference is looked up in the store, not the pinned digest.
    assert "0" * 64 not in caught.value.message
