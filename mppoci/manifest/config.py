"""The package config blob: the exact canonical bytes that get signed, both ways.

:func:`config_bytes` makes them at build time; :func:`parse_config` reads them
back on every load and refuses any bytes that are not exactly what
:func:`config_bytes` would write for the manifest they contain. So one
manifest has one config, and one config digest.
"""

from __future__ import annotations

from mppoci.canonical import canonical_json
from mppoci.errors import ManifestError
from mppoci.limits import DEFAULT_LIMITS, Limits
from mppoci.manifest.document import to_document
from mppoci.manifest.load import load_json
from mppoci.manifest.model import Manifest
from mppoci.manifest.parse import validate
from mppoci.manifest.problems import Problems

SOURCE = "package config"

NOT_CANONICAL = (
    "config is not in canonical form; it must be byte for byte what mppoci build writes "
    "(rebuild the package)"
)
NOT_ROUND_TRIP = (
    "the manifest changes when read back from its config; make Manifests with parse_source"
)
UNPINNED = "must carry a digest in a package config (NAME@sha256:<digest>)"


def parse_config(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Manifest:
    """The manifest in a package's canonical JSON config blob.

    Raises:
        ManifestError: the config breaks a manifest rule, its runtime is not
            pinned to a digest, or the bytes are not the canonical JSON of the
            normalised manifest (pretty-printed, keys out of order, a default
            left out, a permission list unsorted...).
    """
    problems = Problems(SOURCE)
    document = load_json(data, limits, problems)
    problems.raise_if_any()
    manifest = validate(document, limits=limits, source=SOURCE)
    if manifest.runtime.digest is None:
        raise ManifestError([("runtime", UNPINNED)], source=SOURCE)
    if canonical_json(to_document(manifest)) != data:
        raise ManifestError([("", NOT_CANONICAL)], source=SOURCE)
    return manifest


def config_bytes(m: Manifest, *, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """``canonical_json(to_document(m))``: the config blob of a package.

    The bytes are read back with :func:`parse_config` before they are
    returned, so a Manifest built by hand rather than by the parser cannot
    produce a config that a later load would refuse.

    Raises:
        ManifestError: the runtime is not pinned yet (pin it with
            ``m.with_runtime(digest)``), or ``m`` breaks a manifest rule.
    """
    if m.runtime.digest is None:
        raise ManifestError(
            [
                (
                    "runtime",
                    f"{m.runtime.name} is not pinned to a digest yet; mppoci build resolves "
                    "it (Manifest.with_runtime) before writing the config",
                )
            ],
            source=SOURCE,
        )
    data = canonical_json(to_document(m))
    if parse_config(data, limits=limits) != m:
        raise ManifestError([("", NOT_ROUND_TRIP)], source=SOURCE)
    return data
