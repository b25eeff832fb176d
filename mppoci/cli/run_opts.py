"""The options that say what one run gets (``--mount``, ``--env``), shared by
``run``, ``policy show`` and ``serve``, and the request they make."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mppoci.app import UserInputError

if TYPE_CHECKING:
    from mppoci.app import RunRequest

MountOpt = Annotated[
    list[str] | None,
    typer.Option("--mount", help="NAME=HOST_PATH for a declared filesystem entry."),
]
EnvOpt = Annotated[
    list[str] | None,
    typer.Option("--env", help="NAME=VALUE, or NAME to take it from your environment."),
]


def request(mount: list[str] | None, env: list[str] | None, args: list[str] | None) -> RunRequest:
    """What ``--mount``, ``--env`` and the tool's arguments ask for.

    Raises UserInputError for a value of the wrong form."""
    from mppoci.app import RunRequest

    mounts: dict[str, str] = {}
    for item in mount or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise UserInputError(f"--mount {item!r}: expected NAME=HOST_PATH")
        mounts[name] = path
    values: dict[str, str | None] = {}
    for item in env or []:
        name, sep, value = item.partition("=")
        if not name:
            raise UserInputError(f"--env {item!r}: expected NAME=VALUE or NAME")
        values[name] = value if sep else None
    return RunRequest(mounts=mounts, env=values, args=tuple(args or ()))
