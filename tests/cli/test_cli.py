"""The CLI through the real console script: output streams, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PINNED_RUNTIME, SAMPLE_MANIFEST, CliRunner, write_package


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def test_help_lists_the_commands(cli: CliRunner) -> None:
    result = cli("--help")
    assert result.returncode == 0
    for verb in ("init", "build", "inspect", "list", "runtime"):
        assert verb in result.stdout


def test_python_dash_m_works(home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mppoci", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith("mppoci ")


def test_unknown_command_is_a_usage_error(cli: CliRunner) -> None:
    result = cli("frobnicate")
    assert result.returncode == 2
    _no_traceback(result)


def test_build_prints_only_the_digest_on_stdout(cli: CliRunner, package_dir: Path) -> None:
    result = cli("build", str(package_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("sha256:") and len(result.stdout.strip()) == 71
    assert "built acme/word-count:1.0.0" in result.stderr


def test_build_inspect_list_round_trip(cli: CliRunner, package_dir: Path) -> None:
    digest = cli("build", str(package_dir)).stdout.strip()

    shown = cli("inspect", "acme/word-count")
    assert shown.returncode == 0, shown.stderr
    assert "UNSIGNED" in shown.stdout
    assert digest in shown.stdout
    assert PINNED_RUNTIME in shown.stdout
    assert "Network:     none" in shown.stdout

    as_json = json.loads(cli("inspect", digest, "--json").stdout)
    assert as_json["digest"] == digest
    assert as_json["verification"]["status"] == "unsigned"
    assert as_json["manifest"]["tools"][0]["name"] == "count"

    # The folder previews the same digest without storing anything.
    folder = json.loads(cli("inspect", str(package_dir), "--json").stdout)
    assert folder["digest"] == digest and folder["source"] == "folder"

    rows = json.loads(cli("list", "--json").stdout)
    assert rows == [
        {"name": "acme/word-count", "version": "1.0.0", "digest": digest, "signed": False}
    ]
    assert "acme/word-count" in cli("list").stdout


def test_name_without_version_means_the_highest_version(cli: CliRunner, tmp_path: Path) -> None:
    digests = {}
    for version in ("1.0.0", "1.10.0", "1.9.0", "2.0.0-rc.1"):
        folder = write_package(tmp_path / version, SAMPLE_MANIFEST.replace("1.0.0", version))
        digests[version] = cli("build", str(folder)).stdout.strip()
    shown = json.loads(cli("inspect", "acme/word-count", "--json").stdout)
    assert shown["version"] == "2.0.0-rc.1"
    assert shown["digest"] == digests["2.0.0-rc.1"]
    assert (
        json.loads(cli("inspect", "acme/word-count:1.9.0", "--json").stdout)["digest"]
        == digests["1.9.0"]
    )


@pytest.mark.parametrize("literal", ["10.0.12.7", "203.0.113.9", "2001:db8::1"])
def test_an_ip_literal_egress_host_is_refused_at_build_with_what_to_do_instead(
    cli: CliRunner, tmp_path: Path, literal: str
) -> None:
    # The sandbox has no IP route: an approved IP literal would only time out at run.
    bad = (
        SAMPLE_MANIFEST
        + "permissions:\n  network:\n    egress:\n"
        + f"      - {{host: '{literal}', port: 5432, why: x}}\n"
    )
    result = cli("build", str(write_package(tmp_path / "bad", bad)))
    assert result.returncode == 1
    assert "permissions.network.egress[0].host: is an IP address" in result.stderr
    assert "host: db.internal, address: 10.0.12.7" in result.stderr
    assert result.stdout == ""
    _no_traceback(result)


def test_invalid_manifest_names_the_field_and_exits_1(cli: CliRunner, tmp_path: Path) -> None:
    bad = (
        SAMPLE_MANIFEST
        + "permissions:\n  network:\n    egress:\n      - {host: api.acme.test, port: 0, why: x}\n"
    )
    folder = write_package(tmp_path / "bad", bad)
    result = cli("build", str(folder))
    assert result.returncode == 1
    assert "permissions.network.egress[0].port: must be 1..65535" in result.stderr
    assert result.stdout == ""
    _no_traceback(result)


def test_missing_package_is_a_clear_error(cli: CliRunner) -> None:
    result = cli("inspect", "acme/nothing:1.0.0")
    assert result.returncode == 1
    assert "acme/nothing:1.0.0 is not in the store" in result.stderr
    assert "What to do:" in result.stderr
    _no_traceback(result)


def test_malformed_reference_is_refused(cli: CliRunner) -> None:
    result = cli("inspect", "Not A Ref")
    assert result.returncode == 1
    assert "not a valid reference" in result.stderr
    _no_traceback(result)


def test_relative_mppoci_home_is_refused(cli: CliRunner) -> None:
    result = cli("list", env={"MPPOCI_HOME": "relative/home"})
    assert result.returncode == 1
    assert "MPPOCI_HOME" in result.stderr
    _no_traceback(result)


def test_bad_source_date_epoch_is_refused(cli: CliRunner, package_dir: Path) -> None:
    result = cli("build", str(package_dir), env={"SOURCE_DATE_EPOCH": "yesterday"})
    assert result.returncode == 1
    assert "SOURCE_DATE_EPOCH" in result.stderr


def test_init_scaffolds_a_valid_package_and_never_overwrites(
    cli: CliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "new-tool"
    result = cli("init", str(folder), "--name", "acme/new-tool")
    assert result.returncode == 0, result.stderr
    assert {p.name for p in folder.iterdir()} == {"mpp.yaml", "main.py", ".mppignore", "README.md"}
    # The scaffolded manifest is valid: inspecting the folder parses it (its
    # runtime is a recipe name that may not be built here, which inspect reports).
    shown = cli("inspect", str(folder), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["name"] == "acme/new-tool"
    again = cli("init", str(folder))
    assert again.returncode == 1
    assert "not an empty folder" in again.stderr
    assert (folder / "mpp.yaml").read_text().startswith("# The manifest")


def test_store_is_created_under_mppoci_home(cli: CliRunner, home: Path, package_dir: Path) -> None:
    cli("build", str(package_dir))
    assert (home / "data" / "store" / "oci-layout").is_file()
