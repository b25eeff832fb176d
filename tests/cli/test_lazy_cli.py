"""The root command loads command modules lazily: `mppoci --help` lists every
command from app.COMMANDS without importing them, and what it prints is what
the real commands would print. Also the error mapping of ``main``."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mppoci.cli import app as cli_app
from tests.conftest import CliRunner


def _probe(args: list[str], *, load_all: bool = False) -> tuple[str, list[str]]:
    code = f"""
import json, sys
import typer.main
from mppoci.cli import app
argv = json.loads(sys.argv[1])
group = typer.main.get_group(app.app)
if {load_all!r}:
    for name in app.COMMANDS:
        group.commands[name]  # builds it
try:
    group.main(argv, prog_name="mppoci")
except SystemExit:
    pass
loaded = sorted(m for m in sys.modules if m.startswith("mppoci.cli.") and m.endswith("_cmds"))
print("LOADED=" + json.dumps(loaded))
"""
    env = {**os.environ, "COLUMNS": "100", "TERMINAL_WIDTH": "100"}
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    out, _, loaded = done.stdout.rpartition("LOADED=")
    return out, json.loads(loaded)


def _first_paragraph(text: str | None) -> str:
    return inspect.cleandoc(text or "").split("\n\n")[0].strip()


def test_the_table_names_every_command_with_its_own_summary() -> None:
    built: dict[str, str] = {}
    for module in sorted({module for module, _ in cli_app.COMMANDS.values()}):
        for name, command in cli_app.build_module(module).items():
            assert name not in built, f"{name} defined by {built[name]} and {module}"
            built[name] = module
            assert cli_app.COMMANDS[name][0] == module, name
            summary = _first_paragraph(command.short_help or command.help)
            assert cli_app.COMMANDS[name][1] == summary, name
    assert sorted(built) == sorted(cli_app.COMMANDS)


def test_root_help_imports_no_command_module_and_matches_the_real_commands() -> None:
    lazy, loaded = _probe(["--help"])
    assert loaded == []
    for name in cli_app.COMMANDS:
        assert f" {name} " in lazy
    eager, loaded_all = _probe(["--help"], load_all=True)
    assert len(loaded_all) == len({module for module, _ in cli_app.COMMANDS.values()})
    assert lazy == eager


def test_a_command_imports_only_its_own_module(home: Path) -> None:
    out, loaded = _probe(["trust", "list", "--json"])
    assert json.loads(out)["keys"] == []
    assert loaded == ["mppoci.cli.trust_cmds"]


def test_a_subcommand_help_is_the_commands_own(cli: CliRunner) -> None:
    done = cli("approvals", "--help")
    assert done.returncode == 0
    assert "List and revoke approvals." in done.stdout
    assert "revoke" in done.stdout and "list" in done.stdout


def test_a_mistyped_command_is_a_usage_error_with_a_suggestion(cli: CliRunner) -> None:
    done = cli("trsut", "list")
    assert done.returncode == 2
    assert "No such command 'trsut'" in done.stderr
    assert "Did you mean 'trust'?" in done.stderr


def test_an_internal_error_is_one_line_without_its_text(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> None:
        raise RuntimeError("token=hunter2")

    monkeypatch.setattr(cli_app, "app", broken)
    monkeypatch.delenv("MPPOCI_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        cli_app.main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "internal error (RuntimeError); this is a bug in mppoci" in err
    assert "hunter2" not in err and "Traceback" not in err

    monkeypatch.setenv("MPPOCI_DEBUG", "1")
    with pytest.raises(RuntimeError, match="hunter2"):
        cli_app.main()


def test_a_termination_during_a_run_exits_with_the_signal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mppoci.errors import Terminated

    def stopped() -> None:
        raise Terminated(15)

    monkeypatch.setattr(cli_app, "app", stopped)
    with pytest.raises(SystemExit) as exit_info:
        cli_app.main()
    assert exit_info.value.code == 128 + 15
    assert "stopped by a signal; the sandbox was removed" in capsys.readouterr().err
