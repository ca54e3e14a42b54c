"""Stopping background tasks reliably."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any], *, retry_every: float = 0.1) -> None:
    """Cancel ``task`` and wait until it has finished.

    Cancels again while it runs on: a cancellation can be swallowed by code
    it awaits (``asyncio.wait_for`` on Python 3.11 loses one when the awaited
    future completes at the same moment), and a stop must not hang on that.
    Exceptions of the task are not raised here.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=retry_every)
    if not task.cancelled():
        task.exception()  # mark retrieved
