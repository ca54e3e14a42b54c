"""The embedded scraper: every few seconds, read every target's ``/metrics``, fold the
counters into running totals and persist them in the store.

Targets come from a callable (static URLs, etcd discovery, anything), asked
again every cycle, so nodes come and go freely. A target that fails is
recorded with its error and retried next cycle; the others are unaffected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from zonegate.slo.aggregate import CounterAggregator, SeriesKey
from zonegate.slo.exposition import Wanted, parse_exposition
from zonegate.slo.sources import EmbeddedSource

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 16 * 1024 * 1024
DOWNSAMPLE_EVERY_S = 300.0


@dataclass(frozen=True)
class ScrapeTarget:
    """A metrics URL and the stable name its counters are remembered under."""

    url: str
    name: str = ""

    @property
    def key(self) -> str:
        return self.name or self.url


TargetSource = Callable[[], Awaitable[Sequence[ScrapeTarget]]]


def static_targets(urls: Sequence[str]) -> TargetSource:
    targets = [ScrapeTarget(url) for url in urls]

    async def source() -> Sequence[ScrapeTarget]:
        return targets

    return source


@dataclass
class CycleResult:
    at: float
    ok: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    changed: int = 0


class Scraper:
    def __init__(
        self,
        source: EmbeddedSource,
        targets: TargetSource,
        wanted: Wanted,
        *,
        interval_s: float = 5.0,
        timeout_s: float = 3.0,
        retention_s: float = 31 * 86400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.targets = targets
        self.wanted = wanted
        self.interval_s = interval_s
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.retention_s = retention_s
        self.clock = clock
        self.aggregator: CounterAggregator | None = None
        self.last_ok: dict[str, float] = {}
        self.last_cycle: CycleResult | None = None
        self.cycles = 0
        self._last_downsample = 0.0
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Load the state a previous run left (totals, last raw values)."""
        store = self.source.store
        self.aggregator = await self.source.run(store.load_aggregator)
        self.last_ok = await self.source.run(store.last_ok)
        self._session = aiohttp.ClientSession(timeout=self.timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _fetch(self, target: ScrapeTarget) -> str:
        assert self._session is not None
        headers = {"Accept": "text/plain;version=0.0.4"}
        async with self._session.get(target.url, headers=headers) as resp:
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}")
            body = await resp.content.read(MAX_BODY_BYTES + 1)
            if len(body) > MAX_BODY_BYTES:
                raise RuntimeError(f"metrics body larger than {MAX_BODY_BYTES} bytes")
            return body.decode("utf-8", errors="replace")

    async def scrape_once(self) -> CycleResult:
        """One cycle over every current target; persists before returning."""
        if self.aggregator is None:
            await self.start()
        assert self.aggregator is not None
        try:
            targets = list(await self.targets())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a discovery outage must not stop scraping
            log.warning("slo_targets_unavailable", extra={"error": repr(exc)})
            targets = []
        bodies = await asyncio.gather(*(self._fetch(t) for t in targets), return_exceptions=True)
        now = self.clock()
        result = CycleResult(at=now)
        changed: set[SeriesKey] = set()
        raw: dict[str, dict[str, float]] = {}
        for target, body in zip(targets, bodies, strict=True):
            if isinstance(body, asyncio.CancelledError):
                raise body
            if isinstance(body, BaseException):
                result.failed[target.key] = str(body) or type(body).__name__
                continue
            samples, created = parse_exposition(body, self.wanted)
            moved, raw_moved = self.aggregator.ingest(
                target.key, samples, created, self.last_ok.get(target.key), self.wanted
            )
            changed |= moved
            raw[target.key] = raw_moved
            self.last_ok[target.key] = now
            result.ok.append(target.key)
        for name, error in result.failed.items():
            log.warning("slo_scrape_failed", extra={"target": name, "error": error})
        result.changed = len(changed)
        totals = dict(self.aggregator.totals)
        store = self.source.store
        await self.source.run(
            store.write_cycle, now, totals, changed, raw, result.ok, result.failed
        )
        if now - self._last_downsample >= DOWNSAMPLE_EVERY_S:
            self._last_downsample = now
            await self.source.run(store.downsample, now, self.retention_s)
        self.last_cycle = result
        self.cycles += 1
        return result

    async def run(self) -> None:
        """Scrape every ``interval_s`` until cancelled (cycles start on a fixed grid)."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            try:
                await self.scrape_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("slo_scrape_cycle_failed")
            next_at += self.interval_s
            delay = next_at - loop.time()
            if delay < 0:  # fell behind: skip missed ticks rather than bunching up
                next_at = loop.time()
                delay = 0
            await asyncio.sleep(delay)
