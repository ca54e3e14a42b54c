"""Composition executor with a fake send: ordering, partial answers, failures, deadline."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from zonegate.config.aggregate import Aggregate
from zonegate.node.compose.executor import UpstreamCall, execute
from zonegate.node.compose.plan import CompositionPlan, plan_aggregate
from zonegate.node.compose.template import Inputs
from zonegate.node.http import Headers

Reply = tuple[int, Headers, bytes]
JSON: Headers = [(b"content-type", b"application/json")]


class FakeUpstreams:
    """Answers by call name: a delay and a reply (or an exception)."""

    def __init__(self, routes: dict[str, tuple[float, Reply | Exception]]) -> None:
        self.routes = routes
        self.sent: list[UpstreamCall] = []
        self.started: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self.cancelled: list[str] = []

    async def send(self, call: UpstreamCall) -> Reply:
        self.sent.append(call)
        self.started[call.name] = time.monotonic()
        delay, reply = self.routes[call.name]
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self.cancelled.append(call.name)
            raise
        self.finished[call.name] = time.monotonic()
        if isinstance(reply, Exception):
            raise reply
        return reply


def ok(body: Any) -> Reply:
    return 200, JSON, json.dumps(body).encode()


def plan(*calls: dict[str, Any], merge: str = "keys") -> CompositionPlan:
    agg = Aggregate.model_validate({"calls": list(calls), "merge": merge})
    return plan_aggregate(agg, r"^/u/(?P<id>[^/]+)$")


async def run(
    p: CompositionPlan,
    fake: FakeUpstreams,
    timeout: float = 5.0,
    query: dict[str, str] | None = None,
) -> Any:
    return await execute(
        p, Inputs({"id": "42"}, query or {}), [(b"authorization", b"Bearer t")], fake.send, timeout
    )


async def test_parallel_calls_merge_under_keys() -> None:
    fake = FakeUpstreams({n: (0.1, ok({"n": n})) for n in ("a", "b", "c")})
    p = plan(*({"name": n, "cluster": n, "path": f"/{n}/{{path.id}}"} for n in ("a", "b", "c")))
    started = time.monotonic()
    result = await run(p, fake)
    assert time.monotonic() - started < 0.25  # in parallel, not 0.3 s
    assert result.status == 200 and result.partial == ()
    assert json.loads(result.body) == {"a": {"n": "a"}, "b": {"n": "b"}, "c": {"n": "c"}}
    assert sorted(c.target for c in fake.sent) == ["/a/42", "/b/42", "/c/42"]
    assert all(c.headers == [(b"authorization", b"Bearer t")] for c in fake.sent)


async def test_top_level_merge_and_custom_keys() -> None:
    fake = FakeUpstreams(
        {"a": (0, ok({"x": 1, "y": 1})), "b": (0, ok({"y": 2})), "c": (0, ok([1]))}
    )
    p = plan(
        {"name": "a", "cluster": "a", "path": "/a"},
        {"name": "b", "cluster": "b", "path": "/b"},
        merge="top_level",
    )
    assert json.loads((await run(p, fake)).body) == {"x": 1, "y": 2}
    keyed = plan({"name": "c", "cluster": "c", "path": "/c", "key": "items"})
    assert json.loads((await run(keyed, fake)).body) == {"items": [1]}


async def test_dependent_call_gets_field_of_earlier_answer() -> None:
    fake = FakeUpstreams(
        {"user": (0.05, ok({"org": {"id": "o/7"}})), "org": (0, ok({"name": "acme"}))}
    )
    p = plan(
        {"name": "org", "cluster": "orgs", "path": "/orgs/{user.org.id}"},
        {"name": "user", "cluster": "users", "path": "/users/{path.id}", "include": False},
    )
    result = await run(p, fake)
    assert result.status == 200
    assert json.loads(result.body) == {"org": {"name": "acme"}}  # user not included
    assert [c.target for c in fake.sent] == ["/users/42", "/orgs/o%2F7"]
    assert fake.started["org"] >= fake.finished["user"]


async def test_slow_optional_call_left_out_and_reported() -> None:
    fake = FakeUpstreams({"main": (0.01, ok({"m": 1})), "ads": (2.0, ok({"ad": 1}))})
    p = plan(
        {"name": "main", "cluster": "m", "path": "/m"},
        {"name": "ads", "cluster": "a", "path": "/ads", "required": False, "timeout_s": 0.1},
    )
    started = time.monotonic()
    result = await run(p, fake)
    assert time.monotonic() - started < 0.5
    assert result.status == 200 and result.partial == ("ads",)
    assert json.loads(result.body) == {"main": {"m": 1}}


async def test_failing_required_call_fails_fast_with_its_name() -> None:
    fake = FakeUpstreams(
        {"user": (0.01, (500, JSON, b'{"e":1}')), "slow": (5.0, ok({})), "dep": (0, ok({}))}
    )
    p = plan(
        {"name": "user", "cluster": "u", "path": "/u"},
        {"name": "slow", "cluster": "s", "path": "/s"},
        {"name": "dep", "cluster": "d", "path": "/d/{user.id}"},
    )
    started = time.monotonic()
    result = await run(p, fake)
    assert time.monotonic() - started < 0.5  # did not wait for the slow one
    assert result.status == 502 and result.code == "composition_call_failed"
    assert result.failed_call == "user"
    assert "'user'" in result.message and "500" in result.message
    assert fake.cancelled == ["slow"]
    assert "dep" not in [c.name for c in fake.sent]


async def test_non_json_answer_is_an_error_not_a_crash() -> None:
    html: Reply = (200, [(b"content-type", b"text/html")], b"<html>oops</html>")
    fake = FakeUpstreams({"a": (0, html), "b": (0, ok({})), "e": (0, (200, JSON, b""))})
    p = plan(
        {"name": "a", "cluster": "a", "path": "/a"}, {"name": "b", "cluster": "b", "path": "/b"}
    )
    result = await run(p, fake)
    assert result.status == 502 and result.failed_call == "a" and "non-JSON" in result.message
    optional = plan(
        {"name": "b", "cluster": "b", "path": "/b"},
        {"name": "a", "cluster": "a", "path": "/a", "required": False},
        {"name": "e", "cluster": "e", "path": "/e", "required": False},
    )
    result = await run(optional, fake)
    assert result.status == 200 and result.partial == ("a", "e")


async def test_top_level_merge_needs_objects() -> None:
    fake = FakeUpstreams({"a": (0, ok([1, 2]))})
    result = await run(plan({"name": "a", "cluster": "a", "path": "/a"}, merge="top_level"), fake)
    assert result.status == 502 and "not an object" in result.message


async def test_route_deadline_bounds_everything() -> None:
    fake = FakeUpstreams({"a": (0.05, ok({"id": 1})), "b": (3.0, ok({}))})
    p = plan(
        {"name": "a", "cluster": "a", "path": "/a"},
        {"name": "b", "cluster": "b", "path": "/b/{a.id}", "timeout_s": 10},
    )
    started = time.monotonic()
    result = await run(p, fake, timeout=0.3)
    elapsed = time.monotonic() - started
    assert 0.25 < elapsed < 0.6
    assert result.status == 504 and result.code == "upstream_timeout" and result.failed_call == "b"
    (b_call,) = [c for c in fake.sent if c.name == "b"]
    assert b_call.timeout_s < 0.3  # told the engine what is left, not its own 10 s


async def test_optional_chain_skipped_when_its_dependency_fails() -> None:
    fake = FakeUpstreams(
        {"m": (0, ok({})), "o1": (0, ConnectionResetError("reset")), "o2": (0, ok({}))}
    )
    p = plan(
        {"name": "m", "cluster": "m", "path": "/m"},
        {"name": "o1", "cluster": "o", "path": "/o1", "required": False},
        {"name": "o2", "cluster": "o", "path": "/o2/{o1.id}", "required": False},
    )
    result = await run(p, fake)
    assert result.status == 200 and result.partial == ("o1", "o2")
    assert "o2" not in [c.name for c in fake.sent]


async def test_missing_client_input_is_400_before_any_call() -> None:
    fake = FakeUpstreams({"a": (0, ok({}))})
    p = plan({"name": "a", "cluster": "a", "path": "/a?limit={query.limit}"})
    result = await run(p, fake)
    assert result.status == 400 and "limit" in result.message and fake.sent == []
    result = await run(p, fake, query={"limit": "5"})
    assert result.status == 200 and fake.sent[0].target == "/a?limit=5"


async def test_field_missing_in_answer_fails_dependent() -> None:
    fake = FakeUpstreams({"u": (0, ok({"no_id": 1})), "o": (0, ok({}))})
    p = plan(
        {"name": "u", "cluster": "u", "path": "/u"},
        {"name": "o", "cluster": "o", "path": "/o/{u.id}"},
    )
    result = await run(p, fake)
    assert (
        result.status == 502 and result.failed_call == "o" and "u.id is missing" in result.message
    )
