"""Alert notifications: webhooks in Alertmanager's payload format (version 4), and
alerts posted to Alertmanager's API v2 (``POST /api/v2/alerts``).

Only transitions to ``firing`` and ``resolved`` notify. Firing alerts are
re-posted to Alertmanager every ``resend_s`` with ``endsAt`` a few intervals
ahead (as Prometheus does), so Alertmanager resolves them by itself if the
engine dies. Deliveries run in background tasks with retries; a receiver
that is down never slows evaluation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from zonegate import conventions as cv
from zonegate.slo.alerts import AlertState, Transition
from zonegate.slo.spec import Notifications, SLOSpec

log = logging.getLogger(__name__)
ZERO_TIME = "0001-01-01T00:00:00Z"
RECEIVER = "zonegate-slo"
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's label-set fingerprint: FNV-1a 64 over sorted ``name 0xff value 0xff``."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def alert_labels(spec: SLOSpec, severity: str) -> dict[str, str]:
    return {
        **spec.labels,
        **spec.alerting.labels,
        "alertname": cv.SLO_ALERT_NAME,
        cv.LABEL_SEVERITY: severity,
        cv.LABEL_SLO: spec.name,
        cv.LABEL_SLO_SERVICE: spec.service,
    }


def alert_annotations(spec: SLOSpec, transition: Transition) -> dict[str, str]:
    burn = "n/a" if transition.burn_rate is None else f"{transition.burn_rate:.3g}"
    windows = ", ".join(transition.windows) or "none"
    return {
        "summary": f"{spec.service} {spec.name}: error budget burning too fast",
        "description": f"Error budget of SLO {spec.name} ({spec.objective * 100:g}% over "
        f"{spec.window}) burns at {burn}x (alert windows: {windows}).",
        "burn_rate": burn,
        **spec.alerting.annotations,
    }


@dataclass(frozen=True)
class Alert:
    """One alert as Alertmanager sees it."""

    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: float
    ends_at: float | None
    generator_url: str

    @property
    def status(self) -> str:
        return "resolved" if self.ends_at is not None else "firing"

    def api_json(self, ends_at: float | None = None) -> dict[str, Any]:
        end = self.ends_at if self.ends_at is not None else ends_at
        body: dict[str, Any] = {
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": rfc3339(self.starts_at),
            "generatorURL": self.generator_url,
        }
        if end is not None:
            body["endsAt"] = rfc3339(end)
        return body

    def webhook_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": rfc3339(self.starts_at),
            "endsAt": ZERO_TIME if self.ends_at is None else rfc3339(self.ends_at),
            "generatorURL": self.generator_url,
            "fingerprint": fingerprint(self.labels),
        }


def to_alert(spec: SLOSpec, transition: Transition, external_url: str) -> Alert:
    started = transition.started_at if transition.started_at is not None else transition.at
    ended = transition.at if transition.state == AlertState.RESOLVED else None
    return Alert(
        labels=alert_labels(spec, transition.severity),
        annotations=alert_annotations(spec, transition),
        starts_at=started,
        ends_at=ended,
        generator_url=f"{external_url.rstrip('/')}/slo/{spec.name}" if external_url else "",
    )


def webhook_payload(alert: Alert, external_url: str) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) for a group of this one alert."""
    group = {k: alert.labels[k] for k in ("alertname", cv.LABEL_SLO, cv.LABEL_SEVERITY)}
    key = ", ".join(f'{k}="{v}"' for k, v in group.items())
    return {
        "version": "4",
        "groupKey": f"{{}}:{{{key}}}",
        "truncatedAlerts": 0,
        "status": alert.status,
        "receiver": RECEIVER,
        "groupLabels": group,
        "commonLabels": alert.labels,
        "commonAnnotations": alert.annotations,
        "externalURL": external_url,
        "alerts": [alert.webhook_json()],
    }


@dataclass
class Notifier:
    config: Notifications
    clock: Callable[[], float]
    resend_s: float = 60.0
    attempts: int = 3
    firing: dict[str, Alert] = field(default_factory=dict)
    delivered: int = 0
    failed: int = 0
    last_error: str | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _session: aiohttp.ClientSession | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.config.webhooks or self.config.alertmanager_url)

    def notify(self, specs: dict[str, SLOSpec], transitions: Sequence[Transition]) -> None:
        """Send firing/resolved transitions in the background."""
        for transition in transitions:
            if transition.state not in (AlertState.FIRING, AlertState.RESOLVED):
                continue
            spec = specs[transition.slo]
            alert = to_alert(spec, transition, self.config.external_url)
            key = fingerprint(alert.labels)
            if alert.status == "firing":
                self.firing[key] = alert
            else:
                self.firing.pop(key, None)
            if not self.enabled:
                continue
            for hook in self.config.webhooks:
                payload = webhook_payload(alert, self.config.external_url)
                self._spawn(self._post(hook.url, payload, hook.timeout_s), f"webhook:{hook.url}")
            if self.config.alertmanager_url:
                self._spawn(self._to_alertmanager([alert]), "alertmanager")

    def adopt(self, specs: dict[str, SLOSpec], transitions: Sequence[Transition]) -> None:
        """Take over alerts that were firing before a restart (without notifying again)."""
        for transition in transitions:
            if transition.state == AlertState.FIRING:
                alert = to_alert(specs[transition.slo], transition, self.config.external_url)
                self.firing[fingerprint(alert.labels)] = alert

    def resend(self) -> None:
        """Re-post every firing alert to Alertmanager (call every ``resend_s``)."""
        if self.config.alertmanager_url and self.firing:
            self._spawn(self._to_alertmanager(list(self.firing.values())), "alertmanager")

    async def _to_alertmanager(self, alerts: list[Alert]) -> None:
        assert self.config.alertmanager_url
        ends = self.clock() + 4 * self.resend_s
        body = [a.api_json(ends_at=ends) for a in alerts]
        url = f"{self.config.alertmanager_url.rstrip('/')}/api/v2/alerts"
        await self._post(url, body, 5.0)

    async def _post(self, url: str, body: Any, timeout_s: float) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        for attempt in range(1, self.attempts + 1):
            try:
                async with self._session.post(url, json=body, timeout=timeout) as resp:
                    if resp.status < 300:
                        self.delivered += 1
                        return
                    error = f"HTTP {resp.status}: {(await resp.text())[:200]}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = repr(exc)
            log.warning(
                "slo_notification_failed", extra={"url": url, "attempt": attempt, "error": error}
            )
            self.last_error = f"{url}: {error}"
            if attempt < self.attempts:
                await asyncio.sleep(0.5 * 2 ** (attempt - 1))
        self.failed += 1

    def _spawn(self, coro: Any, name: str) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for deliveries in flight (then cancel what is left)."""
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def close(self) -> None:
        await self.drain()
        if self._session is not None:
            await self._session.close()
            self._session = None
