"""Route matching: first match wins, in declared order.

Each route is compiled once into a :class:`CompiledRoute` whose ``matches``
does the cheapest checks first (method, path) and the rest only when needed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from zonegate.config.routes import HeaderMatch, Route
from zonegate.node.http import Request, header_value

PathTest = Callable[[str], bool]


def _path_test(route: Route) -> PathTest:
    path = route.match.path
    if path.exact is not None:
        exact = path.exact
        return lambda p: p == exact
    if path.prefix is not None:
        prefix = path.prefix
        if prefix == "/":
            return lambda p: True
        return lambda p: p.startswith(prefix)
    assert path.regex is not None
    pattern = re.compile(path.regex)
    return lambda p: pattern.fullmatch(p) is not None


def _host_test(patterns: Sequence[str]) -> Callable[[str], bool] | None:
    if not patterns:
        return None
    exact = {p.lower() for p in patterns if not p.startswith("*.")}
    suffixes = tuple(p[1:].lower() for p in patterns if p.startswith("*."))

    def test(host: str) -> bool:
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in exact or (bool(suffixes) and name.endswith(suffixes))

    return test


def _header_test(match: HeaderMatch) -> Callable[[Request], bool]:
    name = match.name.lower().encode()
    regex = re.compile(match.regex.encode()) if match.regex is not None else None
    exact = match.exact.encode() if match.exact is not None else None
    present = match.present

    def test(req: Request) -> bool:
        value = header_value(req.headers, name)
        if exact is not None:
            ok = value == exact
        elif regex is not None:
            ok = value is not None and regex.fullmatch(value) is not None
        elif present is not None:
            ok = (value is not None) == present
        else:
            ok = value is not None
        return ok != match.invert

    return test


def _rewriter(route: Route) -> Callable[[str], str] | None:
    rw = route.rewrite
    if rw is None:
        return None
    if rw.regex is not None and rw.substitution is not None:
        pattern = re.compile(rw.regex)
        substitution = rw.substitution
        return lambda p: pattern.sub(substitution, p)
    matched_prefix = rw.strip_prefix or route.match.path.prefix or ""
    replacement = rw.prefix if rw.prefix is not None else ""

    def rewrite(p: str) -> str:
        if matched_prefix and p.startswith(matched_prefix):
            rest = p[len(matched_prefix) :]
            new = replacement + rest
            if not new.startswith("/"):
                new = "/" + new
            return new
        return p

    return rewrite


class CompiledRoute:
    """A route ready for the hot path."""

    __slots__ = ("config", "header_tests", "host_test", "methods", "name", "path_test", "rewrite")

    def __init__(self, route: Route) -> None:
        self.config = route
        self.name = route.name
        self.methods = frozenset(route.match.methods)
        self.path_test = _path_test(route)
        self.host_test = _host_test(route.match.hosts)
        self.header_tests = tuple(_header_test(h) for h in route.match.headers)
        self.rewrite = _rewriter(route)

    def matches(self, req: Request) -> bool:
        if self.methods and req.method not in self.methods:
            return False
        if not self.path_test(req.path):
            return False
        if self.host_test is not None and not self.host_test(req.host):
            return False
        return all(test(req) for test in self.header_tests)

    def upstream_path(self, path: str) -> str:
        return path if self.rewrite is None else self.rewrite(path)


class Router:
    """Ordered list of compiled routes."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = tuple(CompiledRoute(r) for r in routes)

    def match(self, req: Request) -> CompiledRoute | None:
        for route in self.routes:
            if route.matches(req):
                return route
        return None
