"""What each toxic decides for a chunk or an end of stream, on a fake clock."""

from __future__ import annotations

import random

import pytest

from zonegate.chaos.faultproxy.models import ToxicSpec
from zonegate.chaos.faultproxy.stages import (
    BandwidthStage,
    Close,
    Continue,
    Drop,
    Forward,
    Hold,
    LimitDataStage,
    Reset,
    Stage,
    build_stage,
)

RNG = random.Random(7)
NOW = 100.0


def stage_for(
    toxic_type: str, attributes: dict[str, int] | None = None, toxicity: float = 1.0
) -> Stage:
    return build_stage(ToxicSpec.build(toxic_type, attributes, toxicity=toxicity), RNG)


def test_latency_delays_from_the_read_time_not_from_now() -> None:
    stage = stage_for("latency", {"latency": 200})
    action = stage.on_data(b"abc", read_at=NOW, now=NOW + 0.05)
    assert action == Forward(((b"abc", NOW + 0.2),))
    assert stage.on_eof(NOW) == Continue(NOW)


def test_toxicity_zero_passes_everything() -> None:
    stage = stage_for("timeout", {"timeout": 10}, toxicity=0.0)
    assert not stage.active
    assert stage.on_data(b"x", NOW, NOW) == Forward(((b"x", NOW),))
    assert stage.close_deadline(NOW) is None
    assert not stage.closes_on_removal


def test_toxicity_is_a_probability_per_connection() -> None:
    spec = ToxicSpec.build("latency", {"latency": 1}, toxicity=0.3)
    rng = random.Random(42)
    active = sum(build_stage(spec, rng).active for _ in range(10_000))
    assert 2700 < active < 3300


def test_timeout_drops_data_and_closes_after_its_timeout() -> None:
    stage = stage_for("timeout", {"timeout": 500})
    assert stage.on_data(b"x", NOW, NOW) == Drop()
    assert stage.close_deadline(NOW) == pytest.approx(NOW + 0.5)
    assert stage.closes_on_removal
    assert stage_for("timeout", {"timeout": 0}).close_deadline(NOW) is None


def test_reset_peer_arms_on_data_or_eof() -> None:
    stage = stage_for("reset_peer", {"timeout": 250})
    assert stage.on_data(b"x", NOW, NOW) == Reset(NOW + 0.25)
    assert stage.on_eof(NOW) == Reset(NOW + 0.25)


def test_slow_close_delays_only_the_end_of_stream() -> None:
    stage = stage_for("slow_close", {"delay": 300})
    assert stage.on_data(b"x", NOW, NOW) == Forward(((b"x", NOW),))
    assert stage.on_eof(NOW) == Continue(NOW + 0.3)


def test_slicer_spaces_slices_by_delay() -> None:
    stage = stage_for("slicer", {"average_size": 10, "size_variation": 0, "delay": 1000})
    action = stage.on_data(bytes(range(40)), NOW, NOW)
    assert isinstance(action, Forward)
    assert b"".join(p for p, _ in action.pieces) == bytes(range(40))
    assert [len(p) for p, _ in action.pieces] == [10, 10, 10, 10]
    assert [at for _, at in action.pieces] == pytest.approx([NOW + i * 0.001 for i in range(4)])


def test_bandwidth_paces_and_holds_at_rate_zero() -> None:
    stage = stage_for("bandwidth", {"rate": 1})  # 1000 bytes/s
    action = stage.on_data(b"x" * 250, NOW, NOW)
    assert isinstance(action, Forward)
    assert b"".join(p for p, _ in action.pieces) == b"x" * 250
    assert action.pieces[-1][1] == pytest.approx(NOW + 0.25)
    assert isinstance(stage, BandwidthStage)
    stage.update(ToxicSpec.build("bandwidth", {"rate": 0}), RNG)
    assert stage.on_data(b"y", NOW, NOW) == Hold()


def test_limit_data_passes_exactly_the_limit_then_closes() -> None:
    stage = stage_for("limit_data", {"bytes": 5})
    assert stage.on_data(b"abc", NOW, NOW) == Forward(((b"abc", NOW),))
    assert stage.on_data(b"defg", NOW, NOW) == Forward(((b"de", NOW),), close_after=True)
    assert stage.on_data(b"h", NOW, NOW) == Close()
    assert isinstance(stage, LimitDataStage)
    # an update keeps what was already counted
    stage.update(ToxicSpec.build("limit_data", {"bytes": 7}), RNG)
    assert stage.on_data(b"hijk", NOW, NOW) == Forward(((b"hi", NOW),), close_after=True)
