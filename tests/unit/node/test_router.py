"""Route matching and rewriting: a table, first match wins."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zonegate.config.routes import Route
from zonegate.node.http import Request
from zonegate.node.router import Router


def req(path: str, method: str = "GET", host: str = "api.example.com", **headers: str) -> Request:
    hs = [(b"host", host.encode())] + [
        (k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()
    ]
    return Request(method, path, "", hs)


ROUTES = [
    Route.model_validate(r)
    for r in [
        {"name": "exact", "match": {"path": {"exact": "/health"}}, "upstream": "a"},
        {
            "name": "admin-host",
            "match": {"path": {"prefix": "/"}, "hosts": ["admin.example.com"]},
            "upstream": "a",
        },
        {
            "name": "canary",
            "match": {
                "path": {"prefix": "/orders"},
                "headers": [{"name": "X-Canary", "exact": "1"}],
            },
            "upstream": "b",
        },
        {
            "name": "orders-write",
            "match": {"path": {"prefix": "/orders"}, "methods": ["post", "put"]},
            "upstream": "a",
        },
        {"name": "orders", "match": {"path": {"prefix": "/orders"}}, "upstream": "a"},
        {
            "name": "items",
            "match": {"path": {"regex": r"/items/\d+"}, "hosts": ["*.example.com"]},
            "upstream": "a",
        },
    ]
]


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (req("/health"), "exact"),
        (req("/health/x"), None),
        (req("/anything", host="admin.example.com:8080"), "admin-host"),
        (req("/orders/1", x_canary="1"), "canary"),
        (req("/orders/1", x_canary="0"), "orders"),
        (req("/orders", "POST"), "orders-write"),
        (req("/orders", "DELETE"), "orders"),
        (req("/items/42"), "items"),
        (req("/items/42", host="other.org"), None),
        (req("/items/abc"), None),
    ],
)
def test_first_match_wins(request_: Request, expected: str | None) -> None:
    route = Router(ROUTES).match(request_)
    assert (route.name if route else None) == expected


def test_header_present_and_inverted() -> None:
    routes = [
        Route.model_validate(
            {
                "name": "no-auth",
                "match": {"headers": [{"name": "authorization", "present": True, "invert": True}]},
                "upstream": "a",
            }
        ),
        Route.model_validate({"name": "rest", "upstream": "a"}),
    ]
    router = Router(routes)
    assert router.match(req("/x")).name == "no-auth"  # type: ignore[union-attr]
    assert router.match(req("/x", authorization="Bearer t")).name == "rest"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("rewrite", "path", "expected"),
    [
        ({"strip_prefix": "/api"}, "/api/orders/1", "/orders/1"),
        ({"strip_prefix": "/api"}, "/api", "/"),
        ({"prefix": "/v2"}, "/api/orders", "/v2/orders"),
        (
            {"regex": r"^/api/(\w+)/(\d+)$", "substitution": r"/\1?id=\2"},
            "/api/item/7",
            "/item?id=7",
        ),
    ],
)
def test_rewrites(rewrite: dict[str, str], path: str, expected: str) -> None:
    route = Route.model_validate(
        {"name": "r", "match": {"path": {"prefix": "/api"}}, "upstream": "a", "rewrite": rewrite}
    )
    assert Router([route]).routes[0].upstream_path(path) == expected


@given(st.from_regex(r"/[a-z0-9/]{0,30}", fullmatch=True))
def test_catch_all_matches_every_path(path: str) -> None:
    route = Route.model_validate({"name": "all", "upstream": "a"})
    assert Router([route]).match(req(path)) is not None
