"""Aggregate routes through the real engine: parallel calls to real backends,
a slow optional call, a failing required call, non-JSON answers, the deadline."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from zonegate.config.aggregate import Aggregate

REGEX = r"^/users/(?P<id>[^/]+)/summary$"


def config(users: str, orgs: str, ads: str, timeout_s: float = 5.0) -> dict[str, Any]:
    return {
        "clusters": [
            {"name": "users", "endpoints": [{"address": users, "zone": "zone-a"}]},
            {"name": "orgs", "endpoints": [{"address": orgs, "zone": "zone-a"}]},
            {"name": "ads", "endpoints": [{"address": ads, "zone": "zone-a"}]},
        ],
        "routes": [
            {
                "name": "summary",
                "upstream": "users",
                "timeout_s": timeout_s,
                "match": {"path": {"regex": REGEX}},
            }
        ],
    }


def aggregate(*calls: dict[str, Any]) -> dict[str, Aggregate]:
    return {"summary": Aggregate.model_validate({"calls": list(calls)})}


USER = {"name": "user", "cluster": "users", "path": "/echo/users/{path.id}?fields={query.fields}"}
ORG = {"name": "org", "cluster": "orgs", "path": "/echo/orgs/{user.backend}"}
SLOW_ADS = {
    "name": "ads",
    "cluster": "ads",
    "path": "/delay/1000",
    "required": False,
    "timeout_s": 0.2,
}


async def test_fan_out_with_dependency_and_slow_optional_call(
    policy_gateway: Any, backends: Any
) -> None:
    users, orgs, ads = await backends("users-1"), await backends("orgs-1"), await backends("ads-1")
    gw = await policy_gateway(
        config(users.address, orgs.address, ads.address),
        aggregates=aggregate(USER, ORG, SLOW_ADS),
    )
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        async with session.get(
            gw.url("/users/7/summary?fields=name"),
            headers={
                "Authorization": "Bearer abc",
                "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01",
            },
        ) as resp:
            assert resp.status == 200
            body = await resp.json()
            assert resp.headers["X-Zonegate-Partial"] == "ads"
            assert resp.headers["Content-Type"] == "application/json"
            request_id = resp.headers["X-Request-Id"]
    assert time.monotonic() - started < 1.5  # the slow optional call did not hold us up
    assert body["user"]["path"] == "/echo/users/7" and body["user"]["query"] == "fields=name"
    assert body["org"]["path"] == "/echo/orgs/users-1"  # a field of the first answer
    assert set(body) == {"user", "org"}
    for backend in (users, orgs):
        seen = {k.lower(): v for k, v in backend.state.seen_headers[-1].items()}
        assert seen["authorization"] == "Bearer abc"
        assert seen["traceparent"].startswith("00-111")
        assert seen["x-request-id"] == request_id


async def test_failing_required_call_is_502_naming_it(policy_gateway: Any, backends: Any) -> None:
    users, orgs, ads = await backends("u"), await backends("o"), await backends("a")
    broken_org = {"name": "org", "cluster": "orgs", "path": "/status/500"}
    gw = await policy_gateway(
        config(users.address, orgs.address, ads.address),
        aggregates=aggregate({**USER, "path": "/echo/u/{path.id}"}, broken_org),
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(gw.url("/users/7/summary")) as resp:
            assert resp.status == 502
            error = (await resp.json())["error"]
            assert resp.headers["X-Zonegate-Failed-Call"] == "org"
    assert error["code"] == "composition_call_failed"
    assert "'org'" in error["message"] and "500" in error["message"]


async def test_non_json_answer_is_an_error(policy_gateway: Any, backends: Any) -> None:
    users, orgs, ads = await backends("u"), await backends("o"), await backends("a")
    text_call = {"name": "user", "cluster": "users", "path": "/fixed/12"}
    gw = await policy_gateway(
        config(users.address, orgs.address, ads.address), aggregates=aggregate(text_call)
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(gw.url("/users/7/summary")) as resp:
            assert resp.status == 502
            assert "non-JSON" in (await resp.json())["error"]["message"]
        async with session.get(gw.url("/users/7/summary")) as resp:
            assert resp.status == 502  # the node keeps serving


async def test_route_deadline_respected(policy_gateway: Any, backends: Any) -> None:
    users, orgs, ads = await backends("u"), await backends("o"), await backends("a")
    slow_required = {"name": "user", "cluster": "users", "path": "/delay/1000", "timeout_s": 10}
    gw = await policy_gateway(
        config(users.address, orgs.address, ads.address, timeout_s=0.4),
        aggregates=aggregate(slow_required),
    )
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        async with session.get(gw.url("/users/7/summary")) as resp:
            assert resp.status == 504
            error = (await resp.json())["error"]
    elapsed = time.monotonic() - started
    assert 0.35 < elapsed < 1.5
    assert error["code"] == "upstream_timeout" and "'user'" in error["message"]


async def test_missing_query_parameter_is_400(policy_gateway: Any, backends: Any) -> None:
    users, orgs, ads = await backends("u"), await backends("o"), await backends("a")
    gw = await policy_gateway(
        config(users.address, orgs.address, ads.address), aggregates=aggregate(USER)
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(gw.url("/users/7/summary")) as resp:
            assert resp.status == 400
            assert "fields" in (await resp.json())["error"]["message"]
    assert users.state.hits == 0
