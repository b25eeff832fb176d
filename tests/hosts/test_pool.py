"""The pool of prepared sandboxes, with a stand-in for Docker: it refills to
its size, hands each sandbox out once, prepares on demand when empty, keeps
refilling after errors, and gives back what it held when closed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from mppoci.errors import RuntimeEngineError
from mppoci.hosts.pool import Pool
from tests.hosts.helpers import manifest


class FakeSandboxes:
    def __init__(self, failures: int = 0) -> None:
        self.made = 0
        self.retired: list[int] = []
        self.failures = failures
        self.lock = threading.Lock()
        self.package = type("P", (), {"manifest": manifest("acme/echo", "say")})()

    def prepare(self) -> Any:
        with self.lock:
            if self.failures:
                self.failures -= 1
                raise RuntimeEngineError("the engine is down")
            self.made += 1
            return self.made

    def retire(self, prepared: Any) -> None:
        with self.lock:
            self.retired.append(prepared)


def _until(check: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_pool_fills_to_its_size_and_never_hands_out_a_sandbox_twice() -> None:
    sandboxes = FakeSandboxes()
    pool = Pool(sandboxes, 2)
    pool.start()
    _until(lambda: pool.ready() == 2)
    time.sleep(0.05)
    assert sandboxes.made == 2  # no more than its size
    taken = [pool.take() for _ in range(5)]
    assert len(set(taken)) == 5
    _until(lambda: pool.ready() == 2)
    pool.close()
    assert sorted(sandboxes.retired) == sorted(set(range(1, sandboxes.made + 1)) - set(taken))
    assert pool.ready() == 0


def test_size_zero_prepares_each_sandbox_on_demand() -> None:
    sandboxes = FakeSandboxes()
    pool = Pool(sandboxes, 0)
    pool.start()
    time.sleep(0.05)
    assert sandboxes.made == 0
    assert pool.take() == 1 and pool.take() == 2
    pool.close()
    assert sandboxes.retired == []


def test_refill_reports_errors_and_keeps_trying() -> None:
    sandboxes = FakeSandboxes(failures=1)
    reports: list[str] = []
    pool = Pool(sandboxes, 1, report=reports.append)
    pool.start()
    _until(lambda: pool.ready() == 1, seconds=15)
    assert reports and "the engine is down" in reports[0] and "retrying" in reports[0]
    pool.close()
    assert sandboxes.retired == [1]
