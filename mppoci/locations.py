"""Where mppoci keeps its files (conventions: XDG, or everything under MPPOCI_HOME)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mppoci.errors import UserInputError


@dataclass(frozen=True, slots=True)
class Locations:
    config: Path  # trust policy, settings
    data: Path  # the OCI-layout store, approvals, rollback state
    state: Path  # the audit log
    # mppoci's default (XDG) folders when MPPOCI_HOME moved it elsewhere:
    # the user's real policy, approvals and log are still never bound.
    also_protected: tuple[Path, ...] = ()

    @property
    def store(self) -> Path:
        return self.data / "store"

    def protected(self) -> tuple[Path, ...]:
        """Folders a sandbox must never be given: a tool that could write here
        could approve itself or rewrite the audit log.

        Each as named and with its symlinks resolved, since mounts are compared
        after resolving theirs: a symlinked MPPOCI_HOME (or a symlink into it)
        is still refused."""
        out: list[Path] = []
        for folder in (self.config, self.data, self.state, *self.also_protected):
            for form in (folder, Path(os.path.realpath(folder))):
                if form not in out:
                    out.append(form)
        return tuple(out)


def _absolute(name: str, value: str) -> Path:
    path = Path(value)
    if not path.is_absolute():
        raise UserInputError(
            f"{name}={value!r} is not an absolute path",
            hint=f"set {name} to an absolute folder, or unset it",
        )
    return path


def locate(environ: Mapping[str, str] | None = None) -> Locations:
    """Resolve the three folders from the environment (pure: reads only ``environ``).

    Raises:
        UserInputError: MPPOCI_HOME or an XDG variable is set to a relative path.
    """
    env = os.environ if environ is None else environ
    default = _xdg(env)
    home_override = env.get("MPPOCI_HOME")
    if home_override:
        root = _absolute("MPPOCI_HOME", home_override)
        return Locations(
            config=root / "config",
            data=root / "data",
            state=root / "state",
            also_protected=(default.config, default.data, default.state),
        )
    return default


def _xdg(env: Mapping[str, str]) -> Locations:
    home = Path(env.get("HOME") or Path.home())

    def xdg(var: str, default: Path) -> Path:
        value = env.get(var)
        # The XDG spec says relative values are invalid and must be ignored.
        return Path(value) if value and Path(value).is_absolute() else default

    return Locations(
        config=xdg("XDG_CONFIG_HOME", home / ".config") / "mppoci",
        data=xdg("XDG_DATA_HOME", home / ".local" / "share") / "mppoci",
        state=xdg("XDG_STATE_HOME", home / ".local" / "state") / "mppoci",
    )
