"""Policy config models: what is accepted, what is refused and how it is explained."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from pydantic import ValidationError

from zonegate.config.aggregate import Aggregate
from zonegate.config.policies import Consumer, Policies, RoutePolicies
from zonegate.config.policy_checks import policy_problems
from zonegate.config.upstream_tls import UpstreamTls
from zonegate.node.policy.errors import PolicyBuildError
from zonegate.node.policy.tls import upstream_server_name, upstream_ssl_context

HASH = "scrypt$1024$8$1$c2FsdHNhbHRzYWx0c2FsdA$c2FsdHNhbHRzYWx0c2FsdA"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"auth": {"type": "oauth"}}, "does not match any of the expected tags"),
        ({"auth": {"type": "api_key", "header": "bad header"}}, "not a valid HTTP header"),
        ({"auth": {"type": "jwt"}}, "needs keys or a jwks_file"),
        ({"auth": {"type": "jwt", "keys": [{"algorithm": "HS256"}]}}, "exactly one of secret_file"),
        (
            {"auth": {"type": "jwt", "keys": [{"algorithm": "HS256", "secret_env": "S"}]}},
            "not in algorithms",
        ),
        ({"auth": {"type": "jwt", "algorithms": ["none"], "jwks_file": "x"}}, "HS256"),
        ({"auth": {"type": "jwt", "keys": [{"algorithm": "RS256"}]}}, "needs public_key_pem"),
        ({"rate_limits": [{"name": "a", "algorithm": "leaky", "requests": 1}]}, "expected tags"),
        (
            {"rate_limits": [{"name": "a", "algorithm": "token_bucket", "requests": 0}]},
            "greater than",
        ),
        (
            {
                "rate_limits": [
                    {"name": "a", "algorithm": "token_bucket", "requests": 1, "key": ["cookie"]}
                ]
            },
            "String should match",
        ),
        (
            {
                "rate_limits": [
                    {"name": "a", "algorithm": "token_bucket", "requests": 1},
                    {"name": "a", "algorithm": "sliding_window", "requests": 1},
                ]
            },
            "duplicate rate limit names: a",
        ),
        (
            {"transform": {"request_headers": {"set": {"x": "${secret}"}}}},
            "unknown variable ${secret}",
        ),
        ({"transform": {"response_headers": {"add": {"x": "a\r\nb"}}}}, "CR, LF"),
        ({"cors": {"allow_origins": ["*"], "allow_credentials": True}}, "cannot be combined"),
        ({"cors": {"allow_origins": ["app.example"]}}, "scheme://host"),
        ({"authz": {"allow": {"roles": ["x"]}}}, "Extra inputs"),
    ],
)
def test_route_policies_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(
        ValidationError, match=message.replace("$", r"\$").replace("{", r"\{").replace("}", r"\}")
    ):
        RoutePolicies.model_validate(data)


def test_route_policies_accepted_and_merged() -> None:
    defaults = RoutePolicies.model_validate(
        {
            "auth": {"type": "api_key"},
            "rate_limits": [{"name": "ip", "algorithm": "sliding_window", "requests": 100}],
            "cors": {"allow_origins": ["https://*.example.com"]},
        }
    )
    route = RoutePolicies.model_validate({"auth": {"type": "none"}, "rate_limits": []})
    merged = route.merged_over(defaults)
    assert merged.auth is not None and merged.auth.type == "none"
    assert merged.rate_limits == []
    assert merged.cors == defaults.cors
    assert RoutePolicies().merged_over(defaults) == defaults


def test_policies_top_level() -> None:
    with pytest.raises(ValidationError, match="not an IP address or CIDR"):
        Policies.model_validate({"trusted_proxies": ["10.0.0.0/33"]})
    ok = Policies.model_validate({"trusted_proxies": ["10.0.0.0/8", "::1"]})
    assert ok.ipv6_key_prefix == 64


def test_consumer_credentials_checked() -> None:
    with pytest.raises(ValidationError, match="String should match"):
        Consumer.model_validate(
            {"name": "a", "api_keys": [{"id": "0123456789abcdef", "hash": "plain-key"}]}
        )
    with pytest.raises(ValidationError, match="String should match"):
        Consumer.model_validate({"name": "a", "api_keys": [{"id": "XYZ", "hash": HASH}]})


@dataclass(frozen=True)
class PathView:
    regex: str | None = None


@dataclass(frozen=True)
class MatchView:
    path: PathView = PathView()


@dataclass(frozen=True)
class Named:
    name: str


@dataclass(frozen=True)
class RouteView:
    name: str
    policies: RoutePolicies | None = None
    aggregate: Aggregate | None = None
    match: MatchView = MatchView()


@dataclass(frozen=True)
class ConfigView:
    consumers: list[Consumer] = field(default_factory=list)
    policies: Policies = field(default_factory=Policies)
    clusters: list[Named] = field(default_factory=list)
    routes: list[RouteView] = field(default_factory=list)


def test_policy_problems_have_paths() -> None:
    key = {"id": "0123456789abcdef", "hash": HASH}
    consumers = [
        Consumer.model_validate({"name": "a", "api_keys": [key]}),
        Consumer.model_validate({"name": "a", "api_keys": [key]}),
    ]
    agg = Aggregate.model_validate(
        {"calls": [{"name": "u", "cluster": "nope", "path": "/u/{path.id}"}]}
    )
    routes = [
        RouteView("agg", aggregate=agg, match=MatchView(PathView(r"^/u/(?P<uid>\d+)$"))),
        RouteView("open", RoutePolicies.model_validate({"authz": {"allow": {"groups": ["g"]}}})),
    ]
    problems = policy_problems(ConfigView(consumers, Policies(), [Named("users")], routes))
    assert problems == [
        (("consumers", 1, "name"), "duplicate consumer 'a'"),
        (("consumers", 1, "api_keys", 0, "id"), "duplicate api key id '0123456789abcdef'"),
        (("routes", 0, "aggregate", "calls", 0, "cluster"), "unknown cluster 'nope'"),
        (
            ("routes", 0, "aggregate", "calls", 0, "path"),
            "path parameter 'id' is not a named group of the route's match.path.regex",
        ),
        (("routes", 1, "policies", "authz"), "authorization needs auth on the route"),
    ]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    client = ca.issue_cert("gateway.internal")
    ca.cert_pem.write_to_path(str(base / "ca.pem"))
    client.private_key_pem.write_to_path(str(base / "client.key"))
    client.cert_chain_pems[0].write_to_path(str(base / "client.pem"))
    return {
        "ca": str(base / "ca.pem"),
        "cert": str(base / "client.pem"),
        "key": str(base / "client.key"),
    }


def test_upstream_tls_context(pki: dict[str, str]) -> None:
    cfg = UpstreamTls(
        ca_file=pki["ca"], cert_file=pki["cert"], key_file=pki["key"], sni="api.internal"
    )
    context = upstream_ssl_context(cfg)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert upstream_server_name(cfg, "10.0.0.1") == "api.internal"
    assert upstream_server_name(UpstreamTls(), "10.0.0.1") == "10.0.0.1"
    lab = upstream_ssl_context(UpstreamTls(verify=False, min_version="1.3"))
    assert lab.verify_mode == ssl.CERT_NONE and not lab.check_hostname


def test_upstream_tls_errors_are_clear(pki: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="both cert_file and key_file"):
        UpstreamTls(cert_file=pki["cert"])
    with pytest.raises(PolicyBuildError, match="cannot load ca_file"):
        upstream_ssl_context(UpstreamTls(ca_file=str(tmp_path / "missing.pem")))
    with pytest.raises(PolicyBuildError, match="client certificate"):
        upstream_ssl_context(UpstreamTls(cert_file=pki["cert"], key_file=pki["ca"]))
