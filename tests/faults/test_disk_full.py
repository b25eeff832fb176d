"""Disk full during a pull: the mppoci home lives on a small tmpfs in a private
mount namespace (nothing outside the test sees it). The pull fails with a clear
error that says what to do, and the store is exactly as it was, still whole."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MPPOCI, run_mppoci, write_package
from tests.faults.conftest import Published, ok

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

# Runs inside the namespace: what the store shows, and whether it is whole.
SNAPSHOT = """
import hashlib, json, pathlib, sys
store = pathlib.Path(sys.argv[1]) / "data" / "store"
blobs = store / "blobs" / "sha256"
names = sorted(p.name for p in blobs.iterdir()) if blobs.is_dir() else []
whole = all(hashlib.sha256((blobs / n).read_bytes()).hexdigest() == n for n in names)
index = json.loads((store / "index.json").read_bytes())["manifests"]
print(json.dumps({"blobs": names, "index": index, "whole": whole}))
"""

# $1 mount point, $2 seed home, $3 python, $4 output folder, $5 mppoci, $6 ref, $7 size
SCRIPT = """
set -u
mount -t tmpfs -o size="$7" tmpfs "$1" || exit 90
cp -a "$2/." "$1/" || exit 91
"$3" "$4/snapshot.py" "$1" > "$4/before.json" || exit 92
MPPOCI_HOME="$1" "$5" pull "$6" > "$4/stdout" 2> "$4/stderr"
echo $? > "$4/rc"
"$3" "$4/snapshot.py" "$1" > "$4/after.json" || exit 93
MPPOCI_HOME="$1" "$5" audit verify > /dev/null 2> "$4/audit" || exit 94
"""


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_disk_full_during_a_pull_is_a_clear_error_and_the_store_is_unchanged(
    published: Published, tmp_path: Path
) -> None:
    unshare = shutil.which("unshare")
    assert unshare, "util-linux's unshare is missing"
    assert os.geteuid() == 0, "mounting a tmpfs in a private namespace needs root"
    seed = published.consumer
    # Something in the store already, so that "unchanged" means something.
    ok(run_mppoci(seed, "build", str(write_package(tmp_path / "small"))))
    out = tmp_path / "out"
    out.mkdir()
    (out / "snapshot.py").write_text(SNAPSHOT)
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    # Room for what is there and some slack, not for the 3 MiB layer.
    size = _size(seed) + 512 * 1024
    result = subprocess.run(
        [
            unshare,
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            SCRIPT,
            "sh",
            str(mount_point),
            str(seed),
            sys.executable,
            str(out),
            str(MPPOCI),
            published.ref(),
            str(size),
        ],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert result.returncode == 0, (result.returncode, result.stderr)
    assert not any(mount_point.iterdir())  # the tmpfs never showed outside
    rc = int((out / "rc").read_text())
    stderr = (out / "stderr").read_text()
    assert rc == 1, stderr
    assert "Traceback" not in stderr
    assert "no space left" in stderr.lower() and "What to do:" in stderr, stderr
    before = json.loads((out / "before.json").read_text())
    after = json.loads((out / "after.json").read_text())
    assert after == before
    assert after["whole"] and after["index"]
