"""Listing containers while mppoci removes them.

docker-py's `containers.list()` lists, then inspects each container in a
second request; a container mppoci removes in between makes the whole call
raise NotFound. Tests that watch sandboxes come and go list with this
instead: one list request, then each container inspected on its own, and a
container that is gone by then is simply not listed (it was removed, which
is what those tests wait for)."""

from __future__ import annotations

from typing import Any

import docker.errors


def list_containers(client: Any, filters: dict[str, str]) -> list[Any]:
    """Every container (running or not) matching `filters` that still exists."""
    found = []
    for sparse in client.containers.list(all=True, filters=filters, sparse=True):
        try:
            sparse.reload()
        except docker.errors.NotFound:
            continue
        found.append(sparse)
    return found
