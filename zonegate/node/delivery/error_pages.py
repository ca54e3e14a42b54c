"""Bodies of gateway-made errors: custom JSON/HTML templates, content-negotiated.

:func:`render_error` is the one function that renders an error body; the proxy
calls it for every error it answers itself (no route, filters' 401/403/429,
502/503/504, ``circuit_open`` ...) and for upstream errors a route replaces.
Without custom pages it gives the built-in JSON body.

Lookup, most specific first: the route's ``by_code``, ``by_status``,
``default``, then the same of the top-level pages. JSON and HTML are looked up
separately, so a route can override the JSON of one code and still inherit
the global HTML page.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zonegate.config.delivery import ErrorPages, ErrorTemplate, check_page_template
from zonegate.config.model import ClusterConfig
from zonegate.node.delivery.errors import DeliveryBuildError
from zonegate.node.errors import error_body, reason

JSON_TYPE = b"application/json"
HTML_TYPE = b"text/html; charset=utf-8"
_VARIABLE_RE = re.compile(r"\$\{([a-z_]+)\}")
_NUMERIC = frozenset({"status", "retry_after"})


class CompiledTemplate:
    __slots__ = ("html", "json")

    def __init__(self, template: ErrorTemplate, where: str) -> None:
        self.json: dict[str, Any] | None = template.json_template
        self.html: str | None = template.html_template
        if template.html_file is not None:
            self.html = _read_page(template.html_file, where)


def _read_page(path: str, where: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DeliveryBuildError(
            f"{where}: cannot read error page {path}: {exc.strerror or exc}"
        ) from None
    except UnicodeDecodeError:
        raise DeliveryBuildError(f"{where}: error page {path} is not UTF-8 text") from None
    try:
        return check_page_template(text)
    except ValueError as exc:
        raise DeliveryBuildError(f"{where}: error page {path}: {exc}") from None


class ErrorPageSet:
    """One level of pages (a route's or the top level's), falling back to ``parent``."""

    __slots__ = ("by_code", "by_status", "default", "html_for_browsers", "parent", "replaced")

    def __init__(self, pages: ErrorPages, where: str, parent: ErrorPageSet | None = None) -> None:
        self.parent = parent
        self.default = (
            CompiledTemplate(pages.default, f"{where}.default") if pages.default else None
        )
        self.by_status = {
            s: CompiledTemplate(t, f"{where}.by_status[{s}]") for s, t in pages.by_status.items()
        }
        self.by_code = {
            c: CompiledTemplate(t, f"{where}.by_code[{c}]") for c, t in pages.by_code.items()
        }
        self.html_for_browsers = pages.html_for_browsers
        self.replaced = (
            frozenset(pages.replace_statuses) if pages.upstream_errors == "replace" else frozenset()
        )

    def replaces(self, status: int) -> bool:
        """An upstream answer with ``status`` gets the gateway's error body instead."""
        return status in self.replaced

    def _chain(self, status: int, code: str) -> list[CompiledTemplate]:
        out: list[CompiledTemplate] = []
        level: ErrorPageSet | None = self
        while level is not None:
            for found in (level.by_code.get(code), level.by_status.get(status), level.default):
                if found is not None:
                    out.append(found)
            level = level.parent
        return out

    def templates(self, status: int, code: str) -> tuple[dict[str, Any] | None, str | None]:
        chain = self._chain(status, code)
        json_t = next((t.json for t in chain if t.json is not None), None)
        html_t = next((t.html for t in chain if t.html is not None), None)
        return json_t, html_t


def build_error_pages(config: ClusterConfig) -> dict[str, ErrorPageSet]:
    """Page sets by route name; ``""`` holds the top-level one (also for unrouted requests)."""
    pages: dict[str, ErrorPageSet] = {}
    top = ErrorPageSet(config.error_pages, "error_pages") if config.error_pages else None
    if top is not None:
        pages[""] = top
    for i, route in enumerate(config.routes):
        if route.error_pages is not None:
            pages[route.name] = ErrorPageSet(route.error_pages, f"routes[{i}].error_pages", top)
    return pages


# --- content negotiation -------------------------------------------------------------------
def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def _q_for(ranges: list[tuple[str, float]], media: str) -> float:
    kind = media.split("/", maxsplit=1)[0] + "/*"
    best = (-1, 0.0)
    for pattern, q in ranges:
        rank = 2 if pattern == media else 1 if pattern == kind else 0 if pattern == "*/*" else -1
        if rank > best[0]:
            best = (rank, q)
    return best[1]


def prefers_html(accept: bytes | None) -> bool:
    """True when the Accept header ranks text/html above application/json."""
    if not accept:
        return False
    ranges = []
    for item in accept.decode("latin-1").split(","):
        media, _, params = item.strip().partition(";")
        if media:
            ranges.append((media.strip().lower(), _quality(params)))
    return _q_for(ranges, "text/html") > _q_for(ranges, "application/json")


# --- rendering -------------------------------------------------------------------------------
def _substitute(text: str, values: Mapping[str, str], escape: bool) -> str:
    def one(match: re.Match[str]) -> str:
        value = values.get(match.group(1), "")
        return html.escape(value) if escape else value

    return _VARIABLE_RE.sub(one, text)


def _fill(template: Any, values: Mapping[str, str]) -> Any:
    if isinstance(template, str):
        whole = _VARIABLE_RE.fullmatch(template)
        if whole is not None and whole.group(1) in _NUMERIC and values.get(whole.group(1), ""):
            raw = values[whole.group(1)]
            return int(raw) if raw.isdigit() else raw
        return _substitute(template, values, escape=False)
    if isinstance(template, dict):
        return {key: _fill(item, values) for key, item in template.items()}
    if isinstance(template, list):
        return [_fill(item, values) for item in template]
    return template


def render_error(
    pages: ErrorPageSet | None,
    status: int,
    code: str,
    message: str,
    request_id: str,
    *,
    accept: bytes | None = None,
    route: str = "",
    retry_after: str = "",
) -> tuple[bytes, bytes]:
    """The body and content type of a gateway error."""
    if pages is None:
        return error_body(code, message, request_id), JSON_TYPE
    json_t, html_t = pages.templates(status, code)
    values = {
        "status": str(status),
        "code": code,
        "message": message,
        "request_id": request_id,
        "retry_after": retry_after,
        "route": route,
        "reason": reason(status).decode(),
    }
    if html_t is not None and pages.html_for_browsers and prefers_html(accept):
        return _substitute(html_t, values, escape=True).encode(), HTML_TYPE
    if json_t is not None:
        body = json.dumps(_fill(json_t, values), separators=(",", ":"), ensure_ascii=False)
        return body.encode(), JSON_TYPE
    return error_body(code, message, request_id), JSON_TYPE
