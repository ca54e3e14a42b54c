"""Host identity, parsing and availability."""

from __future__ import annotations

import pytest

from zonegate.config.upstream import Endpoint
from zonegate.node.upstream.host import Host


def test_from_endpoint_copies_identity_and_starts_healthy() -> None:
    host = Host.from_endpoint(Endpoint(address="10.0.0.1:8080", zone="eu-1", weight=3))
    assert (host.address, host.host, host.port, host.zone, host.weight) == (
        "10.0.0.1:8080",
        "10.0.0.1",
        8080,
        "eu-1",
        3,
    )
    assert host.health_ok and host.ejected_until == 0.0 and host.ejection_count == 0
    assert host.active_requests == host.consecutive_5xx == host.consecutive_local_failures == 0


def test_from_endpoint_ipv6() -> None:
    host = Host.from_endpoint(Endpoint(address="[::1]:9000"))
    assert (host.host, host.port) == ("::1", 9000)


def test_parse_rejects_bad_address() -> None:
    assert Host.parse("b:1", zone="z", weight=2).weight == 2
    for bad in ("nohost", ":80", "h:0", "h:x", "h:70000"):
        with pytest.raises(ValueError, match="host:port"):
            Host.parse(bad)


def test_identity_equality_and_hash() -> None:
    a, b = Host.parse("h:1"), Host.parse("h:1")
    assert a != b
    assert len({a, b, a}) == 2
    assert {a: 1}[a] == 1


def test_slots_prevent_typos() -> None:
    host = Host.parse("h:1")
    with pytest.raises(AttributeError):
        host.healthy = False  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("health_ok", "ejected_until", "now", "expected"),
    [
        (True, 0.0, 5.0, True),
        (False, 0.0, 5.0, False),
        (True, 10.0, 5.0, False),
        (True, 10.0, 10.0, True),
        (False, 10.0, 11.0, False),
    ],
)
def test_available(health_ok: bool, ejected_until: float, now: float, expected: bool) -> None:
    host = Host.parse("h:1")
    host.health_ok = health_ok
    host.ejected_until = ejected_until
    assert host.available(now) is expected
    assert host.ejected(now) is (now < ejected_until)
