"""Build runtime images from recipes and pin them by image ID.

Images are loaded into Docker from an image archive we write ourselves (a
rootfs layer with sorted entries and clamped mtimes, plus a fixed image
config) rather than ``docker import``, whose config carries the time of the
import. The image ID is the digest of that config, so the same rootfs gives
the same ID.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mppoci.canonical import canonical_json
from mppoci.digest import Digest
from mppoci.engine.docker_engine import connect
from mppoci.engine.protocol import Engine
from mppoci.errors import NotFoundError, RuntimeEngineError, UserInputError
from mppoci.manifest import RuntimeRef
from mppoci.runtimes.recipes import Recipe, Source, find_recipe
from mppoci.text import terminal_safe

NOBODY = "65534:65534"
_EPOCH_TIME = "1970-01-01T00:00:00Z"
_USERS = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = "root:x:0:\nnogroup:x:65534:\n"
# Left out of every runtime: they change on every bootstrap and nothing needs them.
_SKIP_PREFIXES = (
    "dev/",
    "proc/",
    "sys/",
    "run/",
    "var/cache/apt/",
    "var/lib/apt/lists/",
    "var/log/",
)
_DOC = "usr/share/doc/"
_SKIP_FILES = ("etc/machine-id", "var/cache/ldconfig/aux-cache", "etc/hostname", "etc/resolv.conf")

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RuntimeImage:
    name: str
    tag: str
    image_id: Digest


def _busybox_rootfs(root: Path) -> None:
    busybox = shutil.which("busybox", path="/usr/bin:/bin")
    if busybox is None:
        raise NotFoundError(
            "/bin/busybox is missing", hint="install Debian's busybox-static (`make system-deps`)"
        )
    (root / "bin").mkdir()
    shutil.copy2(busybox, root / "bin" / "busybox")
    out = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True).stdout
    for applet in sorted(set(out.split())):
        if applet != "busybox" and "/" not in applet:
            (root / "bin" / applet).symlink_to("busybox")
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text(_USERS)
    (root / "etc" / "group").write_text(_GROUP)


def _debootstrap_rootfs(recipe: Recipe, root: Path, log: Log) -> None:
    if shutil.which("debootstrap") is None:
        raise NotFoundError("debootstrap is missing", hint="install it (`make system-deps`)")
    argv = ["debootstrap", f"--variant={recipe.variant}"]
    if recipe.include:
        argv.append("--include=" + ",".join(recipe.include))
    argv += [recipe.suite, str(root), recipe.mirror]
    log(f"running {' '.join(argv)} (this takes about a minute)")
    _build_step(
        argv,
        f"debootstrap failed for runtime {recipe.name!r}",
        "check that Debian's package mirror is reachable and that you are root",
    )


def _build_step(argv: list[str], failure: str, hint: str) -> None:
    """Run one build command; on failure, raise with the end of its output."""
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(
            terminal_safe(line) for line in (result.stdout + result.stderr).split("\n")[-15:]
        )
        raise RuntimeEngineError(f"{failure}:\n{tail}", hint=hint, multiline=True)


_LAUNCHER = """#!/usr/bin/python3 -I
import sys

sys.path.insert(0, "/opt/mppoci")
from mppoci.cli.app import main

main()
"""


def _mppoci_source() -> str:
    """This mppoci: its source tree when run from one, else the same release from PyPI."""
    from mppoci import __version__

    tree = Path(__file__).resolve().parents[2]
    return str(tree) if (tree / "pyproject.toml").is_file() else f"mppoci=={__version__}"


def _install_mppoci(root: Path, log: Log) -> None:
    """Install mppoci with its dependencies into the rootfs (same Python minor version)."""
    import sys

    target = root / "opt" / "mppoci"
    argv = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
        "--disable-pip-version-check", "--target", str(target), _mppoci_source(),
    ]  # fmt: skip
    log("installing mppoci into the image with pip (this takes about a minute)")
    _build_step(argv, "pip could not install mppoci into the image", "check that PyPI is reachable")
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts point at this host
    launcher = root / "usr" / "local" / "bin" / "mppoci"
    launcher.parent.mkdir(parents=True, exist_ok=True)
    launcher.write_text(_LAUNCHER)
    launcher.chmod(0o755)


def _skip(relpath: str, exclude: tuple[str, ...] = ()) -> bool:
    if relpath in _SKIP_FILES or any(
        relpath.startswith(p) and relpath != p.rstrip("/") for p in _SKIP_PREFIXES
    ):
        return True
    return any(relpath.startswith(folder + "/") for folder in exclude) and not _kept(relpath)


def _kept(relpath: str) -> bool:
    """Debian's licence notices (and their folders) stay when usr/share/doc is excluded."""
    parts = relpath.split("/")
    return relpath.startswith(_DOC) and (
        len(parts) == 4 or (len(parts) == 5 and parts[4] == "copyright")
    )


