"""Fixtures every integration test package shares."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from zonegate.testing.backend import TestBackend

BackendFactory = Callable[..., Awaitable[TestBackend]]


@pytest.fixture
async def backends() -> AsyncIterator[BackendFactory]:
    """``await backends("name")``: a real HTTP backend on a free port, stopped afterwards."""
    started: list[TestBackend] = []

    async def make(name: str = "backend") -> TestBackend:
        backend = await TestBackend(name).start()
        started.append(backend)
        return backend

    yield make
    for backend in started:
        await backend.stop()
