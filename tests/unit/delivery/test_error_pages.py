"""Custom error bodies: lookup order, variables, escaping, content negotiation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from zonegate.config.delivery import ErrorPages
from zonegate.config.loader import parse_config
from zonegate.node.delivery.error_pages import (
    HTML_TYPE,
    JSON_TYPE,
    ErrorPageSet,
    build_error_pages,
    prefers_html,
    render_error,
)
from zonegate.node.delivery.errors import DeliveryBuildError

BROWSER = b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (None, False),
        (b"*/*", False),
        (b"application/json", False),
        (BROWSER, True),
        (b"text/html", True),
        (b"text/*;q=0.5, application/json;q=0.4", True),
        (b"text/html;q=0.2, application/json", False),
        (b"text/html;q=oops", False),
        (b"application/json, text/html", False),
    ],
)
def test_negotiation(accept: bytes | None, html: bool) -> None:
    assert prefers_html(accept) is html


def pages(data: dict[str, Any], parent: ErrorPageSet | None = None) -> ErrorPageSet:
    return ErrorPageSet(ErrorPages.model_validate(data), "error_pages", parent)


def test_builtin_body_without_pages() -> None:
    body, ctype = render_error(None, 503, "circuit_open", "open", "rid-1")
    assert ctype == JSON_TYPE
    assert json.loads(body) == {
        "error": {"code": "circuit_open", "message": "open", "request_id": "rid-1"}
    }


def test_json_template_variables_and_numbers() -> None:
    top = pages(
        {
            "default": {
                "json_template": {
                    "error": {"code": "${code}", "status": "${status}", "id": "${request_id}"},
                    "retry_in": "${retry_after}",
                    "text": "${reason}: ${message} on ${route}",
                    "links": ["https://status.example.com/${code}"],
                }
            }
        }
    )
    body, ctype = render_error(
        top, 429, "rate_limited", 'too "many"', "r1", route="orders", retry_after="7"
    )
    assert ctype == JSON_TYPE
    assert json.loads(body) == {
        "error": {"code": "rate_limited", "status": 429, "id": "r1"},
        "retry_in": 7,
        "text": 'Too Many Requests: too "many" on orders',
        "links": ["https://status.example.com/rate_limited"],
    }


def test_most_specific_template_wins_and_json_html_resolve_separately() -> None:
    top = pages(
        {
            "default": {"json_template": {"top": "default"}, "html_template": "<p>${code}</p>"},
            "by_status": {503: {"json_template": {"top": "503"}}},
        }
    )
    route = pages({"by_code": {"circuit_open": {"json_template": {"route": "circuit"}}}}, top)
    assert json.loads(render_error(route, 503, "circuit_open", "", "")[0]) == {"route": "circuit"}
    assert json.loads(render_error(route, 503, "upstream_unavailable", "", "")[0]) == {"top": "503"}
    assert json.loads(render_error(route, 404, "route_not_found", "", "")[0]) == {"top": "default"}
    body, ctype = render_error(route, 503, "circuit_open", "", "", accept=BROWSER)
    assert (body, ctype) == (b"<p>circuit_open</p>", HTML_TYPE)


def test_html_is_escaped_and_can_be_switched_off() -> None:
    top = pages({"default": {"html_template": "<h1>${status}</h1><p>${message}</p>"}})
    body, ctype = render_error(top, 404, "route_not_found", "<script>", "", accept=BROWSER)
    assert ctype == HTML_TYPE
    assert body == b"<h1>404</h1><p>&lt;script&gt;</p>"
    # a client that prefers JSON gets the built-in JSON (no JSON template given)
    body, ctype = render_error(top, 404, "route_not_found", "x", "r", accept=b"application/json")
    assert ctype == JSON_TYPE and json.loads(body)["error"]["code"] == "route_not_found"
    off = pages({"default": {"html_template": "<p/>"}, "html_for_browsers": False})
    assert render_error(off, 404, "route_not_found", "", "", accept=BROWSER)[1] == JSON_TYPE


def test_upstream_replacement_setting() -> None:
    assert not pages({"default": {"json_template": {}}}).replaces(503)
    replace = pages({"upstream_errors": "replace", "replace_statuses": [500, 503]})
    assert replace.replaces(503) and replace.replaces(500) and not replace.replaces(502)


def config(error_pages: dict[str, Any], route_pages: dict[str, Any] | None = None) -> Any:
    route: dict[str, Any] = {"name": "r", "upstream": "c"}
    if route_pages is not None:
        route["error_pages"] = route_pages
    return parse_config(
        {
            "version": 1,
            "clusters": [{"name": "c", "endpoints": [{"address": "127.0.0.1:1"}]}],
            "routes": [route],
            "error_pages": error_pages,
        }
    )


def test_html_files_are_read_when_the_snapshot_is_built(tmp_path: Path) -> None:
    page = tmp_path / "503.html"
    page.write_text("<h1>${status} ${code}</h1><small>${request_id}</small>", encoding="utf-8")
    built = build_error_pages(config({"by_status": {503: {"html_file": str(page)}}}, {}))
    assert set(built) == {"", "r"}
    body, _ = render_error(built["r"], 503, "circuit_open", "", "abc", accept=BROWSER)
    assert body == b"<h1>503 circuit_open</h1><small>abc</small>"


def test_unreadable_or_bad_page_files_refuse_the_config(tmp_path: Path) -> None:
    with pytest.raises(DeliveryBuildError, match=r"error_pages.default: cannot read error page"):
        build_error_pages(config({"default": {"html_file": str(tmp_path / "missing.html")}}))
    bad = tmp_path / "bad.html"
    bad.write_text("<p>${nope}</p>", encoding="utf-8")
    with pytest.raises(DeliveryBuildError, match=r"unknown variable \$\{nope\}"):
        build_error_pages(config({"default": {"html_file": str(bad)}}))
