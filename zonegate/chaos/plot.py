"""The PNG timeline of a drill: success rate, p99 and traffic per zone in fixed bins,
with the fault, detection, failover and recovery marked.

Uses matplotlib's Agg canvas directly (no pyplot, no display, no global state).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zonegate.chaos.timeline import Bin

ZONE_COLOURS = ("#4C72B0", "#55A868", "#8172B2", "#CCB974", "#64B5CD", "#8C8C8C", "#DA8BC3")
MARK_STYLES = {
    "fault": ("#C44E52", "-"),
    "detected": ("#DD8452", "--"),
    "failover": ("#2CA02C", "--"),
    "recovery": ("#1F77B4", "-"),
    "recovered": ("#9467BD", "--"),
    "guard": ("#000000", ":"),
}


@dataclass(frozen=True)
class Marker:
    t: float
    kind: str  # a MARK_STYLES key, or "step"
    label: str


def plot_timeline(
    bins: Sequence[Bin],
    markers: Sequence[Marker],
    path: Path,
    *,
    origin: float,
    title: str,
    success_threshold: float = 0.99,
) -> Path:
    """Write the timeline PNG; times are seconds from ``origin`` (the method start)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 8.5), dpi=100)
    FigureCanvasAgg(fig)
    ax_ok, ax_p99, ax_zone = fig.subplots(3, 1, sharex=True, height_ratios=[1, 1, 1.3])
    width = bins[0].width if bins else 0.1
    xs = [b.start - origin + width / 2 for b in bins]

    rates = [b.success_rate * 100 if b.success_rate is not None else float("nan") for b in bins]
    ax_ok.plot(xs, rates, color="#2A9D8F", linewidth=1.2, drawstyle="steps-mid")
    ax_ok.axhline(success_threshold * 100, color="#999999", linewidth=0.8, linestyle=":")
    ax_ok.set_ylabel("success %")
    ax_ok.set_ylim(-2, 102)
    ax_ok.set_title(title, fontsize=11, loc="left")

    p99 = [b.p99_ms if b.p99_ms is not None else float("nan") for b in bins]
    ax_p99.plot(xs, p99, color="#E76F51", linewidth=1.0, drawstyle="steps-mid")
    ax_p99.set_ylabel("p99 ms")
    positive = [v for v in p99 if not math.isnan(v) and v > 0]
    if positive and max(positive) / max(min(positive), 1e-3) > 50:
        ax_p99.set_yscale("log")

    zones = sorted({z for b in bins for z in b.zones})
    bottoms = [0.0] * len(bins)
    drawn = 0
    layers = [(z, [float(b.zones.get(z, 0)) for b in bins]) for z in zones]
    layers.append(("failed", [float(b.failed) for b in bins]))
    for i, (name, counts) in enumerate(layers):
        if name == "failed" and not any(counts):
            break
        tops = [a + c for a, c in zip(bottoms, counts, strict=True)]
        colour = "#D62728" if name == "failed" else ZONE_COLOURS[i % len(ZONE_COLOURS)]
        ax_zone.fill_between(xs, bottoms, tops, step="mid", color=colour, label=name, linewidth=0)
        bottoms = tops
        drawn += 1
    ax_zone.set_ylabel(f"requests / {width * 1000:.0f} ms")
    ax_zone.set_xlabel("seconds from the method start")
    if drawn:
        ax_zone.legend(loc="upper right", fontsize=8, ncol=min(4, len(layers)))

    seen: set[str] = set()
    for marker in markers:
        x = marker.t - origin
        if marker.kind == "step":
            for ax in (ax_ok, ax_p99, ax_zone):
                ax.axvline(x, color="#BBBBBB", linewidth=0.6, linestyle="-")
            ax_ok.annotate(
                marker.label,
                (x, 101),
                fontsize=7,
                rotation=90,
                va="top",
                ha="right",
                color="#666666",
            )
            continue
        colour, style = MARK_STYLES.get(marker.kind, ("#333333", "-"))
        label = None if marker.kind in seen else f"{marker.kind}: {marker.label}"
        seen.add(marker.kind)
        for ax in (ax_ok, ax_p99, ax_zone):
            ax.axvline(x, color=colour, linewidth=1.3, linestyle=style)
        ax_p99.plot([], [], color=colour, linestyle=style, label=label)
    if seen:
        ax_p99.legend(loc="upper right", fontsize=8)
    for ax in (ax_ok, ax_p99, ax_zone):
        ax.grid(True, linewidth=0.3, alpha=0.6)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path
