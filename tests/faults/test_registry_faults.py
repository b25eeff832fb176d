"""Registry faults during a real `mppoci pull`, made by a proxy in front of a
real registry: each ends in a clear error after bounded attempts, and the
store is exactly as it was."""

from __future__ import annotations

import pytest

from tests.conftest import run_mppoci
from tests.faults.conftest import FaultProxy, Published, assert_store_whole, ok, store_state

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _pull(published: Published, proxy: FaultProxy, *extra: str) -> object:
    return run_mppoci(published.consumer, "pull", published.ref(proxy.host), *extra)


def _layer_hits(proxy: FaultProxy, published: Published) -> int:
    return sum(published.layer in path for path in proxy.hits)


def _refused_and_unchanged(published: Published, proxy: FaultProxy, *extra: str) -> str:
    before = store_state(published.consumer)
    result = _pull(published, proxy, *extra)
    assert result.returncode == 1, result.stdout  # type: ignore[attr-defined]
    stderr: str = result.stderr  # type: ignore[attr-defined]
    print(f"\n{stderr}")  # shown with -s: the message a user gets
    assert "Traceback" not in stderr
    assert store_state(published.consumer) == before
    assert_store_whole(published.consumer)
    return stderr


def test_server_errors_are_retried_a_bounded_number_of_times(
    published: Published, fault_proxy: FaultProxy
) -> None:
    fault_proxy.mode, fault_proxy.match = "status:500", published.layer
    stderr = _refused_and_unchanged(published, fault_proxy)
    assert "500" in stderr
    assert _layer_hits(fault_proxy, published) == 4  # one attempt and three retries


def test_429_with_retry_after_is_honoured_then_the_pull_succeeds(
    published: Published, fault_proxy: FaultProxy
) -> None:
    fault_proxy.mode, fault_proxy.match = "status:429", published.layer
    fault_proxy.times, fault_proxy.retry_after = 2, "1"
    assert ok(_pull(published, fault_proxy)) == published.digest
    assert _layer_hits(fault_proxy, published) == 3  # two refusals, then the blob
    assert_store_whole(published.consumer)


def test_429_forever_gives_up_after_bounded_retries(
    published: Published, fault_proxy: FaultProxy
) -> None:
    fault_proxy.mode, fault_proxy.match, fault_proxy.retry_after = "status:429", "/blobs/", "0"
    stderr = _refused_and_unchanged(published, fault_proxy)
    assert "429" in stderr
    assert len(fault_proxy.hits) == 4


def test_a_stalled_connection_ends_at_the_configured_timeout(
    published: Published, fault_proxy: FaultProxy
) -> None:
    fault_proxy.mode, fault_proxy.match = "stall", published.layer
    stderr = _refused_and_unchanged(published, fault_proxy, "--timeout", "1")
    assert "did not answer within 1 s" in stderr and "--timeout" in stderr
    assert _layer_hits(fault_proxy, published) == 1  # a timeout is not retried


def test_a_truncated_blob_is_refused(published: Published, fault_proxy: FaultProxy) -> None:
    fault_proxy.mode, fault_proxy.match = "truncate", published.layer
    stderr = _refused_and_unchanged(published, fault_proxy, "--timeout", "5")
    assert f"the download of {published.layer}" in stderr
    assert "connection closed before the whole response arrived" in stderr


def test_a_blob_larger_than_declared_is_refused(
    published: Published, fault_proxy: FaultProxy
) -> None:
    fault_proxy.mode, fault_proxy.match = "oversize", published.layer
    stderr = _refused_and_unchanged(published, fault_proxy)
    assert f"blob {published.layer}" in stderr and "is larger than the" in stderr
