"""Issue #19's manifest fixes with the real engine: a fixed environment value
reaches the sandbox and cannot be overridden, a required folder is refused
at start when unbound (`run` and `serve`) and bound when given, and a
draft-07 input schema is served as written and its calls' arguments are
validated under draft-07."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.conftest import MPPOCI, run_mppoci

pytestmark = pytest.mark.integration
PASSWORD = "manifest-fixes"

MANIFEST = """\
schemaVersion: 1
name: acme/repo-tool
version: 1.0.0
description: Show its environment and the bound repository.
authors: [Ada]
license: Apache-2.0
runtime: busybox
entrypoint: ["/bin/sh", "/pkg/show.sh"]
protocol: cli
tools:
  - name: show
    description: Show the environment and the repository.
    inputSchema:
      $schema: "http://json-schema.org/draft-07/schema#"
      type: object
      properties:
        # draft-07 ignores a $ref's siblings: maxLength does not apply.
        label: {$ref: "#/definitions/label", maxLength: 2}
        pair: {type: array, items: [{type: string}, {type: integer}]}
      required: [label]
      additionalProperties: false
      definitions:
        label: {type: string}
    annotations: {readOnlyHint: true}
permissions:
  filesystem:
    - {name: repo, path: /repo, why: the repository to show, required: true}
  env:
    - {name: PYTHONPATH, why: the vendored code, value: /pkg/vendor}
    - {name: NODE_OPTIONS, why: a bigger heap, value: --max-old-space-size=64 --no-warnings}
"""
TOOL_SH = """\
#!/bin/sh
cat >/dev/null
echo "PYTHONPATH=$PYTHONPATH"
echo "NODE_OPTIONS=$NODE_OPTIONS"
ls /repo
"""
UNBOUND = "acme/repo-tool requires the folder 'repo' (the repository to show); none was bound"
BIND_HINT = "pass --mount repo=PATH (the tool sees it at /repo)"


def _mppoci(home: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return run_mppoci(home, *args, password=PASSWORD, **kwargs)


def _done(home: Path, *args: str) -> None:
    """Run mppoci, which must succeed."""
    result = _mppoci(home, *args)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    subprocess.run([str(MPPOCI), "runtime", "build", "busybox"], check=True, capture_output=True)
    root = tmp_path_factory.mktemp("manifest-fixes")
    home = root / "home"
    _done(home, "key", "generate", "--output-key-prefix", str(root / "k"))
    _done(home, "trust", "add", str(root / "k.pub"), "--publisher", "acme")
    folder = root / "pkg"
    folder.mkdir()
    (folder / "mpp.yaml").write_text(MANIFEST)
    (folder / "show.sh").write_text(TOOL_SH)
    (folder / "nonce.txt").write_text(secrets.token_hex(16))  # a digest of this run only
    _done(home, "build", str(folder))
    _done(home, "sign", "acme/repo-tool", "--key", str(root / "k.key"))
    shown = _mppoci(home, "approve", "acme/repo-tool", "--yes")
    assert shown.returncode == 0, shown.stderr
    assert "Set PYTHONPATH=/pkg/vendor in the tool's environment: the vendored code" in (
        shown.stdout + shown.stderr
    )
    repo = root / "repo"
    repo.mkdir()
    (repo / "marker.txt").write_text("here\n")
    # The sandbox user (65534) reads it as "other".
    repo.chmod(0o755)
    (repo / "marker.txt").chmod(0o644)
    return {"home": home, "repo": repo}


def test_run_sets_the_fixed_values_and_refuses_an_unbound_required_folder(
    world: dict[str, Path],
) -> None:
    home, repo = world["home"], world["repo"]
    refused = _mppoci(home, "run", "acme/repo-tool", stdin="")
    assert refused.returncode == 125
    assert UNBOUND in refused.stderr and BIND_HINT in refused.stderr

    ran = _mppoci(home, "run", "acme/repo-tool", "--mount", f"repo={repo}", stdin="")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [
        "PYTHONPATH=/pkg/vendor",
        "NODE_OPTIONS=--max-old-space-size=64 --no-warnings",
        "marker.txt",
    ]

    for given in ("PYTHONPATH=/home/evil", "PYTHONPATH"):
        overridden = _mppoci(
            home, "run", "acme/repo-tool", "--mount", f"repo={repo}", "--env", given,
            stdin="", env={"PYTHONPATH": "/from/the/host"},
        )  # fmt: skip
        assert overridden.returncode == 125
        assert "a fixed value cannot be overridden" in overridden.stderr
        assert "leave --env PYTHONPATH out" in overridden.stderr


def test_serve_refuses_to_start_without_the_required_folder(world: dict[str, Path]) -> None:
    refused = _mppoci(world["home"], "serve", "acme/repo-tool")
    assert refused.returncode == 1
    assert UNBOUND in refused.stderr and BIND_HINT in refused.stderr


def _text(result: types.CallToolResult) -> str:
    return "".join(b.text for b in result.content if isinstance(b, types.TextContent))


def test_serve_validates_arguments_under_draft_07(world: dict[str, Path]) -> None:
    env = {"MPPOCI_HOME": str(world["home"])}
    if "DOCKER_HOST" in os.environ:
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    params = StdioServerParameters(
        command=str(MPPOCI),
        args=["serve", "--pool", "0", "--mount", f"repo={world['repo']}", "acme/repo-tool"],
        env=env,
    )

    async def main() -> None:
        with (world["home"].parent / "serve.log").open("a") as errlog:
            async with (
                stdio_client(params, errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                (tool,) = (await session.list_tools()).tools
                assert tool.input_schema["$schema"] == "http://json-schema.org/draft-07/schema#"
                assert tool.input_schema["definitions"] == {"label": {"type": "string"}}

                # Longer than the $ref's sibling maxLength: fine under draft-07.
                ok = await session.call_tool("show", {"label": "much longer", "pair": ["a", 1]})
                assert not ok.is_error, _text(ok)
                assert _text(ok).splitlines()[0] == "PYTHONPATH=/pkg/vendor"
                assert "marker.txt" in _text(ok)

                wrong = await session.call_tool("show", {"label": "x", "pair": [1, "a"]})
                assert wrong.is_error and "pair/0: 1 is not of type 'string'" in _text(wrong)
                missing = await session.call_tool("show", {})
                assert missing.is_error and "'label' is a required property" in _text(missing)

    anyio.run(main)
