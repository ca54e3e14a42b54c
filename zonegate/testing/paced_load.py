"""Open-loop paced HTTP load for benchmarks and tests: a request rate per target URL,
every outcome recorded (status 0: no HTTP answer)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

TICK_S = 0.002


@dataclass(frozen=True, slots=True)
class Outcome:
    at: float
    """Loop time the request was sent."""
    target: int
    status: int


class PacedLoad:
    """``rates[i]`` requests per second to ``urls[i]``, until :meth:`stop`."""

    def __init__(
        self,
        urls: Sequence[str],
        rates: Sequence[float],
        *,
        concurrency: int = 256,
        timeout_s: float = 5.0,
    ) -> None:
        if len(urls) != len(rates):
            raise ValueError("one rate per URL")
        self.urls = list(urls)
        self.rates = list(rates)
        self.concurrency = concurrency
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.outcomes: list[Outcome] = []
        self._session: aiohttp.ClientSession | None = None
        self._pacer: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(concurrency)

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=0)
        self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout)
        self._pacer = asyncio.create_task(self._pace(), name="paced-load")

    async def stop(self) -> list[Outcome]:
        """Stop sending, wait for the requests in flight, return every outcome."""
        if self._pacer is not None:
            self._pacer.cancel()
            await asyncio.gather(self._pacer, return_exceptions=True)
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        return self.outcomes

    async def run(self, seconds: float) -> list[Outcome]:
        await self.start()
        await asyncio.sleep(seconds)
        return await self.stop()

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        issued = [0] * len(self.urls)
        while True:
            elapsed = loop.time() - started
            for target, rate in enumerate(self.rates):
                due = int(rate * elapsed) - issued[target]
                for _ in range(due):
                    task = loop.create_task(self._one(target))
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
                issued[target] += max(0, due)
            await asyncio.sleep(TICK_S)

    async def _one(self, target: int) -> None:
        assert self._session is not None
        async with self._slots:
            at = asyncio.get_running_loop().time()
            try:
                async with self._session.get(self.urls[target]) as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            self.outcomes.append(Outcome(at, target, status))


def tally(outcomes: Sequence[Outcome], start: float = float("-inf"), end: float = float("inf"),
          ) -> Counter[tuple[int, int]]:  # fmt: skip
    """(target, status) -> count of requests sent in [start, end)."""
    return Counter((o.target, o.status) for o in outcomes if start <= o.at < end)
