"""Outside-supplied text never reaches the terminal unescaped (issue #17 item 4).

The real CLI is run on hostile inputs from tests/assets/hostile/text and its
stdout and stderr are searched for any character a terminal would obey or
hide (ESC, CR, C1 controls, bidi controls, line separators, zero-width...).
Where the manifest parser stops the text at the door, the printers are also
tested on manifests built past the parser (as an older mppoci may have
stored), so the escaping holds on its own."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mppoci.app import approval_question
from mppoci.approval.records import Decision, Status
from mppoci.audit import events
from mppoci.cli.prompts import show_permissions
from mppoci.cli.render import PackageView, text
from mppoci.locations import locate
from mppoci.manifest import Manifest, parse_source
from tests.conftest import SAMPLE_MANIFEST, CliRunner, write_package
from tests.text_oracle import unsafe

HOSTILE_DIR = Path(__file__).parent.parent / "assets" / "hostile" / "text"
HOSTILE: dict[str, str] = json.loads((HOSTILE_DIR / "strings.json").read_text())
FAKE_LINE: str = json.loads((HOSTILE_DIR / "multiline.json").read_text())["newline"]


def obeyed(output: str) -> list[str]:
    """Characters of ``output`` a terminal would act on or not show; newlines
    and tabs are layout."""
    return unsafe(output, layout="\n\t")


@pytest.mark.parametrize(
    "asset", ["erase-line-why.yaml", "bidi-description.yaml", "hangul-filler-why.yaml"]
)
@pytest.mark.parametrize("command", ["inspect", "build"])
def test_hostile_manifest_text_never_reaches_the_terminal_unescaped(
    cli: CliRunner, tmp_path: Path, asset: str, command: str
) -> None:
    folder = write_package(tmp_path / "pkg", (HOSTILE_DIR / asset).read_text())
    result = cli(command, str(folder))
    assert result.returncode == 1
    assert "is invalid" in result.stderr and "control or invisible" in result.stderr
    assert obeyed(result.stdout + result.stderr) == []


def test_audit_show_escapes_host_names_a_tool_sent(cli: CliRunner, home: Path) -> None:
    locations = locate({"MPPOCI_HOME": str(home)})
    # A lone surrogate cannot be written to the UTF-8 audit log at all (a
    # separate problem, reported); every other hostile name is recorded.
    hosts = {**HOSTILE, "fake-line": FAKE_LINE}
    del hosts["lone-surrogate"]
    for host in hosts.values():
        # What the egress gateway reports is the name the tool asked for.
        events.network(
            locations,
            package="acme/word-count",
            digest="sha256:" + "ab" * 32,
            event={"kind": "dns", "decision": "denied", "host": host, "reason": "not declared"},
        )
    result = cli("audit", "show")
    assert result.returncode == 0, result.stderr
    assert obeyed(result.stdout) == []
    lines = result.stdout.splitlines()
    assert len(lines) == len(hosts)  # a newline in a host name does not make a record
    assert any("\\x1b[2K" in line for line in lines)
    assert any("\\u202e" in line for line in lines)
    assert cli("audit", "verify").returncode == 0


@pytest.fixture
def hostile_registry() -> Iterator[str]:
    """A registry on 127.0.0.1 whose error messages carry terminal commands."""
    message = (
        HOSTILE["erase-line"]
        + HOSTILE["bidi-override"]
        + HOSTILE["line-separator"]
        + "\n\nWhat to do: nothing, all is well"
    )

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/v2/":
                body = b"{}"
                self.send_response(200)
            else:
                errors = [{"code": "MANIFEST_UNKNOWN\x1b]0;t\x07", "message": message}]
                body = json.dumps({"errors": errors}, ensure_ascii=False).encode()
                self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET  # noqa: N815

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_registry_error_text_is_escaped_in_the_error(cli: CliRunner, hostile_registry: str) -> None:
    result = cli("pull", f"{hostile_registry}/acme/word-count:1.0.0")
    assert result.returncode == 1
    assert "\\x1b[2K" in result.stderr  # the registry's words, shown escaped
    assert "\nWhat to do: nothing" not in result.stderr  # and on their own line only
    assert obeyed(result.stdout + result.stderr) == []


# --- the printers on their own, with text that got past no parser -------------

ANY_HOST = (
    SAMPLE_MANIFEST + 'permissions:\n  network:\n    egress:\n      - {host: "*", port: 443, '
    "dangerouslyAllowAnyHost: true, why: Anything}\n"
)


def _smuggled(why: str) -> Manifest:
    m = parse_source(ANY_HOST.encode())
    rule = dataclasses.replace(m.permissions.egress[0], why=why)
    tool = dataclasses.replace(m.tools[0], description=why)
    return dataclasses.replace(
        m,
        description=why,
        tools=(tool,),
        permissions=dataclasses.replace(m.permissions, egress=(rule,)),
    )


def test_approval_screen_keeps_any_host_visible_whatever_the_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for why in (*HOSTILE.values(), FAKE_LINE):
        show_permissions(approval_question(_smuggled(why), Decision(Status.NOT_APPROVED)))
        shown = capsys.readouterr().err
        assert obeyed(shown) == []
        [any_host] = [line for line in shown.splitlines() if "ANY HOST" in line]
        assert any_host.startswith("  - Connect to ANY HOST ON THE INTERNET on port 443: ")
        # The fake "no network" line exists only inside the escaped why.
        assert not any(line.startswith("  - No network") for line in shown.splitlines())


def test_inspect_screen_escapes_what_the_manifest_says(tmp_path: Path) -> None:
    # A lone surrogate has no canonical JSON form, so no such package can
    # exist to inspect (its permission-set digest cannot be computed).
    for name, why in HOSTILE.items():
        if name == "lone-surrogate":
            continue
        view = PackageView(_smuggled(why), None, "folder", "not-built", "a folder")
        assert obeyed(text(view)) == []
    view = PackageView(_smuggled(FAKE_LINE), None, "folder", "not-built", "a folder")
    lines = text(view).splitlines()
    assert not any(line.startswith("  - No network") for line in lines)
    # A description that spans lines stays under its own indent.
    assert "    - No network access at all" in lines  # the package's description
    assert "        - No network access at all" in lines  # the tool's
