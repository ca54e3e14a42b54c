"""Progressive delivery config: weighted clusters, targeted canaries, mirroring, error pages.

A route may carry:

- ``split``: traffic split across clusters by weight (deterministic smooth
  weighting, exact over every period), optionally sticky per client (a hash of
  a header or cookie decides, so one user stays on one version);
- ``canary``: rules that send matching requests (a header, a cookie, a
  consumer or consumer group) to one cluster only (dark launch);
- ``mirror``: a share of requests copied fire-and-forget to a shadow cluster;
- ``error_pages``: bodies for gateway-made errors (also at the top level, for
  every route), and whether upstream error answers pass through or are replaced.

:func:`delivery_problems` checks the cluster references of all of these on a
plain (even invalid) document, with paths and did-you-mean hints.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from zonegate.config.base import Name, Seconds, StrictModel

_HEADER_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_COOKIE_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_VARIABLE_RE = re.compile(r"\$\{([^}]*)\}")
ERROR_PAGE_VARIABLES = frozenset(
    {"status", "code", "message", "request_id", "retry_after", "route", "reason"}
)
MAX_SPLIT_CLUSTERS = 16
MAX_WEIGHT = 10_000


def _header_name(value: str) -> str:
    if not _HEADER_RE.match(value):
        raise ValueError(f"not a valid HTTP header name: {value!r}")
    return value.lower()


def _cookie_name(value: str) -> str:
    if not _COOKIE_RE.match(value):
        raise ValueError(f"not a valid cookie name: {value!r}")
    return value


def _opt_header(value: str | None) -> str | None:
    return None if value is None else _header_name(value)


def _opt_cookie(value: str | None) -> str | None:
    return None if value is None else _cookie_name(value)


def _check_regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
    return value


def check_page_template(value: str) -> str:
    """Text with ``${variable}`` references; unknown variables are errors."""
    for name in _VARIABLE_RE.findall(value):
        if name not in ERROR_PAGE_VARIABLES:
            known = ", ".join(sorted(ERROR_PAGE_VARIABLES))
            raise ValueError(f"unknown variable ${{{name}}} (known: {known})")
    return value


def _opt_template(value: str | None) -> str | None:
    return None if value is None else check_page_template(value)


# --- weighted routing -----------------------------------------------------------
class WeightedCluster(StrictModel):
    """One version of a route's backend and its share of the traffic."""

    cluster: str = Field(description="name of an upstream cluster")
    weight: int = Field(ge=0, le=MAX_WEIGHT, description="relative share; 0 sends nothing")
    version: str = Field(default="", max_length=64, description="label shown in the catalog")


class Sticky(StrictModel):
    """Hash this header or cookie so one client always lands on the same version."""

    header: str | None = None
    cookie: str | None = None

    _header = field_validator("header")(_opt_header)
    _cookie = field_validator("cookie")(_opt_cookie)

    @model_validator(mode="after")
    def _one_source(self) -> Sticky:
        if (self.header is None) == (self.cookie is None):
            raise ValueError("sticky needs exactly one of header, cookie")
        return self


class TrafficSplit(StrictModel):
    """Weights across clusters; the route's ``upstream`` must be one of them (the stable one)."""

    clusters: list[WeightedCluster] = Field(min_length=1, max_length=MAX_SPLIT_CLUSTERS)
    sticky: Sticky | None = Field(
        default=None, description="requests without the header/cookie are split by weight"
    )

    @model_validator(mode="after")
    def _weights(self) -> TrafficSplit:
        names = [c.cluster for c in self.clusters]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"cluster listed twice in the split: {', '.join(duplicates)}")
        if sum(c.weight for c in self.clusters) <= 0:
            raise ValueError("the weights of a split must not all be 0")
        return self

    def total(self) -> int:
        return sum(c.weight for c in self.clusters)


