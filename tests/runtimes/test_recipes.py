"""Runtime recipes: the shipped ones parse, and ``exclude`` keeps images small (pure)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from mppoci.errors import UserInputError
from mppoci.runtimes.images import write_rootfs_layer
from mppoci.runtimes.recipes import Source, find_recipe, list_recipes

NODE_EXCLUDES = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale")


def test_the_node_recipe_is_trixies_nodejs_without_manuals() -> None:
    node = find_recipe("node")
    assert node.source is Source.DEBOOTSTRAP and node.suite == "trixie"
    assert node.include == ("nodejs", "ca-certificates")
    assert set(NODE_EXCLUDES) <= set(node.exclude)
    assert node.image_tag == "mppoci-runtime/node:latest"


def test_every_shipped_recipe_is_listed() -> None:
    assert {r.name for r in list_recipes()} >= {"busybox", "mppoci", "node", "python3"}
    assert find_recipe("python3").exclude == ()  # unchanged: no field, nothing left out


def _recipe(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "custom"
    folder.mkdir()
    (folder / "recipe.yaml").write_text("name: custom\nsource: debootstrap\n" + body)
    return tmp_path


def test_exclude_paths_are_normalised(tmp_path: Path) -> None:
    root = _recipe(tmp_path, "exclude: [usr/share/man/, usr/share/doc]\n")
    assert find_recipe("custom", root).exclude == ("usr/share/man", "usr/share/doc")


@pytest.mark.parametrize(
    "value", ["[/usr/share]", "[usr/../etc]", "['']", "[./usr]", "usr/share", "[3]", "[a//b]"]
)
def test_an_exclude_that_is_not_a_relative_folder_is_refused(tmp_path: Path, value: str) -> None:
    root = _recipe(tmp_path, f"exclude: {value}\n")
    with pytest.raises(UserInputError) as e:
        find_recipe("custom", root)
    assert "exclude must be a list of relative folder paths" in e.value.message


def _names(root: Path, exclude: tuple[str, ...]) -> list[str]:
    out = io.BytesIO()
    write_rootfs_layer(root, out, mtime=0, exclude=exclude)  # type: ignore[arg-type]
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        return tar.getnames()


def test_excluded_folders_leave_the_layer_but_copyright_files_stay(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    for relpath in (
        "usr/share/doc/nodejs/copyright",
        "usr/share/doc/nodejs/changelog.Debian.gz",
        "usr/share/doc/nodejs/examples/a.js",
        "usr/share/man/man1/node.1.gz",
        "usr/share/locale/de/LC_MESSAGES/x.mo",
        "usr/share/nodejs/acorn/index.js",
        "usr/bin/node",
    ):
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text("x")
    names = _names(root, NODE_EXCLUDES)
    assert "usr/share/doc/nodejs/copyright" in names and "usr/share/doc/nodejs" in names
    assert "usr/share/man" in names and "usr/share/locale" in names  # empty folders stay
    for gone in (
        "usr/share/doc/nodejs/changelog.Debian.gz",
        "usr/share/doc/nodejs/examples",
        "usr/share/man/man1",
        "usr/share/locale/de",
    ):
        assert gone not in names
    assert {"usr/share/nodejs/acorn/index.js", "usr/bin/node", "pkg", "tmp"} <= set(names)
    everything = _names(root, ())
    assert "usr/share/doc/nodejs/examples/a.js" in everything and "usr/share/man/man1" in everything
