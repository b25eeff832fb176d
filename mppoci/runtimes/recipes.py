"""Runtime recipes (``runtimes/NAME/recipe.yaml``): finding and parsing them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from mppoci.errors import NotFoundError, UserInputError

_NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


class Source(StrEnum):
    BUSYBOX_STATIC = "busybox-static"
    DEBOOTSTRAP = "debootstrap"


@dataclass(frozen=True, slots=True)
class Recipe:
    name: str
    description: str
    source: Source
    suite: str = "bookworm"
    variant: str = "minbase"
    include: tuple[str, ...] = ()
    mirror: str = "http://deb.debian.org/debian"
    with_mppoci: bool = False  # install this mppoci and its dependencies in /opt/mppoci
    # Folders of the rootfs left out of the image (``usr/share/man``); Debian's
    # copyright files under ``usr/share/doc`` are kept even when it is excluded.
    exclude: tuple[str, ...] = ()

    @property
    def image_tag(self) -> str:
        return f"mppoci-runtime/{self.name}:latest"


def recipes_dir() -> Path:
    """The recipes shipped with mppoci: inside the wheel, or the repository's runtimes/."""
    here = Path(__file__).resolve().parent.parent
    shipped = here / "_recipes"
    return shipped if shipped.is_dir() else here.parent / "runtimes"


def _parse(path: Path) -> Recipe:
    try:
        doc: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise UserInputError(f"runtime recipe {path} cannot be read: {e}") from e
    allowed = {
        *("name", "description", "source", "suite", "variant", "include", "mirror"),
        *("mppoci", "exclude"),
    }
    if not isinstance(doc, dict) or not set(doc) <= allowed:
        raise UserInputError(
            f"runtime recipe {path} is malformed",
            hint=f"a recipe is a mapping with the fields {', '.join(sorted(allowed))}",
        )
    try:
        source = Source(str(doc.get("source")))
    except ValueError as e:
        raise UserInputError(
            f"runtime recipe {path}: source must be one of {', '.join(s.value for s in Source)}"
        ) from e
    name = doc.get("name")
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or name != path.parent.name:
        raise UserInputError(f"runtime recipe {path}: name must equal its folder name")
    include = doc.get("include", [])
    if not isinstance(include, list) or not all(isinstance(p, str) for p in include):
        raise UserInputError(f"runtime recipe {path}: include must be a list of package names")
    with_mppoci = doc.get("mppoci", False)
    if not isinstance(with_mppoci, bool) or (with_mppoci and source is not Source.DEBOOTSTRAP):
        raise UserInputError(f"runtime recipe {path}: mppoci must be true or false, on debootstrap")
    return Recipe(
        name=name,
        description=str(doc.get("description", "")),
        source=source,
        suite=str(doc.get("suite", "bookworm")),
        variant=str(doc.get("variant", "minbase")),
        include=tuple(include),
        mirror=str(doc.get("mirror", "http://deb.debian.org/debian")),
        with_mppoci=with_mppoci,
        exclude=_exclude(doc.get("exclude", []), path),
    )


def _exclude(raw: Any, path: Path) -> tuple[str, ...]:
    """Folders to leave out: relative paths below the rootfs, without ``..``."""
    problem = f"runtime recipe {path}: exclude must be a list of relative folder paths"
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise UserInputError(problem)
    folders: list[str] = []
    for text in raw:
        parts = text.strip("/").split("/")
        if text.startswith("/") or not text.strip("/") or any(p in ("", ".", "..") for p in parts):
            raise UserInputError(problem, hint=f"{text!r} is not one (write e.g. usr/share/man)")
        folders.append("/".join(parts))
    return tuple(folders)


def list_recipes(folder: Path | None = None) -> tuple[Recipe, ...]:
    root = folder or recipes_dir()
    return tuple(_parse(p) for p in sorted(root.glob("*/recipe.yaml")))


def find_recipe(name: str, folder: Path | None = None) -> Recipe:
    """Raises NotFoundError when no recipe has that name."""
    root = folder or recipes_dir()
    path = root / name / "recipe.yaml"
    if not _NAME_RE.fullmatch(name) or not path.is_file():
        known = ", ".join(r.name for r in list_recipes(root)) or "none"
        raise NotFoundError(
            f"there is no runtime recipe named {name!r}",
            hint=f"use one of: {known} (see `mppoci runtime list`), or pin an image by digest",
        )
    return _parse(path)
