"""A signed package in a test's mppoci home, through the real CLI."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import CliRunner


def publish(
    cli: CliRunner, folder: Path, *, name: str = "acme/word-count", approve: bool = False
) -> None:
    """Build ``folder``, sign it with a new key trusted for its publisher
    (kept next to the folder), and approve it when asked to."""
    key = str(folder.parent / "k")
    steps = [
        ("build", str(folder)),
        ("key", "generate", "--output-key-prefix", key),
        ("trust", "add", f"{key}.pub", "--publisher", name.split("/")[0]),
        ("sign", name, "--key", f"{key}.key"),
    ]
    if approve:
        steps.append(("approve", name, "--yes"))
    for args in steps:
        result = cli(*args, env={"MPPOCI_PASSWORD": "pw"})
        assert result.returncode == 0, result.stderr
