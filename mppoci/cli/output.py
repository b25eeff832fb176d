"""Every line the CLI prints goes through here, made terminal-safe.

What a command prints mixes our words with text from outside (package
manifests, registry answers, audit records a tool influenced). The layout
(newlines, tabs) is ours; anything else a terminal would obey or hide is
written visibly as an escape by :func:`mppoci.text.terminal_safe`. Single
fields that must stay on one line are escaped where they are formatted.
"""

from __future__ import annotations

import typer

from mppoci.app import terminal_safe


def echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """typer.echo, with controls and invisible characters escaped."""
    typer.echo(terminal_safe(message, multiline=True), err=err, nl=nl)
