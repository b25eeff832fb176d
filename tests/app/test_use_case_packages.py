"""Building, signing, assessing, pinning and bundling through mppoci.app,
as a Python host does: values back, audit records written, nothing printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from mppoci.app import (
    NotFoundError,
    Session,
    add_pin,
    add_trusted_key,
    assess,
    assess_folder,
    build,
    list_packages,
    load_bundle,
    pins,
    remove,
    save_bundle,
    sign,
    verify,
)
from mppoci.trust import files
from tests.app.conftest import events, no_password


def test_build_sign_assess_verify_and_remove(
    session: Session, package_dir: Path, key_pair: tuple[Path, Path]
) -> None:
    private, public = key_pair
    assert assess_folder(session, package_dir).verification == "unsigned"
    built = build(session, package_dir)
    assert (built.ref_name, built.replaced) == ("acme/word-count:1.0.0", None)
    [entry] = list_packages(session)
    assert (entry.name, entry.version, entry.digest, entry.signed) == (
        "acme/word-count",
        "1.0.0",
        built.digest,
        False,
    )
    assert assess(session, "acme/word-count").verification == "unsigned"

    signed = sign(session, "acme/word-count", private, no_password)
    assert (signed.digest, signed.what) == (built.digest, "acme/word-count 1.0.0")
    assert list_packages(session)[0].signed
    assert assess(session, "acme/word-count").verification == "untrusted"
    # assess reports; it records no verdict and remembers nothing
    assert events(session, "verify") == []

    verified = verify(session, "acme/word-count", key=public)
    assert verified.digest == built.digest
    assert "acme/word-count" in files.load_rollback(session.locations).highest
    [record] = events(session, "verify")
    assert record["data"]["outcome"] == "accepted"

    add_trusted_key(session, public, publisher="acme")
    view = assess(session, "acme/word-count")
    assert (view.verification, view.digest, view.source) == ("verified", built.digest, "store")

    removed = remove(session, "acme/word-count")
    assert removed.names == ("acme/word-count:1.0.0",)
    assert list_packages(session) == ()
    with pytest.raises(NotFoundError):
        assess(session, "acme/word-count")


def test_a_rebuild_names_the_build_its_tag_named_before(
    session: Session, package_dir: Path
) -> None:
    first = build(session, package_dir)
    (package_dir / "lib" / "words.txt").write_text("four five\n")
    second = build(session, package_dir)
    assert second.replaced == first.digest != second.digest


def test_a_pin_goes_to_the_sessions_lock_file(session: Session, package_dir: Path) -> None:
    built = build(session, package_dir)
    pinned = add_pin(session, "acme/word-count:1.0.0")
    assert (pinned.digest, pinned.lock_file) == (built.digest, session.lock_file)
    [(reference, pin)] = pins(session)
    assert (reference, pin.digest) == ("acme/word-count:1.0.0", built.digest)
    assert pin.permissions is not None


def test_a_bundle_loads_verified_into_another_home(
    session: Session, tmp_path: Path, package_dir: Path, key_pair: tuple[Path, Path]
) -> None:
    private, public = key_pair
    add_trusted_key(session, public, publisher="acme")
    built = build(session, package_dir)
    sign(session, "acme/word-count", private, no_password)
    saved = save_bundle(session, ["acme/word-count"], tmp_path / "b.tar")
    assert saved.packages == 1 and saved.size == (tmp_path / "b.tar").stat().st_size

    other = Session.open({"MPPOCI_HOME": str(tmp_path / "other")})
    add_trusted_key(other, public, publisher="acme")
    [loaded] = load_bundle(other, tmp_path / "b.tar")
    assert (loaded.name, loaded.digest) == ("acme/word-count:1.0.0", built.digest)
    assert [e.digest for e in list_packages(other)] == [built.digest]
    assert "acme/word-count" in files.load_rollback(other.locations).highest
