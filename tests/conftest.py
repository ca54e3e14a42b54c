"""Shared fixtures (etcd clusters, free ports, processes) live here.

etcd fixtures start real etcd servers (never a mock) on loopback, with raft
tuned for fast tests (heartbeat 50 ms, election 500 ms, so etcd grants 1 s
leases), and always stop them and remove their data dirs:

- ``etcd_cluster``: one member, shared by the tests of a module. Tests isolate
  themselves with a unique ``cluster_name`` (key prefix) and must not kill,
  pause or restart its member.
- ``etcd_cluster3``: three members, shared the same way.
- ``etcd_factory``: ``etcd_factory(size=3)`` starts a fresh cluster owned by one
  test, for chaos (kill/pause/restart members); stopped after the test.

Each yields an :class:`~zonegate.coordinator.etcd_server.EtcdCluster`
(``.endpoints`` is a list of ``"127.0.0.1:port"``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from zonegate.coordinator.etcd_server import EtcdCluster

FAST_HEARTBEAT_MS = 50
FAST_ELECTION_MS = 500


def _start(size: int) -> EtcdCluster:
    return EtcdCluster(size, heartbeat_ms=FAST_HEARTBEAT_MS, election_ms=FAST_ELECTION_MS).start()


@pytest.fixture(scope="module")
def etcd_cluster() -> Iterator[EtcdCluster]:
    cluster = _start(1)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def etcd_cluster3() -> Iterator[EtcdCluster]:
    cluster = _start(3)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def etcd_factory() -> Iterator[Callable[..., EtcdCluster]]:
    started: list[EtcdCluster] = []

    def start(size: int = 1, **kwargs: object) -> EtcdCluster:
        kwargs.setdefault("heartbeat_ms", FAST_HEARTBEAT_MS)
        kwargs.setdefault("election_ms", FAST_ELECTION_MS)
        cluster = EtcdCluster(size, **kwargs)  # type: ignore[arg-type]
        started.append(cluster)
        return cluster.start()

    try:
        yield start
    finally:
        for cluster in started:
            cluster.stop()


@pytest.fixture
def cluster_name() -> str:
    """A zonegate cluster name (etcd key prefix) no other test uses."""
    return f"t{uuid.uuid4().hex[:12]}"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to test a compiled hot path that is older than its sources."""
    from zonegate.node.compiled import stale_sources

    stale = stale_sources()
    if stale:
        pytest.exit(
            f"the compiled hot path is older than {', '.join(stale[:3])}"
            f"{' ...' if len(stale) > 3 else ''}: run `make compile` (or `make test`)",
            returncode=4,
        )
