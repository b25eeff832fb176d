"""Which arguments name a package folder rather than a package in the store
(README's tour: `mppoci inspect word-count --json` in the folder that holds
word-count/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mppoci.app.references import names_folder
from tests.conftest import run_mppoci, write_package


def test_inspect_takes_a_bare_folder_name_holding_an_mpp_yaml(home: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    write_package(work / "word-count")
    shown = run_mppoci(home, "inspect", "word-count", "--json", cwd=work)
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert view["source"] == "folder" and view["name"] == "acme/word-count"
    # The text screen too, and nothing was stored.
    assert "acme/word-count" in run_mppoci(home, "inspect", "word-count", cwd=work).stdout
    assert json.loads(run_mppoci(home, "list", "--json", cwd=work).stdout) == []


def test_a_folder_without_mpp_yaml_is_still_not_a_reference(home: Path, tmp_path: Path) -> None:
    (tmp_path / "word-count").mkdir()
    refused = run_mppoci(home, "inspect", "word-count", cwd=tmp_path)
    assert refused.returncode == 1
    assert "'word-count' is not a valid reference" in refused.stderr


def test_a_store_reference_stays_a_store_reference(home: Path, tmp_path: Path) -> None:
    folder = write_package(tmp_path / "src" / "pkg")
    built = run_mppoci(home, "build", str(folder))
    assert built.returncode == 0, built.stderr
    digest = built.stdout.strip()
    # A folder named like a digest holds an mpp.yaml, but a digest is a reference.
    write_package(tmp_path / digest)
    for reference in (digest, "acme/word-count", "acme/word-count:1.0.0"):
        shown = run_mppoci(home, "inspect", reference, "--json", cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["source"] != "folder", reference


def test_a_path_with_a_slash_that_exists_wins_over_the_store_name(
    home: Path, tmp_path: Path
) -> None:
    folder = write_package(tmp_path / "src" / "pkg")
    assert run_mppoci(home, "build", str(folder)).returncode == 0
    write_package(tmp_path / "acme" / "word-count")
    shown = run_mppoci(home, "inspect", "acme/word-count", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["source"] == "folder"


@pytest.mark.parametrize(
    ("text", "folder"),
    [
        ("word-count", True),  # no reference, a folder with mpp.yaml
        ("./word-count", True),
        ("empty", False),  # a folder, but no mpp.yaml and no / or .
        ("./empty", True),  # a path that exists wins (as before)
        ("missing", False),
        ("acme/word-count", False),  # a store name, and no such path
        ("", False),  # not the working folder, even when it holds an mpp.yaml
    ],
)
def test_names_folder(
    text: str, folder: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_package(tmp_path / "word-count")
    (tmp_path / "empty").mkdir()
    (tmp_path / "mpp.yaml").write_text("schemaVersion: 1\n")
    monkeypatch.chdir(tmp_path)
    assert names_folder(text) is folder
