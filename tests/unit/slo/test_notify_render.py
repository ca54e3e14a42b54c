"""Notification payloads (Alertmanager webhook format) and dashboard rendering, pure."""

from __future__ import annotations

from zonegate import conventions as cv
from zonegate.slo.alerts import AlertState, Transition
from zonegate.slo.budget import EventCounts
from zonegate.slo.dashboard import overview
from zonegate.slo.loader import parse_slo_text
from zonegate.slo.notify import Notifier, fingerprint, rfc3339, to_alert, webhook_payload
from zonegate.slo.spec import Notifications
from zonegate.slo.status import compute_status, windows_needed

SPEC = parse_slo_text(
    """
version: 1
slos:
  - name: api
    service: gw
    objective: 0.999
    sli: {kind: availability}
    alerting: {labels: {team: edge}, annotations: {runbook: https://runbooks/api}}
"""
).slos[0]
FIRING = Transition("api", "page", AlertState.INACTIVE, AlertState.FIRING, 1000.0, 1000.0, 20.0,
                    ("14.4x 1h/5m",))  # fmt: skip
RESOLVED = Transition("api", "page", AlertState.FIRING, AlertState.RESOLVED, 1600.0, 1000.0, 1.0,
                      ())  # fmt: skip


def test_webhook_payload_is_alertmanager_version_4() -> None:
    alert = to_alert(SPEC, FIRING, "http://dash")
    body = webhook_payload(alert, "http://dash")
    assert body["version"] == "4" and body["status"] == "firing"
    assert body["groupLabels"] == {"alertname": cv.SLO_ALERT_NAME, "slo": "api", "severity": "page"}
    assert (
        body["groupKey"] == f'{{}}:{{alertname="{cv.SLO_ALERT_NAME}", slo="api", severity="page"}}'
    )
    (item,) = body["alerts"]
    assert (
        item["labels"]["team"] == "edge"
        and item["annotations"]["runbook"] == "https://runbooks/api"
    )
    assert item["startsAt"] == "1970-01-01T00:16:40Z"
    assert item["endsAt"] == "0001-01-01T00:00:00Z"
    assert item["fingerprint"] == fingerprint(item["labels"]) and len(item["fingerprint"]) == 16
    resolved = webhook_payload(to_alert(SPEC, RESOLVED, ""), "")
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["endsAt"] == rfc3339(1600.0)
    assert resolved["alerts"][0]["startsAt"] == rfc3339(1000.0)


def test_fingerprint_is_order_independent_and_label_sensitive() -> None:
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert fingerprint({"a": "1"}) != fingerprint({"a": "2"})
    assert fingerprint({}) == "cbf29ce484222325"  # FNV-1a 64 offset basis


def test_notifier_tracks_firing_without_receivers() -> None:
    notifier = Notifier(Notifications(), clock=lambda: 0.0)
    notifier.notify({"api": SPEC}, [FIRING])
    assert len(notifier.firing) == 1
    notifier.notify({"api": SPEC}, [RESOLVED])
    assert notifier.firing == {}
    notifier.adopt({"api": SPEC}, [FIRING])
    assert len(notifier.firing) == 1


def test_overview_escapes_and_marks_health() -> None:
    counts = {w: EventCounts(0, 1000) for w in windows_needed(SPEC)}
    status = compute_status(SPEC, 1000.0, counts, 3600)
    html = overview([status], {"api": SPEC})
    assert "data-slo='api'" in html and "data-health='ok'" in html
    assert "100.000%" in html
    evil = status.__class__(**{**status.__dict__, "name": "<script>"})
    assert "<script>" not in overview([evil], {})
    assert "no SLOs configured" in overview([], {})
