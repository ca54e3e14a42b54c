"""SQLite store (``.zonegate/slo.db``): aggregated counter totals, scraper state, alert history.

Samples hold *reset-adjusted running totals* per aggregated series, written
only when they change. So any window's increase is two indexed lookups, and
downsampling is lossless at its resolution: keeping the last sample of each
minute keeps every minute's increase. Tiers: full resolution for the last
2 hours, one sample a minute up to 2 days, one per 5 minutes beyond, nothing
older than the retention. Synchronous; :mod:`zonegate.slo.sources` runs it
on one worker thread.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zonegate.slo.aggregate import CounterAggregator, SeriesKey
from zonegate.slo.alerts import AlertState, Transition
from zonegate.slo.errors import StoreError
from zonegate.slo.queries import Selector
from zonegate.slo.windows import Severity

DEFAULT_PATH = Path(".zonegate") / "slo.db"
DOWNSAMPLE_TIERS: tuple[tuple[float, float], ...] = ((2 * 3600, 60.0), (2 * 86400, 300.0))
"""(age in seconds beyond which, resolution in seconds)"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY, metric TEXT NOT NULL, labels TEXT NOT NULL, total REAL NOT NULL,
  UNIQUE (metric, labels));
CREATE TABLE IF NOT EXISTS samples (
  series_id INTEGER NOT NULL, t REAL NOT NULL, value REAL NOT NULL,
  PRIMARY KEY (series_id, t)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS samples_t ON samples (t);
CREATE TABLE IF NOT EXISTS target_raw (
  target TEXT NOT NULL, series TEXT NOT NULL, raw REAL NOT NULL,
  PRIMARY KEY (target, series)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS targets (
  target TEXT PRIMARY KEY, last_ok REAL, last_error TEXT, last_error_at REAL);
CREATE TABLE IF NOT EXISTS alert_events (
  id INTEGER PRIMARY KEY, slo TEXT NOT NULL, severity TEXT NOT NULL, previous TEXT NOT NULL,
  state TEXT NOT NULL, at REAL NOT NULL, started_at REAL, burn_rate REAL, windows TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alert_events_slo ON alert_events (slo, at);
"""


@dataclass(frozen=True)
class StoredSeries:
    id: int
    metric: str
    labels: dict[str, str]


class SampleStore:
    """One SQLite database; not thread-safe (use it from one thread)."""

    def __init__(self, path: str | Path = DEFAULT_PATH) -> None:
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open SLO store {path}: {exc}") from exc
        self._series: dict[SeriesKey, int] = {}
        self._by_id: dict[int, StoredSeries] = {}
        for sid, metric, labels in self.db.execute("SELECT id, metric, labels FROM series"):
            self._remember(sid, metric, labels)

    def close(self) -> None:
        self.db.close()

    def _remember(self, sid: int, metric: str, labels_json: str) -> None:
        labels = dict(json.loads(labels_json))
        self._series[(metric, tuple(sorted(labels.items())))] = sid
        self._by_id[sid] = StoredSeries(sid, metric, labels)

    # --- scraper state ---------------------------------------------------
    def load_aggregator(self) -> CounterAggregator:
        """Totals and last raw values as they were: a restart continues where it stopped."""
        agg = CounterAggregator()
        for sid, total in self.db.execute("SELECT id, total FROM series"):
            s = self._by_id[sid]
            agg.totals[(s.metric, tuple(sorted(s.labels.items())))] = total
        for target, series, raw in self.db.execute("SELECT target, series, raw FROM target_raw"):
            agg.last_raw.setdefault(target, {})[series] = raw
        return agg

    def last_ok(self) -> dict[str, float]:
        rows = self.db.execute("SELECT target, last_ok FROM targets WHERE last_ok IS NOT NULL")
        return dict(rows.fetchall())

    def target_health(self) -> list[tuple[str, float | None, str | None, float | None]]:
        rows = self.db.execute("SELECT target, last_ok, last_error, last_error_at FROM targets")
        return sorted(rows.fetchall())

    def write_cycle(
        self,
        t: float,
        totals: dict[SeriesKey, float],
        changed: Iterable[SeriesKey],
        raw: dict[str, dict[str, float]],
        ok: Sequence[str],
        failed: dict[str, str],
    ) -> None:
        """Persist one scrape cycle in one transaction."""
        with self._transaction() as db:
            rows = []
            for key in changed:
                sid = self._series_id(db, key, totals[key])
                rows.append((sid, t, totals[key]))
                db.execute("UPDATE series SET total = ? WHERE id = ?", (totals[key], sid))
            db.executemany("INSERT OR REPLACE INTO samples VALUES (?, ?, ?)", rows)
            db.executemany(
                "INSERT OR REPLACE INTO target_raw VALUES (?, ?, ?)",
                [(tg, s, v) for tg, values in raw.items() for s, v in values.items()],
            )
            db.executemany(
                "INSERT INTO targets (target, last_ok) VALUES (?, ?) "
                "ON CONFLICT (target) DO UPDATE SET last_ok = excluded.last_ok",
                [(tg, t) for tg in ok],
            )
            db.executemany(
                "INSERT INTO targets (target, last_error, last_error_at) VALUES (?, ?, ?) "
                "ON CONFLICT (target) DO UPDATE SET last_error = excluded.last_error, "
                "last_error_at = excluded.last_error_at",
                [(tg, err, t) for tg, err in failed.items()],
            )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('last_cycle', ?)", (repr(t),))

    def import_series(self, key: SeriesKey, points: Sequence[tuple[float, float]]) -> None:
        """Bulk-load running totals of one series (backfills, demos, benchmarks)."""
        if not points:
            return
        with self._transaction() as db:
            sid = self._series_id(db, key, points[-1][1])
            db.executemany(
                "INSERT OR REPLACE INTO samples VALUES (?, ?, ?)",
                [(sid, t, v) for t, v in points],
            )
            db.execute("UPDATE series SET total = ? WHERE id = ?", (points[-1][1], sid))

    def _series_id(self, db: sqlite3.Connection, key: SeriesKey, total: float) -> int:
        sid = self._series.get(key)
        if sid is None:
            metric, labels = key
            labels_json = json.dumps(dict(labels), sort_keys=True)
            cur = db.execute(
                "INSERT INTO series (metric, labels, total) VALUES (?, ?, ?)",
                (metric, labels_json, total),
            )
            sid = int(cur.lastrowid or 0)
            self._remember(sid, metric, labels_json)
        return sid

    def _transaction(self) -> _Tx:
        return _Tx(self.db)

    # --- queries -----------------------------------------------------------
    @property
    def series_generation(self) -> int:
        """Changes whenever a series is added (so cached selector matches go stale)."""
        return len(self._by_id)

    def matching(self, selector: Selector) -> list[StoredSeries]:
        return [s for s in self._by_id.values() if selector.matches(s.metric, s.labels)]

    def value_at(self, series_id: int, t: float) -> float:
        row = self.db.execute(
            "SELECT value FROM samples WHERE series_id = ? AND t <= ? ORDER BY t DESC LIMIT 1",
            (series_id, t),
        ).fetchone()
        return float(row[0]) if row else 0.0

    def increase(self, series: Sequence[StoredSeries], start: float, end: float) -> float:
        return sum(max(0.0, self.value_at(s.id, end) - self.value_at(s.id, start)) for s in series)

    def first_time(self, series: Sequence[StoredSeries]) -> float | None:
        firsts = [
            row[0]
            for s in series
            if (
                row := self.db.execute(
                    "SELECT MIN(t) FROM samples WHERE series_id = ?", (s.id,)
                ).fetchone()
            )
            and row[0] is not None
        ]
        return min(firsts) if firsts else None

    def sample_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM samples").fetchone()[0])

    # --- retention -----------------------------------------------------------
    def downsample(self, now: float, retention_s: float) -> int:
        """Thin old samples to their tier's resolution and drop expired ones; rows removed."""
        removed = 0
        with self._transaction() as db:
            removed += db.execute("DELETE FROM samples WHERE t < ?", (now - retention_s,)).rowcount
            for age, step in DOWNSAMPLE_TIERS:
                key = f"downsampled_{int(step)}"
                row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
                lo = float(row[0]) if row else 0.0
                hi = (now - age) // step * step
                if hi <= lo:
                    continue
                # buckets are (k*step, (k+1)*step]: the kept sample of each is the latest,
                # so the running total at every multiple of ``step`` stays exact
                removed += db.execute(
                    "DELETE FROM samples WHERE t > :lo AND t <= :hi AND (series_id, t) NOT IN ("
                    " SELECT series_id, MAX(t) FROM samples WHERE t > :lo AND t <= :hi"
                    " GROUP BY series_id, CAST(t / :step AS INTEGER)"
                    " + (t / :step > CAST(t / :step AS INTEGER)))",
                    {"lo": lo, "hi": hi, "step": step},
                ).rowcount
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, repr(hi)))
        return removed

    # --- alert history -------------------------------------------------------
    def record_transitions(self, transitions: Iterable[Transition]) -> None:
        rows = [
            (
                t.slo,
                t.severity,
                t.previous,
                t.state,
                t.at,
                t.started_at,
                t.burn_rate,
                json.dumps(list(t.windows)),
            )
            for t in transitions
        ]
        if rows:
            with self._transaction() as db:
                db.executemany(
                    "INSERT INTO alert_events (slo, severity, previous, state, at, started_at,"
                    " burn_rate, windows) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )

    def alert_history(
        self, slo: str | None = None, since: float = 0.0, limit: int = 500
    ) -> list[Transition]:
        """Transitions since ``since`` (oldest first), at most the ``limit`` newest."""
        query = f"SELECT {_EVENT_COLUMNS} FROM alert_events WHERE at >= ?"
        params: list[object] = [since]
        if slo is not None:
            query += " AND slo = ?"
            params.append(slo)
        query += " ORDER BY at DESC, id DESC LIMIT ?"
        params.append(limit)
        return [_transition(row) for row in self.db.execute(query, params)][::-1]

    def last_transitions(self) -> list[Transition]:
        """The latest transition of every (slo, severity): to restore alert states."""
        query = (
            f"SELECT {_EVENT_COLUMNS} FROM alert_events WHERE id IN "
            "(SELECT MAX(id) FROM alert_events GROUP BY slo, severity)"
        )
        return [_transition(row) for row in self.db.execute(query)]


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN")
        return self.db

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        self.db.execute("ROLLBACK" if kind else "COMMIT")


_EVENT_COLUMNS = "slo, severity, previous, state, at, started_at, burn_rate, windows"


def _transition(row: Sequence[Any]) -> Transition:
    severity: Severity = "page" if row[1] == "page" else "ticket"
    return Transition(
        slo=row[0],
        severity=severity,
        previous=AlertState(row[2]),
        state=AlertState(row[3]),
        at=row[4],
        started_at=row[5],
        burn_rate=row[6],
        windows=tuple(json.loads(row[7])),
    )
