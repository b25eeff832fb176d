"""Runtime images through a registry, by image ID.

A package pins its runtime by image ID: the digest of the image's config,
which lists the digest of every (uncompressed) layer. So a runtime can travel
through any registry without a signature of its own: ``pull`` accepts it only
when its config hashes to the pinned ID and each layer hashes to the
config's ``diff_ids``. It is stored in the registry under the tag
``image-<hex of the image ID>`` as a plain OCI image.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from pathlib import Path

from mppoci.digest import Digest, hex_part, sha256_digest
from mppoci.engine.protocol import Engine
from mppoci.errors import (
    DigestMismatchError,
    RuntimeEngineError,
    UntrustedContentError,
    UserInputError,
)
from mppoci.oci import mediatypes as mt
from mppoci.oci.model import (
    Descriptor,
    image_manifest_bytes,
    load_json_object,
    parse_image_manifest,
)
from mppoci.reference import RemoteRef
from mppoci.registry.client import RegistryClient
from mppoci.store.layout import Store
from mppoci.text import terminal_safe

OCI_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
_MAX_CONFIG = 1 << 20


def runtime_tag(image_id: Digest) -> str:
    return f"image-{hex_part(image_id)}"


def _diff_ids(config: bytes) -> list[Digest]:
    doc = load_json_object(config, what="image config", max_bytes=_MAX_CONFIG)
    rootfs = doc.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise UntrustedContentError("the image config has no rootfs.diff_ids")
    return [Digest(i) for i in ids]


def push_runtime(
    engine: Engine, registry: RegistryClient, image_id: Digest, dest: RemoteRef, scratch: Store
) -> tuple[str, Digest]:
    """Export a local image and push it as an OCI image tagged by its ID.

    Returns the tag and the image manifest's digest (what a cluster pulls by)."""
    if engine.image_id(image_id) is None:
        raise UserInputError(f"no local image has the ID {image_id}")
    with tempfile.TemporaryFile() as archive:
        for chunk in engine.export_image(image_id):
            archive.write(chunk)
        archive.seek(0)
        with tarfile.open(fileobj=archive, mode="r:") as tar:
            index = json.loads(_member(tar, "manifest.json"))[0]
            config = _member(tar, index["Config"])
            if sha256_digest(config) != image_id:
                raise RuntimeEngineError(
                    "Docker exported a config that does not match the image ID"
                )
            layers = []
            for name, diff_id in zip(index["Layers"], _diff_ids(config), strict=True):
                with scratch.writer() as w:
                    extracted = tar.extractfile(name)
                    if extracted is None:
                        raise RuntimeEngineError(f"Docker's export lacks the layer {name}")
                    w.copy_from(extracted)  # type: ignore[arg-type]
                    digest = w.commit(diff_id)
                    layers.append(Descriptor(OCI_LAYER_TAR, digest, w.size))
    scratch.put_bytes(config)
    config_desc = Descriptor(OCI_IMAGE_CONFIG, image_id, len(config))
    for desc in (config_desc, *layers):
        if not registry.blob_exists(dest.repository, desc.digest):
            with scratch.blob_path(desc.digest).open("rb") as f:
                registry.push_blob(dest.repository, desc, f)
    body = image_manifest_bytes(config=config_desc, layers=tuple(layers))
    tag = runtime_tag(image_id)
    registry.put_manifest(dest.repository, tag, body, mt.OCI_MANIFEST)
    return tag, sha256_digest(body)


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    f = tar.extractfile(name)
    if f is None:
        raise RuntimeEngineError(f"Docker's export lacks {name}")
    return f.read()


def pull_runtime(
    engine: Engine, registry: RegistryClient, ref: RemoteRef, scratch: Store
) -> Digest:
    """Fetch the runtime whose image ID is ``ref.digest`` and load it into Docker."""
    image_id = ref.digest
    if image_id is None:
        raise UserInputError(
            f"{ref} names no image ID", hint="write REGISTRY/REPO@sha256:<image id>"
        )
    body, _, _ = registry.get_manifest(
        ref.repository, runtime_tag(image_id), max_bytes=scratch.limits.oci_manifest_bytes
    )
    oci = parse_image_manifest(body, limits=scratch.limits)
    if oci.config.digest != image_id:
        raise DigestMismatchError(f"{ref} holds the image {oci.config.digest}, not {image_id}")
    with scratch.writer(max_bytes=_MAX_CONFIG) as w:
        registry.fetch_blob(ref.repository, oci.config, w)
    config = scratch.read_bytes(image_id, max_bytes=_MAX_CONFIG)
    diff_ids = _diff_ids(config)
    if [layer.digest for layer in oci.layers] != diff_ids:
        raise DigestMismatchError(f"the layers of {ref} are not the ones its config names")
    for layer in oci.layers:
        if layer.media_type not in (OCI_LAYER_TAR, DOCKER_LAYER_TAR):
            raise UntrustedContentError(
                f"runtime layers must be uncompressed tars, not {terminal_safe(layer.media_type)}"
            )
        if not scratch.has_blob(layer.digest):
            with scratch.writer() as w:
                registry.fetch_blob(ref.repository, layer, w)
    _load(engine, scratch, image_id, config, [layer.digest for layer in oci.layers])
    return image_id


def _load(
    engine: Engine, scratch: Store, image_id: Digest, config: bytes, layers: list[Digest]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "image.tar"
        config_name = f"{hex_part(image_id)}.json"
        names = [f"{hex_part(d)}/layer.tar" for d in layers]
        manifest = json.dumps([{"Config": config_name, "RepoTags": None, "Layers": names}]).encode()
        with tarfile.open(archive, "w") as tar:
            for name, data in (("manifest.json", manifest), (config_name, config)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            for name, digest in zip(names, layers, strict=True):
                tar.add(scratch.blob_path(digest), arcname=name)
        with archive.open("rb") as f:
            engine.load_image(f)  # EngineRefusedError: "Docker refused the runtime image: ..."
    loaded = engine.image_id(image_id)
    if loaded != image_id:
        raise DigestMismatchError(f"Docker loaded {loaded}, not {image_id}")
