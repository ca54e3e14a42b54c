"""The demo backends' fault knob: validation of POST /_fault bodies."""

from __future__ import annotations

import pytest

from zonegate.cluster.demo.fault import Fault


def test_parse_defaults_and_values() -> None:
    assert Fault.parse({}) == Fault()
    fault = Fault.parse({"error_rate": 0.25, "latency_ms": 100, "hang": False})
    assert fault.error_rate == 0.25 and fault.latency_ms == 100.0 and fault.active
    assert not Fault().active


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "JSON object"),
        ({"error_rate": 2}, "error_rate"),
        ({"error_rate": True}, "error_rate"),
        ({"error_status": 200}, "error_status"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"hang": "yes"}, "hang"),
        ({"eror_rate": 0.5}, "unknown field"),
    ],
)
def test_bad_bodies_name_the_field(body: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Fault.parse(body)