def write_rootfs_layer(
    root: Path, out: io.BufferedWriter, *, mtime: int, exclude: tuple[str, ...] = ()
) -> None:
    """Tar ``root`` reproducibly: sorted entries, mtimes clamped, no owner names;
    the folders ``exclude`` names are left out (their own entries stay)."""
    paths = sorted(
        (p for p in root.rglob("*") if not _skip(p.relative_to(root).as_posix(), exclude)),
        key=lambda p: p.relative_to(root).as_posix(),
    )
    for extra in ("pkg", "tmp"):
        if not (root / extra).exists():
            (root / extra).mkdir()
            paths.append(root / extra)
    paths.sort(key=lambda p: p.relative_to(root).as_posix())

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime = min(int(info.mtime), mtime)
        info.uname = info.gname = ""
        if info.name in ("tmp", "./tmp"):
            info.mode = 0o1777
        return info

    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in paths:
            tar.add(
                path, arcname=path.relative_to(root).as_posix(), recursive=False, filter=normalise
            )


def _image_config(diff_id: str, recipe: Recipe) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": _EPOCH_TIME,
        "config": {
            "User": NOBODY,
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "WorkingDir": "/",
            "Labels": {"dev.mppoci.runtime": recipe.name},
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": _EPOCH_TIME, "created_by": f"mppoci runtime build {recipe.name}"}],
    }
    return canonical_json(config)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def build_runtime(
    name: str, *, log: Log, source_date_epoch: int = 0, engine: Engine | None = None
) -> RuntimeImage:
    """Build the runtime ``name`` and load it into Docker.

    Raises NotFoundError (no such recipe, missing tool), RuntimeEngineError."""
    recipe = find_recipe(name)
    engine = engine or connect()
    if recipe.source is Source.DEBOOTSTRAP and os.geteuid() != 0:
        raise UserInputError("building a debootstrap runtime needs root", hint="run it as root")
    with tempfile.TemporaryDirectory(prefix="mppoci-runtime-") as tmp:
        work = Path(tmp)
        root = work / "rootfs"
        root.mkdir()
        if recipe.source is Source.BUSYBOX_STATIC:
            _busybox_rootfs(root)
        else:
            _debootstrap_rootfs(recipe, root, log)
        if recipe.with_mppoci:
            _install_mppoci(root, log)
        layer = work / "layer.tar"
        with layer.open("wb") as out:
            write_rootfs_layer(root, out, mtime=source_date_epoch, exclude=recipe.exclude)
        config = _image_config(_sha256_file(layer), recipe)
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        archive = work / "image.tar"
        manifest = [
            {"Config": config_name, "RepoTags": [recipe.image_tag], "Layers": ["layer.tar"]}
        ]
        with tarfile.open(archive, mode="w") as tar:
            for arcname, data in (
                ("manifest.json", json.dumps(manifest).encode()),
                (config_name, config),
            ):
                info = tarfile.TarInfo(arcname)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            tar.add(layer, arcname="layer.tar")
        log(f"loading {recipe.image_tag} into Docker")
        with archive.open("rb") as f:
            engine.load_image(f)  # EngineRefusedError: "Docker refused the runtime image: ..."
    image_id = Digest("sha256:" + hashlib.sha256(config).hexdigest())
    return RuntimeImage(name=recipe.name, tag=recipe.image_tag, image_id=image_id)


def local_runtime_id(name: str, engine: Engine | None = None) -> Digest | None:
    """The image ID of the locally built runtime ``name``, or None if not built."""
    image_id = (engine or connect()).image_id(find_recipe(name).image_tag)
    return None if image_id is None else Digest(image_id)


def resolve_runtime(ref: RuntimeRef, engine: Engine | None = None) -> RuntimeRef:
    """Pin a recipe name to its local image ID (used by ``mppoci build``).

    Raises NotFoundError when the runtime is not built here yet."""
    if ref.digest is not None:
        return ref
    image_id = local_runtime_id(ref.name, engine)
    if image_id is None:
        raise NotFoundError(
            f"runtime {ref.name!r} is not built on this machine",
            hint=f"build it with `mppoci runtime build {ref.name}`, then build the package again",
        )
    return RuntimeRef(name=ref.name, digest=image_id)
