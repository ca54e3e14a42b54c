"""An OpenAPI 3.1 style summary of one team's APIs, from the catalog.

Paths come from the route matches (a prefix becomes ``/prefix/{rest}``, a
regex's named groups become ``{name}``), summaries from the routes'
``description``, security schemes from their auth policies; zonegate's view
(versions and weights, canaries, rate limits, SLOs) goes into ``x-zonegate-*``
extensions.
"""

from __future__ import annotations

import re
from typing import Any

from zonegate.config.teams import regex_literal_prefix
from zonegate.node.delivery.catalog import Catalog, CatalogRoute, CatalogTeam

ANY_METHODS = ("get", "post", "put", "patch", "delete")
_NAMED_GROUP = re.compile(r"\(\?P<([A-Za-z_][A-Za-z0-9_]*)>[^()]*\)")
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_META = re.compile(r"[.^$*+?{}\[\]\\|()]")


def openapi_paths(route: CatalogRoute) -> list[str]:
    """The OpenAPI path templates a route serves."""
    path = route.match.get("path") or {"prefix": "/"}
    if "exact" in path:
        return [str(path["exact"])]
    if "prefix" in path:
        base = str(path["prefix"]).rstrip("/")
        return [base or "/", f"{base}/{{rest}}"] if base else ["/{rest}"]
    regex = str(path.get("regex", "/"))
    templated = _NAMED_GROUP.sub(lambda m: "{" + m.group(1) + "}", regex.strip("^$"))
    if not _META.search(_PLACEHOLDER.sub("", templated)):
        return [templated]
    literal, _ = regex_literal_prefix(regex)
    return [f"{literal.rstrip('/')}/{{rest}}"]


def _parameters(template: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{([^}]+)\}", template)
    ]


def _security(route: CatalogRoute) -> tuple[list[dict[str, list[str]]], dict[str, Any]]:
    if route.auth.startswith("api_key"):
        header = route.auth.removeprefix("api_key (header ").rstrip(")")
        return [{"apiKey": []}], {"apiKey": {"type": "apiKey", "in": "header", "name": header}}
    if route.auth.startswith("jwt"):
        scheme = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        return [{"bearerJwt": []}], {"bearerJwt": scheme}
    return [], {}


def _operation(route: CatalogRoute, method: str, team: str) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": route.description or route.name,
        "operationId": f"{route.name}-{method}",
        "tags": [team],
        "x-zonegate-route": route.name,
        "x-zonegate-versions": [
            {"cluster": v.cluster, "version": v.version, "weight": v.weight, "share": v.share}
            for v in route.versions
        ],
        "responses": {"default": {"description": "the upstream's answer"}},
    }
    if route.canary:
        operation["x-zonegate-canary"] = route.canary
    if route.rate_limits:
        operation["x-zonegate-rate-limits"] = route.rate_limits
        operation["responses"]["429"] = {"description": "rate limited (see Retry-After)"}
    if route.slos:
        operation["x-zonegate-slos"] = route.slos
    security, _ = _security(route)
    if security:
        operation["security"] = security
        operation["responses"]["401"] = {"description": "authentication required"}
    return operation


def openapi_summary(catalog: Catalog, team: CatalogTeam) -> dict[str, Any]:
    """OpenAPI 3.1 document of ``team``'s routes."""
    paths: dict[str, dict[str, Any]] = {}
    schemes: dict[str, Any] = {}
    for route in team.routes:
        methods = [m.lower() for m in route.methods] or list(ANY_METHODS)
        _, route_schemes = _security(route)
        schemes.update(route_schemes)
        for template in openapi_paths(route):
            item = paths.setdefault(template, {})
            if _parameters(template):
                item["parameters"] = _parameters(template)
            for method in methods:
                item.setdefault(method, _operation(route, method, team.name))
    info: dict[str, Any] = {
        "title": f"{team.name} APIs on {catalog.cluster}",
        "version": str(catalog.revision),
    }
    if team.description:
        info["description"] = team.description
    if team.contact:
        info["contact"] = {"name": team.contact}
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": info,
        "tags": [{"name": team.name, "description": team.description}],
        "paths": paths,
    }
    hosts = sorted({h for r in team.routes for h in r.hosts if not h.startswith("*")})
    hosts = hosts or [h for h in team.hosts if not h.startswith("*")]
    if hosts:
        document["servers"] = [{"url": f"https://{h}"} for h in hosts]
    if schemes:
        document["components"] = {"securitySchemes": schemes}
    return document
