"""Options several commands share, defined once so they read the same everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
AllowDowngrade = Annotated[
    bool,
    typer.Option("--allow-downgrade", help="Accept a version older than one verified before."),
]
