"""What an exit code says about how the tool ended (pure)."""

from __future__ import annotations

import pytest

from mppoci.sandbox.exit_status import SECCOMP_TEXT, stopped_by


def test_sigsys_is_named_as_the_seccomp_filter() -> None:
    stopped = stopped_by(159)
    assert stopped is not None and stopped.signal == "SIGSYS" and stopped.by_seccomp
    said = stopped.describe("acme/tool")
    assert said == f"acme/tool was {SECCOMP_TEXT}: exit 159 (SIGSYS)"
    assert "a system call it did not declare" in said


@pytest.mark.parametrize(
    ("code", "name"), [(134, "SIGABRT"), (139, "SIGSEGV"), (135, "SIGBUS"), (132, "SIGILL")]
)
def test_a_crash_points_at_the_profile_without_blaming_it(code: int, name: str) -> None:
    stopped = stopped_by(code)
    assert stopped is not None and stopped.crashed and not stopped.by_seccomp
    said = stopped.describe("acme/tool") or ""
    assert said.startswith(f"acme/tool crashed: exit {code} ({name}).")
    assert "EPERM" in said and "`mppoci policy show acme/tool`" in said


@pytest.mark.parametrize("code", [137, 143])
def test_a_stop_from_outside_says_nothing_more(code: int) -> None:
    stopped = stopped_by(code)
    assert stopped is not None and stopped.signal in ("SIGKILL", "SIGTERM")
    assert stopped.describe("t") is None


@pytest.mark.parametrize("code", [0, 1, 2, 125, 127, 128, 255, -1, 1000])
def test_ordinary_exits_are_not_signals(code: int) -> None:
    assert stopped_by(code) is None
