"""The drill's numbers, computed from the request log and the observed health events.

Pure: everything comes in as data (records, events, marks), so a test can
feed a synthetic log with known answers. Definitions (also in the report):

The fault takes effect when its action returns for instant faults (a kill, a
pause, a toxic: the API answers once it is done) and when it is sent for
gradual ones (a drain, a restart); detection events are looked for from the
moment it was sent.

- ``time_to_detect_s``: fault -> the first observation that a target is down
  (a GLB marks a target node unhealthy, or a target zone down/degraded; for
  an etcd leader kill: a new leader elected).
- ``time_to_failover_s``: fault -> the start of the first bin (starting at or
  after the fault) that begins ``sustain_bins`` non-empty bins in which
  success >= ``success_threshold`` and no target node or zone served a request.
- ``time_to_recover_s``: recovery (the first recovery step; the fault when
  there is none) -> the start of the first run of ``sustain_bins`` non-empty
  bins with success >= threshold whose zone shares together are within
  ``share_tolerance`` of the pre-fault baseline.
- ``error_rate_during`` / ``p99_during_ms``: requests started from the fault
  (the method start without one) to the end of the observation.
- ``error_budget_consumed``: bad requests of the method's window as a share
  of the SLO window's budget at the load's request rate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from zonegate.chaos.records import RequestRecord, in_window, percentile
from zonegate.chaos.timeline import Bin, make_bins, zone_shares
from zonegate.slo.budget import EventCounts, budget_consumed_between

NODE_DOWN = "node_down"
NODE_UP = "node_up"
ZONE_EVENT = "zone_"  # + down / degraded / recovering / restored
ETCD_LEADER = "etcd_leader"
DETECTING_ZONE_EVENTS = frozenset({"zone_down", "zone_degraded"})


@dataclass(frozen=True)
class HealthEvent:
    """Something the observer saw: a node's health flip, a zone transition, the etcd leader."""

    t: float
    kind: str
    subject: str
    source: str = ""


@dataclass(frozen=True)
class FaultTargets:
    """What the first fault hit: gateway nodes, whole zones, or etcd.

    ``etcd_leader``: the fault took the raft leader away, so "detected" means a
    new leader was elected (for other etcd faults nothing detects them as such).
    """

    nodes: frozenset[str] = frozenset()
    zones: frozenset[str] = frozenset()
    etcd: bool = False
    etcd_leader: bool = False

    @property
    def has_traffic_targets(self) -> bool:
        return bool(self.nodes or self.zones)


@dataclass(frozen=True)
class Marks:
    """``[load_start, load_end)`` is binned; the fault window ends at ``observe_end``."""

    load_start: float
    observe_end: float
    load_end: float | None = None
    method_start: float | None = None
    fault_at: float | None = None
    recovery_at: float | None = None
    fault_issued_at: float | None = None
    """when the fault action was sent (``fault_at`` is when it took effect)"""


@dataclass(frozen=True)
class AnalysisSettings:
    bin_s: float = 0.1
    success_threshold: float = 0.99
    sustain_bins: int = 3
    baseline_s: float = 3.0
    share_tolerance: float = 0.1
    objective: float = 0.999
    slo_window_s: float = 30 * 86400.0


@dataclass
class DrillNumbers:
    time_to_detect_s: float | None = None
    time_to_failover_s: float | None = None
    time_to_recover_s: float | None = None
    requests_total: int = 0
    requests_failed: int = 0
    requests_during: int = 0
    failed_during: int = 0
    error_rate_during: float | None = None
    p99_during_ms: float | None = None
    error_budget_consumed: float | None = None
    leader_changes: int = 0
    detected_at: float | None = None
    failover_at: float | None = None
    recovered_at: float | None = None
    during: tuple[float, float] | None = None
    baseline_shares: dict[str, float] = field(default_factory=dict)


def _served_by_target(b: Bin, targets: FaultTargets) -> bool:
    return any(b.nodes[n] for n in targets.nodes) or any(b.zones[z] for z in targets.zones)


def _healthy(b: Bin, threshold: float) -> bool:
    rate = b.success_rate
    return rate is not None and rate >= threshold - 1e-12


def first_sustained(
    bins: Sequence[Bin], start: float, sustain: int, ok: Callable[[Sequence[Bin]], bool]
) -> Bin | None:
    """First non-empty bin at/after ``start`` that begins ``sustain`` non-empty ``ok`` bins.

    ``ok(run)`` gets the candidate run (a list of bins) and says whether it holds.
    """
    candidates = [b for b in bins if b.start >= start - 1e-9 and b.total > 0]
    for i in range(len(candidates) - sustain + 1):
        run = candidates[i : i + sustain]
        if ok(run):
            return run[0]
    return None


