"""Signals while a sandbox is cleaned up: a second Ctrl-C waits until the
container is removed and the run recorded, then is delivered."""

from __future__ import annotations

import os
import signal

import pytest

from mppoci.errors import Terminated
from mppoci.signals import (
    interruption,
    signals_deferred,
    signals_raise,
)


def test_second_ctrl_c_during_cleanup_waits_until_the_cleanup_is_done() -> None:
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt), signals_deferred():
        os.kill(os.getpid(), signal.SIGINT)  # the attack on the cleanup: Ctrl-C again
        done.append("container removed")
        done.append("run recorded")
    assert done == ["container removed", "run recorded"]
    # The handlers are back: SIGINT raises again at once.
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)


def test_termination_during_cleanup_is_delivered_afterwards_as_terminated() -> None:
    before = signal.getsignal(signal.SIGTERM)
    done: list[str] = []
    with pytest.raises(Terminated) as stopped, signals_raise(), signals_deferred():
        os.kill(os.getpid(), signal.SIGTERM)
        done.append("cleaned up")
    assert done == ["cleaned up"] and stopped.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before


def test_interruption_names_the_signal() -> None:
    assert interruption(KeyboardInterrupt()) == "SIGINT"
    assert interruption(Terminated(int(signal.SIGTERM))) == "SIGTERM"
    assert interruption(Terminated(int(signal.SIGHUP))) == "SIGHUP"
    assert interruption(ValueError()) is None
