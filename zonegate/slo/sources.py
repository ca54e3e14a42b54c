"""Where event counts come from: the embedded SQLite store, or a Prometheus server.

Both answer the same questions for an SLO (events in a window, per zone,
how much history there is), so the engine and its math do not care which.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

import aiohttp

from zonegate import conventions as cv
from zonegate.slo.budget import EventCounts
from zonegate.slo.errors import DataSourceError
from zonegate.slo.queries import EventQuery, Selector, event_query
from zonegate.slo.spec import SLOSpec
from zonegate.slo.store import SampleStore, StoredSeries

T = TypeVar("T")


class DataSource(Protocol):
    async def counts(self, spec: SLOSpec, start: float, end: float) -> EventCounts: ...

    async def window_counts(
        self, spec: SLOSpec, end: float, lengths: Sequence[int]
    ) -> dict[int, EventCounts]: ...

    async def zone_counts(
        self, spec: SLOSpec, start: float, end: float
    ) -> dict[str, EventCounts]: ...

    async def covered(self, spec: SLOSpec, end: float) -> float: ...

    async def close(self) -> None: ...


class EmbeddedSource:
    """Counts from a :class:`SampleStore`, every call on the store's one worker thread."""

    def __init__(self, store: SampleStore) -> None:
        self.store = store
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slo-store")
        self._matches: dict[Selector, tuple[int, list[StoredSeries]]] = {}

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the store thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def _series(self, selector: Selector) -> list[StoredSeries]:
        generation = self.store.series_generation
        cached = self._matches.get(selector)
        if cached is None or cached[0] != generation:
            cached = (generation, self.store.matching(selector))
            self._matches[selector] = cached
        return cached[1]

    def counts_sync(
        self, query: EventQuery, start: float, end: float, zone: str | None = None
    ) -> EventCounts:
        def inc(selector: Selector) -> float:
            series = self._series(selector)
            if zone is not None:
                series = [s for s in series if s.labels.get(cv.LABEL_ZONE) == zone]
            return self.store.increase(series, start, end)

        total = inc(query.total)
        if query.bad is not None:
            return EventCounts(min(inc(query.bad), total), total)
        assert query.good is not None
        return EventCounts(max(0.0, total - inc(query.good)), total)

    def window_counts_sync(
        self, spec: SLOSpec, end: float, lengths: Sequence[int]
    ) -> dict[int, EventCounts]:
        query = event_query(spec.sli)
        return {w: self.counts_sync(query, end - w, end) for w in lengths}

    def zone_counts_sync(self, spec: SLOSpec, start: float, end: float) -> dict[str, EventCounts]:
        query = event_query(spec.sli)
        zones = sorted({z for s in self._series(query.total) if (z := s.labels.get(cv.LABEL_ZONE))})
        return {z: self.counts_sync(query, start, end, zone=z) for z in zones}

    def covered_sync(self, spec: SLOSpec, end: float) -> float:
        first = self.store.first_time(self._series(event_query(spec.sli).total))
        return 0.0 if first is None else max(0.0, min(end - first, spec.window_s))

    async def counts(self, spec: SLOSpec, start: float, end: float) -> EventCounts:
        return await self.run(self.counts_sync, event_query(spec.sli), start, end)

    async def window_counts(
        self, spec: SLOSpec, end: float, lengths: Sequence[int]
    ) -> dict[int, EventCounts]:
        return await self.run(self.window_counts_sync, spec, end, lengths)

    async def zone_counts(self, spec: SLOSpec, start: float, end: float) -> dict[str, EventCounts]:
        return await self.run(self.zone_counts_sync, spec, start, end)

    async def covered(self, spec: SLOSpec, end: float) -> float:
        return await self.run(self.covered_sync, spec, end)

    async def close(self) -> None:
        self.executor.shutdown(wait=True)


class PrometheusSource:
    """Counts by PromQL (``sum(increase(...[Ns]))`` at a given time) over the HTTP API."""

    def __init__(self, url: str, *, timeout_s: float = 10.0, concurrency: int = 8) -> None:
        self.url = url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._limit = asyncio.Semaphore(concurrency)

    async def _get(self, expr: str, at: float) -> list[dict[str, Any]]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        params = {"query": expr, "time": f"{at:.3f}"}
        async with self._limit:
            try:
                async with self._session.get(f"{self.url}/api/v1/query", params=params) as resp:
                    body = await resp.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise DataSourceError(f"Prometheus at {self.url} did not answer: {exc!r}") from exc
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else body
            raise DataSourceError(f"Prometheus at {self.url} refused {expr!r}: {error}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def _sum(self, expr: str, at: float) -> float:
        return sum(float(item["value"][1]) for item in await self._get(expr, at))

    @staticmethod
    def _increase(selector: Selector, seconds: float, by: str = "") -> str:
        rng = max(1, round(seconds))
        grouping = f" by ({by})" if by else ""
        return f"sum{grouping}(increase({selector.promql()}[{rng}s]))"

    async def counts(self, spec: SLOSpec, start: float, end: float) -> EventCounts:
        query = event_query(spec.sli)
        part = query.bad or query.good
        assert part is not None
        total, counted = await asyncio.gather(
            self._sum(self._increase(query.total, end - start), end),
            self._sum(self._increase(part, end - start), end),
        )
        bad = counted if query.bad is not None else total - counted
        return EventCounts(min(max(bad, 0.0), total), total)

    async def window_counts(
        self, spec: SLOSpec, end: float, lengths: Sequence[int]
    ) -> dict[int, EventCounts]:
        results = await asyncio.gather(*(self.counts(spec, end - w, end) for w in lengths))
        return dict(zip(lengths, results, strict=True))

    async def zone_counts(self, spec: SLOSpec, start: float, end: float) -> dict[str, EventCounts]:
        query = event_query(spec.sli)
        part = query.bad or query.good
        assert part is not None
        by = cv.LABEL_ZONE
        totals, parts = await asyncio.gather(
            self._get(self._increase(query.total, end - start, by), end),
            self._get(self._increase(part, end - start, by), end),
        )
        part_by_zone = {i["metric"].get(by, ""): float(i["value"][1]) for i in parts}
        out: dict[str, EventCounts] = {}
        for item in totals:
            zone = item["metric"].get(by, "")
            total = float(item["value"][1])
            counted = part_by_zone.get(zone, 0.0)
            bad = counted if query.bad is not None else total - counted
            out[zone] = EventCounts(min(max(bad, 0.0), total), total)
        return dict(sorted(out.items()))

    async def covered(self, spec: SLOSpec, end: float) -> float:
        """Seconds since the SLI's first sample (resolution 1 s up to 15 m of history,
        15 s up to 6 h, then 10 m)."""
        total = event_query(spec.sli).total.promql()
        for span, step in ((900, "1s"), (6 * 3600, "15s"), (spec.window_s, "10m")):
            expr = f"time() - min_over_time(timestamp(count({total}))[{span}s:{step}])"
            age = await self._sum(expr, end)
            if age < span - 120 or span >= spec.window_s:
                return max(0.0, min(age, spec.window_s))
        return float(spec.window_s)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