# --- canary / dark launch --------------------------------------------------------
class HeaderCondition(StrictModel):
    """The header is present, equals ``exact`` or fully matches ``regex``."""

    name: str
    exact: str | None = None
    regex: str | None = None

    _name = field_validator("name")(_header_name)
    _regex = field_validator("regex")(_check_regex)

    @model_validator(mode="after")
    def _one_test(self) -> HeaderCondition:
        if self.exact is not None and self.regex is not None:
            raise ValueError("give exact or regex, not both (neither: the header is present)")
        return self


class CookieCondition(StrictModel):
    """The cookie is present, or equals ``exact``."""

    name: str
    exact: str | None = None

    _name = field_validator("name")(_cookie_name)


class CanaryRule(StrictModel):
    """Requests meeting every given condition go to ``cluster`` only.

    ``consumers`` and ``consumer_groups`` need authentication on the route; a
    request matches them when its consumer is listed or is in a listed group.
    """

    name: Name
    cluster: str
    header: HeaderCondition | None = None
    cookie: CookieCondition | None = None
    consumers: list[str] = Field(default_factory=list)
    consumer_groups: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_condition(self) -> CanaryRule:
        if (
            self.header is None
            and self.cookie is None
            and not self.consumers
            and not self.consumer_groups
        ):
            raise ValueError(
                "a canary rule needs a condition: header, cookie, consumers or consumer_groups"
            )
        return self

    @property
    def needs_identity(self) -> bool:
        return bool(self.consumers or self.consumer_groups)


# --- mirroring -------------------------------------------------------------------------
class Mirror(StrictModel):
    """Copy ``percent`` of the route's requests to ``cluster``; answers are discarded.

    Never slows down or fails the real request: copies beyond ``max_concurrent``
    in flight, or with a body over ``max_body_bytes`` (or still streaming), are
    skipped and counted.
    """

    cluster: str
    percent: float = Field(default=100.0, gt=0, le=100)
    max_concurrent: int = Field(default=16, ge=1, le=10_000)
    max_body_bytes: int = Field(default=65_536, ge=0, le=64 * 1024 * 1024)
    timeout_s: Seconds = 2.0


