"""Inline SVG charts for the dashboard: no JavaScript library, no CDN.

Every chart is a pure function of its data; values the page shows are also
written as ``data-*`` attributes so tests (and curious SREs) can read them.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 760, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 52, 16, 14, 28


@dataclass(frozen=True)
class Annotation:
    """A drill or chaos event drawn on the charts (from etcd ``events/``)."""

    at: float
    text: str
    end: float | None = None
    kind: str = "event"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _clock(ts: float, span: float) -> str:
    fmt = "%m-%d %H:%M" if span > 2 * 86400 else "%H:%M" if span > 600 else "%H:%M:%S"
    return time.strftime(fmt, time.gmtime(ts))


class _Frame:
    def __init__(self, t0: float, t1: float, y0: float, y1: float) -> None:
        self.t0, self.t1 = t0, max(t1, t0 + 1e-9)
        self.y0, self.y1 = y0, (y1 if y1 > y0 else y0 + 1.0)

    def x(self, t: float) -> float:
        inner = WIDTH - PAD_LEFT - PAD_RIGHT
        return PAD_LEFT + inner * (min(max(t, self.t0), self.t1) - self.t0) / (self.t1 - self.t0)

    def y(self, v: float) -> float:
        inner = HEIGHT - PAD_TOP - PAD_BOTTOM
        clamped = min(max(v, self.y0), self.y1)
        return PAD_TOP + inner * (1 - (clamped - self.y0) / (self.y1 - self.y0))


def _axes(frame: _Frame, y_ticks: Sequence[tuple[float, str]]) -> list[str]:
    out = [
        f'<line class="axis" x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" '
        f'x2="{WIDTH - PAD_RIGHT}" y2="{HEIGHT - PAD_BOTTOM}"/>'
    ]
    for value, label in y_ticks:
        y = frame.y(value)
        out.append(
            f'<line class="grid" x1="{PAD_LEFT}" y1="{y:.1f}" x2="{WIDTH - PAD_RIGHT}" '
            f'y2="{y:.1f}"/><text class="tick" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{_esc(label)}</text>'
        )
    span = frame.t1 - frame.t0
    for i in range(5):
        t = frame.t0 + span * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        out.append(
            f'<text class="tick" x="{frame.x(t):.1f}" y="{HEIGHT - 8}" '
            f'text-anchor="{anchor}">{_esc(_clock(t, span))}</text>'
        )
    return out


def _annotations(frame: _Frame, annotations: Sequence[Annotation]) -> list[str]:
    out = []
    for a in annotations:
        if not frame.t0 <= a.at <= frame.t1:
            continue
        x = frame.x(a.at)
        if a.end is not None and a.end > a.at:
            out.append(
                f'<rect class="annotation-span" x="{x:.1f}" y="{PAD_TOP}" '
                f'width="{max(frame.x(a.end) - x, 1):.1f}" '
                f'height="{HEIGHT - PAD_TOP - PAD_BOTTOM}"/>'
            )
        out.append(
            f'<g class="annotation" data-at="{a.at}"><title>{_esc(a.text)}</title>'
            f'<line x1="{x:.1f}" y1="{PAD_TOP}" x2="{x:.1f}" y2="{HEIGHT - PAD_BOTTOM}"/>'
            f'<text x="{x + 3:.1f}" y="{PAD_TOP + 10}">{_esc(a.text[:40])}</text></g>'
        )
    return out


def _svg(chart_id: str, body: list[str], attrs: str = "") -> str:
    return (
        f'<svg id="{_esc(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" preserveAspectRatio="xMidYMid meet"{attrs}>' + "".join(body) + "</svg>"
    )


def burn_down_chart(
    points: Sequence[tuple[float, float]],
    window_start: float,
    window_end: float,
    annotations: Sequence[Annotation] = (),
) -> str:
    """Error budget remaining (fraction) across the SLO window; 0 % is drawn in red."""
    if not points:
        return _svg("burn-down", ['<text class="empty" x="50%" y="50%">not enough data</text>'])
    low = min(0.0, *(v for _, v in points))
    frame = _Frame(window_start, window_end, low, 1.0)
    ticks = [(1.0, "100%"), (0.5, "50%"), (0.0, "0%")]
    if low < 0:
        ticks.append((low, f"{low * 100:.0f}%"))
    path = " ".join(f"{frame.x(t):.1f},{frame.y(v):.1f}" for t, v in points)
    final = points[-1][1]
    body = [
        *_axes(frame, ticks),
        f'<line class="zero" x1="{PAD_LEFT}" y1="{frame.y(0):.1f}" x2="{WIDTH - PAD_RIGHT}" '
        f'y2="{frame.y(0):.1f}"/>',
        f'<polyline class="series budget" points="{path}"/>',
        *_annotations(frame, annotations),
        f'<text class="final-value" x="{WIDTH - PAD_RIGHT - 4}" '
        f'y="{min(frame.y(final) + 16, HEIGHT - PAD_BOTTOM - 4):.1f}" '
        f'text-anchor="end">{final * 100:.1f}% left</text>',
    ]
    attrs = f' data-final-remaining="{final:.6f}" data-points="{len(points)}"'
    return _svg("burn-down", body, attrs)


def burn_rate_chart(
    points: Sequence[tuple[float, float | None]],
    thresholds: Sequence[tuple[float, str]],
    annotations: Sequence[Annotation] = (),
) -> str:
    """Burn rate over time on a log scale (0.1x to the peak), alert thresholds dashed."""
    values = [v for _, v in points if v is not None]
    if not points:
        return _svg("burn-rate", ['<text class="empty" x="50%" y="50%">no data</text>'])
    floor = 0.1
    peak = max([10.0, *values, *(t for t, _ in thresholds)]) * 1.5
    frame = _Frame(points[0][0], points[-1][0], math.log10(floor), math.log10(peak))

    def y_of(v: float) -> float:
        return frame.y(math.log10(max(v, floor)))

    ticks = [(math.log10(v), f"{v:g}x") for v in (0.1, 1, 10, 100, 1000, 10000) if v <= peak]
    body = _axes(frame, ticks)
    labelled: list[float] = []
    for value, label in sorted(thresholds, reverse=True):
        y = y_of(value)
        body.append(
            f'<line class="threshold" x1="{PAD_LEFT}" y1="{y:.1f}" x2="{WIDTH - PAD_RIGHT}" '
            f'y2="{y:.1f}"/>'
        )
        if all(abs(y - other) > 11 for other in labelled):
            labelled.append(y)
            body.append(
                f'<text class="threshold-label" x="{WIDTH - PAD_RIGHT - 2}" y="{y - 3:.1f}" '
                f'text-anchor="end">{_esc(label)}</text>'
            )
    segment: list[str] = []
    for t, v in points:
        if v is None:
            if segment:
                body.append(f'<polyline class="series burn" points="{" ".join(segment)}"/>')
            segment = []
            continue
        segment.append(f"{frame.x(t):.1f},{y_of(v):.1f}")
    if segment:
        body.append(f'<polyline class="series burn" points="{" ".join(segment)}"/>')
    body += _annotations(frame, annotations)
    last = next((v for _, v in reversed(points) if v is not None), None)
    attrs = f' data-last-burn="{"" if last is None else f"{last:.6f}"}"'
    return _svg("burn-rate", body, attrs)


def bar_chart(chart_id: str, bars: Sequence[tuple[str, float | None]], limit: float) -> str:
    """Horizontal bars (burn rate per window) against a reference ``limit``."""
    row = 24
    height = row * max(len(bars), 1) + 8
    top = max([limit, *(v for _, v in bars if v is not None)]) or 1.0
    inner = WIDTH - 140 - PAD_RIGHT
    body = []
    for i, (label, value) in enumerate(bars):
        y = 4 + i * row
        width = 0.0 if value is None else inner * min(value, top) / top
        shown = "n/a" if value is None else f"{value:.3g}x"
        data = "" if value is None else value
        body.append(
            f'<g class="bar" data-label="{_esc(label)}" data-value="{data}">'
            f'<text x="60" y="{y + 15}" text-anchor="end">{_esc(label)}</text>'
            f'<rect x="70" y="{y + 3}" width="{width:.1f}" height="{row - 8}"/>'
            f'<text x="{70 + width + 6:.1f}" y="{y + 15}">{_esc(shown)}</text></g>'
        )
    x_limit = 70 + inner * limit / top
    body.append(
        f'<line class="threshold" x1="{x_limit:.1f}" y1="0" x2="{x_limit:.1f}" y2="{height}"/>'
    )
    return (
        f'<svg id="{_esc(chart_id)}" class="chart bars" viewBox="0 0 {WIDTH} {height}">'
        + "".join(body)
        + "</svg>"
    )
