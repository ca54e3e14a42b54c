"""Progress events survive the pipe between ``up --detach`` and its supervisor."""

from __future__ import annotations

import pytest

from zonegate.cluster.events import PROCESS, Event


def test_round_trip() -> None:
    event = Event(PROCESS, name="eu-west-1a-1", state="healthy", data={"pid": 42})
    assert Event.from_line(event.to_line()) == event
    assert event.to_line().endswith(b"\n")


@pytest.mark.parametrize("line", [b"[]", b'{"name": "x"}', b"not json"])
def test_garbage_is_rejected(line: bytes) -> None:
    with pytest.raises(ValueError):
        Event.from_line(line)