# --- error pages -------------------------------------------------------------------------
def _check_json_template(value: Any, path: str = "json_template") -> None:
    if isinstance(value, str):
        check_page_template(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_json_template(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            _check_json_template(item, path)


class ErrorTemplate(StrictModel):
    """The body of one kind of gateway error: a JSON template and/or an HTML page.

    Strings anywhere in ``json_template`` may use ``${status}``, ``${code}``,
    ``${message}``, ``${request_id}``, ``${retry_after}``, ``${route}``,
    ``${reason}``; a string that is exactly ``${status}`` or ``${retry_after}``
    becomes a number. HTML is given inline or as a file read when the node
    loads the config; its variables are HTML-escaped.
    """

    json_template: dict[str, Any] | None = None
    html_template: str | None = None
    html_file: str | None = None

    @field_validator("json_template")
    @classmethod
    def _json(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            _check_json_template(value)
        return value

    _html = field_validator("html_template")(_opt_template)

    @model_validator(mode="after")
    def _something(self) -> ErrorTemplate:
        if self.html_template is not None and self.html_file is not None:
            raise ValueError("give html_template or html_file, not both")
        if self.json_template is None and self.html_template is None and self.html_file is None:
            raise ValueError("an error template needs json_template, html_template or html_file")
        return self


def _default_replaced() -> list[int]:
    return [502, 503, 504]


class ErrorPages(StrictModel):
    """Bodies of gateway errors, most specific first: ``by_code``, ``by_status``, ``default``.

    JSON is the default; HTML is served when a template has one, ``html_for_browsers``
    is on and the client's Accept header prefers text/html. A route's pages are
    looked up before the top-level ones.
    """

    default: ErrorTemplate | None = None
    by_status: dict[int, ErrorTemplate] = Field(default_factory=dict)
    by_code: dict[str, ErrorTemplate] = Field(default_factory=dict)
    html_for_browsers: bool = True
    upstream_errors: Literal["pass", "replace"] = Field(
        default="pass",
        description="replace: upstream answers with a status in replace_statuses get the "
        "gateway's error body instead of the upstream's",
    )
    replace_statuses: list[int] = Field(default_factory=_default_replaced)

    @field_validator("by_status")
    @classmethod
    def _statuses(cls, value: dict[int, ErrorTemplate]) -> dict[int, ErrorTemplate]:
        for status in value:
            if not 400 <= status <= 599:
                raise ValueError(f"by_status keys are error statuses (400-599), got {status}")
        return value

    @field_validator("replace_statuses")
    @classmethod
    def _replaced(cls, value: list[int]) -> list[int]:
        for status in value:
            if not 400 <= status <= 599:
                raise ValueError(f"replace_statuses are error statuses (400-599), got {status}")
        return value


# --- cross references ------------------------------------------------------------------------
Problem = tuple[tuple[str | int, ...], str]


def _hint(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown(loc: tuple[str | int, ...], name: object, clusters: list[str]) -> list[Problem]:
    if isinstance(name, str) and name not in clusters:
        return [(loc, f"unknown cluster {name!r}{_hint(name, clusters)}")]
    return []


def route_delivery_problems(i: int, route: Mapping[str, Any], clusters: list[str]) -> list[Problem]:
    """Unknown clusters in one route's split, canary rules and mirror."""
    problems: list[Problem] = []
    if route.get("upstream") is None and route.get("aggregate") is not None:
        for key in ("split", "canary", "mirror"):
            if route.get(key):
                problems.append(
                    (
                        ("routes", i, key),
                        f"{key} needs an upstream; an aggregate route composes its own calls",
                    )
                )
    split = route.get("split")
    if isinstance(split, Mapping):
        entries = split.get("clusters")
        names: list[str] = []
        for j, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, Mapping):
                name = entry.get("cluster")
                problems += _unknown(
                    ("routes", i, "split", "clusters", j, "cluster"), name, clusters
                )
                if isinstance(name, str):
                    names.append(name)
        upstream = route.get("upstream")
        if isinstance(upstream, str) and names and upstream not in names:
            problems.append(
                (
                    ("routes", i, "split", "clusters"),
                    f"the route's upstream {upstream!r} (its stable version) must be one of the "
                    "split clusters; give it weight 0 to send it nothing",
                )
            )
    canary = route.get("canary")
    for j, rule in enumerate(canary if isinstance(canary, list) else []):
        if isinstance(rule, Mapping):
            problems += _unknown(
                ("routes", i, "canary", j, "cluster"), rule.get("cluster"), clusters
            )
    mirror = route.get("mirror")
    if isinstance(mirror, Mapping):
        problems += _unknown(("routes", i, "mirror", "cluster"), mirror.get("cluster"), clusters)
    return problems


def delivery_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Every route's delivery references, for ``reference_problems``."""
    clusters_raw = data.get("clusters")
    clusters = [
        str(c["name"])
        for c in (clusters_raw if isinstance(clusters_raw, list) else [])
        if isinstance(c, Mapping) and c.get("name")
    ]
    routes = data.get("routes")
    problems: list[Problem] = []
    for i, route in enumerate(routes if isinstance(routes, list) else []):
        if isinstance(route, Mapping):
            problems += route_delivery_problems(i, route, clusters)
    return problems


def route_clusters(route: Any) -> list[str]:
    """Every cluster a validated route sends to (upstream, split, canaries, composed calls)."""
    names = [route.upstream] if getattr(route, "upstream", None) else []
    aggregate = getattr(route, "aggregate", None)
    names += [call.cluster for call in getattr(aggregate, "calls", None) or ()]
    split: TrafficSplit | None = getattr(route, "split", None)
    if split is not None:
        names += [c.cluster for c in split.clusters]
    for rule in getattr(route, "canary", None) or ():
        names.append(rule.cluster)
    return list(dict.fromkeys(names))
