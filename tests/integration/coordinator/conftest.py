"""Helpers for the coordinator's integration tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from prometheus_client import CollectorRegistry

from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.etcd_server import EtcdCluster
from zonegate.coordinator.metrics import CoordinatorMetrics

Eventually = Callable[..., Awaitable[None]]


async def _eventually(
    check: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {what or check}")
        await asyncio.sleep(0.02)


@pytest.fixture
def eventually() -> Eventually:
    """``await eventually(lambda: cond, timeout, "what")``: poll until true."""
    return _eventually


@pytest.fixture
def metrics() -> CoordinatorMetrics:
    return CoordinatorMetrics(CollectorRegistry())


@pytest.fixture
async def etcd(etcd_cluster: EtcdCluster, metrics: CoordinatorMetrics) -> AsyncIterator[EtcdClient]:
    """A client of the shared single-member cluster (own metrics registry)."""
    async with EtcdClient(etcd_cluster.endpoints, timeout=2.0, metrics=metrics) as client:
        yield client
