"""Graceful drain: readiness 503 first, serve through the grace period, then finish in-flight.

Steps, once (SIGTERM or ``POST /drain``): the node turns not-ready and every
response carries ``connection: close`` (clients move to fresh connections,
which still work during the grace); the ``before`` hooks run (revoking the
etcd registration, so discovery drops the node at once); after
``grace_s`` (counted from the start; a second signal cuts it short) the
listener closes, idle connections close, and requests in flight finish
within ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from zonegate.config.node_ops import DrainSettings
from zonegate.node.runtime import GatewayNode

log = logging.getLogger("zonegate.node.drain")

DrainHook = Callable[[], Awaitable[None]]
HOOK_TIMEOUT_S = 5.0


class DrainController:
    def __init__(
        self,
        node: GatewayNode,
        settings: DrainSettings,
        *,
        before: Sequence[DrainHook] = (),
        on_start: Callable[[], None] | None = None,
    ) -> None:
        self.node = node
        self.settings = settings
        self.before = list(before)
        self.on_start = on_start
        self._hurry = asyncio.Event()
        self._requested = asyncio.Event()
        self._task: asyncio.Task[bool] | None = None

    @property
    def started(self) -> bool:
        return self._task is not None

    def request(self) -> bool:
        """Start draining; False when it had already started."""
        if self._task is not None:
            return False
        self._task = asyncio.get_running_loop().create_task(self._run(), name="drain")
        self._requested.set()
        return True

    def hurry(self) -> None:
        """Skip the rest of the grace period (a second SIGTERM/SIGINT)."""
        self._hurry.set()

    async def wait(self) -> bool:
        """Wait until a drain has been requested and has finished; True when clean."""
        await self._requested.wait()
        assert self._task is not None
        return await self._task

    async def _run(self) -> bool:
        loop = asyncio.get_running_loop()
        grace_end = loop.time() + self.settings.grace_s
        self.node.begin_drain()
        if self.on_start is not None:
            self.on_start()
        log.info(
            "drain_requested",
            extra={"grace_s": self.settings.grace_s, "timeout_s": self.settings.timeout_s},
        )
        for hook in self.before:
            try:
                async with asyncio.timeout(HOOK_TIMEOUT_S):
                    await hook()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("drain_hook_failed")
        remaining = grace_end - loop.time()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hurry.wait(), remaining)
        return await self.node.finish_drain(self.settings.timeout_s)
