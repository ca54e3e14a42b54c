"""Synthetic counter series with known answers, for tests, the bench and demos."""

from __future__ import annotations

from collections.abc import Callable, Iterator

ErrorFraction = Callable[[float], float]


def constant(fraction: float) -> ErrorFraction:
    return lambda _t: fraction


def outage(start: float, end: float, fraction: float = 1.0, base: float = 0.0) -> ErrorFraction:
    """``fraction`` of requests fail in ``[start, end)``, ``base`` otherwise."""
    return lambda t: fraction if start <= t < end else base


def counter_samples(
    start: float,
    end: float,
    step: float,
    rate: float,
    errors: ErrorFraction,
) -> Iterator[tuple[float, float, float]]:
    """``(t, total, bad)`` cumulative counters sampled every ``step`` seconds.

    ``rate`` requests per second arrive evenly; the interval ``(t - step, t]``
    gets ``errors(t - step)`` of them as failures.
    """
    total = bad = 0.0
    t = start
    yield t, total, bad
    while t + step <= end + 1e-9:
        per_step = rate * step
        bad += per_step * errors(t)
        total += per_step
        t += step
        yield t, total, bad


def running_totals(
    start: float, end: float, step: float, rate: float, errors: ErrorFraction
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """``(total, bad)`` running totals as store points, for :meth:`SampleStore.import_series`."""
    total: list[tuple[float, float]] = []
    bad: list[tuple[float, float]] = []
    for t, tot, b in counter_samples(start, end, step, rate, errors):
        total.append((t, tot))
        bad.append((t, b))
    return total, bad
