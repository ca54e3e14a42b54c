"""Access log lines are valid JSON whatever the client sends; a stalled writer drops, bounded."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from zonegate.node.context import RequestContext
from zonegate.node.http import Request
from zonegate.node.ops.access_log import AccessLog, AccessLogWriter


class _Collect:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)


def _line(path: str, upstream: str = "10.0.0.1:80") -> dict[str, object]:
    sink = _Collect()
    log = AccessLog(sink, 'node "1"', "zone\\a")
    ctx = RequestContext("rid-1")
    ctx.start_wall = 1700000000.123456
    ctx.route, ctx.cluster, ctx.status, ctx.attempts = "r", "c", 502, 2
    ctx.upstream_host, ctx.upstream_zone = upstream, "z\n"
    ctx.bytes_sent, ctx.upstream_duration, ctx.error_code = 10, 0.0015, "upstream_reset"
    req = Request("GET", path, "", [], client_ip="127.0.0.1")
    log.log(ctx, req, 0.25)
    (line,) = sink.lines
    assert line.endswith("\n") and line.count("\n") == 1
    parsed: dict[str, object] = json.loads(line)
    return parsed


def test_fields() -> None:
    line = _line("/a/b")
    assert line == {
        "time": "2023-11-14T22:13:20.123Z",
        "request_id": "rid-1",
        "trace_id": "",
        "node": 'node "1"',
        "zone": "zone\\a",
        "client_ip": "127.0.0.1",
        "method": "GET",
        "path": "/a/b",
        "route": "r",
        "cluster": "c",
        "upstream_host": "10.0.0.1:80",
        "upstream_zone": "z\n",
        "status": 502,
        "bytes_sent": 10,
        "duration_ms": 250.0,
        "upstream_ms": 1.5,
        "attempts": 2,
        "error": "upstream_reset",
    }


@given(st.text(), st.text())
def test_any_path_and_upstream_stay_valid_json(path: str, upstream: str) -> None:
    line = _line(path, upstream)
    assert line["path"] == path
    assert line["upstream_host"] == upstream


class _Stalled:
    """A file whose writes block until released (a stuck disk or pipe)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.data: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.release.wait(10)
        self.data.append(data)
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


async def test_a_stalled_writer_drops_lines_instead_of_growing(tmp_path: Path) -> None:
    writer = AccessLogWriter(str(tmp_path / "a.log"), max_pending_bytes=1 << 16)
    stalled = _Stalled()
    writer._file.close()
    writer._file = stalled  # type: ignore[assignment]
    line = "x" * 99 + "\n"
    for _ in range(50):
        for _ in range(1000):
            writer.write(line)
        writer.flush()
    assert writer.dropped_lines > 0
    assert writer.pending_bytes <= (1 << 16) + 1000 * len(line)
    stalled.release.set()
    await writer.close()
    assert writer.written_lines + writer.dropped_lines == 50_000
    assert sum(len(d) for d in stalled.data) == writer.written_lines * len(line)


async def test_reopen_after_rotation(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    writer = AccessLogWriter(str(path))
    writer.write("one\n")
    writer.flush()
    while writer.written_lines < 1:
        await __import__("asyncio").sleep(0.01)
    path.rename(tmp_path / "a.log.1")
    writer.reopen()
    writer.write("two\n")
    await writer.close()
    assert (tmp_path / "a.log.1").read_text() == "one\n"
    assert path.read_text() == "two\n"


@given(st.floats(min_value=0, max_value=1e5, allow_nan=False))
def test_millis_are_three_decimals_of_the_duration(seconds: float) -> None:
    from zonegate.node.ops.access_log import _millis

    text = _millis(seconds)
    whole, _, decimals = text.partition(".")
    assert whole.isdigit() and len(decimals) == 3 and decimals.isdigit()
    assert abs(float(text) - seconds * 1000) <= 0.0005 + 1e-9 * seconds * 1000