def detection_time(
    events: Sequence[HealthEvent], fault_at: float, targets: FaultTargets
) -> float | None:
    ordered = sorted(events, key=lambda e: e.t)
    if targets.has_traffic_targets:
        for event in ordered:
            if event.t < fault_at:
                continue
            if event.kind == NODE_DOWN and event.subject in targets.nodes:
                return event.t
            if event.kind in DETECTING_ZONE_EVENTS and event.subject in targets.zones:
                return event.t
        return None
    if targets.etcd_leader:
        before = leader_at(ordered, fault_at)
        for event in ordered:
            is_leader = event.kind == ETCD_LEADER and bool(event.subject)
            if event.t >= fault_at and is_leader and event.subject != before:
                return event.t
    return None


def leader_at(events: Sequence[HealthEvent], t: float) -> str:
    """The last known etcd leader at ``t`` ("" if none seen)."""
    leader = ""
    for event in events:
        if event.t > t:
            break
        if event.kind == ETCD_LEADER and event.subject:
            leader = event.subject
    return leader


def leader_changes(events: Sequence[HealthEvent], start: float, end: float) -> int:
    """How many times the (non-empty) etcd leader changed within ``[start, end]``."""
    ordered = sorted((e for e in events if e.kind == ETCD_LEADER), key=lambda e: e.t)
    current = leader_at(ordered, start)
    changes = 0
    for event in ordered:
        if not start <= event.t <= end or not event.subject:
            continue
        if current and event.subject != current:
            changes += 1
        current = event.subject
    return changes


def _shares_close(run: Sequence[Bin], baseline: dict[str, float], tolerance: float) -> bool:
    if not baseline:
        return True
    now = zone_shares(run)
    zones = set(baseline) | set(now)
    return all(abs(now.get(z, 0.0) - baseline.get(z, 0.0)) <= tolerance + 1e-12 for z in zones)


def analyze(
    records: Sequence[RequestRecord],
    events: Sequence[HealthEvent],
    marks: Marks,
    targets: FaultTargets,
    settings: AnalysisSettings,
) -> tuple[DrillNumbers, list[Bin]]:
    """The report's numbers and the timeline bins (``[load_start, load_end)``)."""
    s = settings
    horizon = max(marks.load_end or marks.observe_end, marks.observe_end)
    bins = make_bins(records, marks.load_start, horizon, s.bin_s)
    out = DrillNumbers(
        requests_total=len(records),
        requests_failed=sum(1 for r in records if r.failed),
    )
    window_start = marks.fault_at if marks.fault_at is not None else marks.method_start
    if window_start is not None:
        during = list(in_window(records, window_start, marks.observe_end))
        out.during = (window_start, marks.observe_end)
        out.requests_during = len(during)
        out.failed_during = sum(1 for r in during if r.failed)
        out.error_rate_during = out.failed_during / len(during) if during else None
        out.p99_during_ms = percentile([r.latency_ms for r in during], 99.0)
    method_start = marks.method_start if marks.method_start is not None else marks.load_start
    out.leader_changes = leader_changes(events, method_start, marks.observe_end)
    drill = list(in_window(records, method_start, marks.observe_end))
    if drill and marks.observe_end > method_start:
        counts = EventCounts(float(sum(1 for r in drill if r.failed)), float(len(drill)))
        out.error_budget_consumed = budget_consumed_between(
            counts, counts, s.objective, s.slo_window_s, marks.observe_end - method_start
        )
    fault = marks.fault_at
    if fault is None:
        return out, bins
    out.baseline_shares = zone_shares([b for b in bins if fault - s.baseline_s <= b.start < fault])
    issued = min(fault, marks.fault_issued_at or fault)
    out.detected_at = detection_time(events, issued, targets)
    if out.detected_at is not None:
        out.time_to_detect_s = max(0.0, out.detected_at - fault)
    if targets.has_traffic_targets:
        failover = first_sustained(
            bins,
            fault,
            s.sustain_bins,
            lambda run: all(
                _healthy(b, s.success_threshold) and not _served_by_target(b, targets) for b in run
            ),
        )
        if failover is not None:
            out.failover_at = failover.start
            out.time_to_failover_s = failover.start - fault
    recovery_from = marks.recovery_at if marks.recovery_at is not None else fault
    baseline = out.baseline_shares
    recovered = first_sustained(
        bins,
        recovery_from,
        s.sustain_bins,
        lambda run: (
            all(_healthy(b, s.success_threshold) for b in run)
            and _shares_close(run, baseline, s.share_tolerance)
        ),
    )
    if recovered is not None:
        out.recovered_at = recovered.start
        out.time_to_recover_s = recovered.start - recovery_from
    return out, bins
