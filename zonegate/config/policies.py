"""Policy configuration: consumers, authentication, authorization, rate limits, transforms, CORS.

Every route may carry ``policies``; ``policies.defaults`` at the top level applies to
every route, and a route's own value replaces the default field by field (``None``
means "inherit"). ``auth: {type: none}`` and ``rate_limits: []`` switch a default off.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from zonegate.config.base import Name, Seconds, StrictModel

HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"
_HEADER_RE = re.compile(HEADER_NAME)
TEMPLATE_VARIABLES = frozenset(
    {"request_id", "consumer", "zone", "node", "route", "client_ip", "method", "path", "host"}
)
_VARIABLE_RE = re.compile(r"\$\{([^}]*)\}")
API_KEY_HASH = (
    r"^(hmac-sha256\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+"
    r"|scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+)$"
)
KEY_ID = r"^[0-9a-f]{16}$"
KeyPart = Annotated[
    str,
    Field(
        pattern=r"^(consumer|ip|route|header:[a-z0-9!#$%&'*+.^_`|~-]+)$",
        description="consumer | ip | route | header:<lower-case name>",
    ),
]
Algorithm = Literal["HS256", "RS256", "ES256"]


def _header_name(value: str) -> str:
    if not _HEADER_RE.match(value):
        raise ValueError(f"not a valid HTTP header name: {value!r}")
    return value.lower()


def check_template(value: str) -> str:
    """A header value with ``${variable}`` references; unknown variables are errors."""
    if "\r" in value or "\n" in value or "\0" in value:
        raise ValueError("header values must not contain CR, LF or NUL")
    for name in _VARIABLE_RE.findall(value):
        if name not in TEMPLATE_VARIABLES:
            known = ", ".join(sorted(TEMPLATE_VARIABLES))
            raise ValueError(f"unknown variable ${{{name}}} (known: {known})")
    return value


# --- consumers -------------------------------------------------------------
class ApiKeyCredential(StrictModel):
    """One API key of a consumer, as printed by ``zonegate consumer add``."""

    id: str = Field(pattern=KEY_ID, description="public key id (the part after 'zg_')")
    hash: str = Field(
        pattern=API_KEY_HASH, description="salted hash (hmac-sha256 or scrypt) of the key"
    )


class Consumer(StrictModel):
    """A client of the gateway: name, groups and credentials."""

    name: Name
    groups: list[Name] = Field(default_factory=list)
    api_keys: list[ApiKeyCredential] = Field(default_factory=list)


# --- authentication ----------------------------------------------------------
class ApiKeyAuth(StrictModel):
    """API keys (``zg_<id>_<secret>``) from a header or, when enabled, a query parameter."""

    type: Literal["api_key"]
    header: str = "x-api-key"
    query_param: str | None = Field(
        default=None, description="also accept the key in this query parameter (discouraged)"
    )
    forward: bool = Field(default=False, description="keep the key in the upstream request")
    realm: str = "zonegate"

    _header = field_validator("header")(_header_name)


class JwtKey(StrictModel):
    """A verification key. The secret of an HS256 key never sits in the config itself."""

    kid: str | None = None
    algorithm: Algorithm
    public_key_pem: str | None = Field(default=None, description="RS256/ES256 public key (PEM)")
    secret_file: str | None = Field(default=None, description="HS256: file holding the secret")
    secret_env: str | None = Field(default=None, description="HS256: env var holding the secret")

    @model_validator(mode="after")
    def _material(self) -> JwtKey:
        sources = [s for s in (self.secret_file, self.secret_env) if s is not None]
        if self.algorithm == "HS256":
            if len(sources) != 1 or self.public_key_pem is not None:
                raise ValueError("an HS256 key needs exactly one of secret_file, secret_env")
        elif self.public_key_pem is None or sources:
            raise ValueError(f"an {self.algorithm} key needs public_key_pem (and no secret)")
        return self


def _asymmetric() -> list[Algorithm]:
    return ["RS256", "ES256"]


class JwtAuth(StrictModel):
    """Bearer JWTs, verified with configured keys and/or a JWKS file reloaded on change."""

    type: Literal["jwt"]
    issuer: str | None = None
    audiences: list[str] = Field(default_factory=list, description="token needs one of these")
    algorithms: list[Algorithm] = Field(default_factory=_asymmetric, min_length=1)
    keys: list[JwtKey] = Field(default_factory=list)
    jwks_file: str | None = None
    leeway_s: float = Field(default=30.0, ge=0, le=3600)
    required_claims: list[str] = Field(default_factory=lambda: ["exp"])
    header: str = "authorization"
    consumer_claim: str = "sub"
    groups_claim: str | None = "groups"
    scopes_claim: str | None = Field(default="scope", description="space-separated or a list")
    known_consumers_only: bool = Field(
        default=False, description="reject tokens whose consumer is not in `consumers`"
    )
    forward: bool = Field(default=True, description="keep the token in the upstream request")
    realm: str = "zonegate"
    cache_size: int = Field(default=10000, ge=0, le=1_000_000)

    _header = field_validator("header")(_header_name)

    @model_validator(mode="after")
    def _keys(self) -> JwtAuth:
        if not self.keys and self.jwks_file is None:
            raise ValueError("jwt auth needs keys or a jwks_file")
        for key in self.keys:
            if key.algorithm not in self.algorithms:
                raise ValueError(f"key algorithm {key.algorithm} is not in algorithms")
        return self


class NoAuth(StrictModel):
    """Switch authentication off for a route (e.g. a public health page)."""

    type: Literal["none"]


AuthPolicy = Annotated[ApiKeyAuth | JwtAuth | NoAuth, Field(discriminator="type")]


# --- authorization -----------------------------------------------------------
class Principals(StrictModel):
    consumers: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(default_factory=list)

    def empty(self) -> bool:
        return not (self.consumers or self.groups or self.scopes)


class Authorization(StrictModel):
    """Deny wins; with ``allow`` set a consumer must match one of its entries."""

    allow: Principals | None = Field(default=None, description="None: any authenticated consumer")
    deny: Principals = Principals()


# --- rate limits ---------------------------------------------------------------
class _LimitBase(StrictModel):
    name: Name
    requests: int = Field(ge=1, le=1_000_000_000)
    key: list[KeyPart] = Field(default_factory=lambda: ["ip"], min_length=1)
    enforce: bool = Field(default=True, description="false: shadow mode, count and log only")
    headers: bool = Field(default=False, description="RateLimit-* also on allowed responses")
    max_keys: int = Field(default=100_000, ge=1, le=10_000_000)
    scope: Literal["node", "cluster"] = Field(
        default="node", description="cluster: shared through the coordinator when available"
    )


class TokenBucketLimit(_LimitBase):
    """``requests`` per ``per_s`` refilled continuously; up to ``burst`` at once."""

    algorithm: Literal["token_bucket"]
    per_s: Seconds = 1.0
    burst: int | None = Field(default=None, ge=1, description="bucket size; default requests")


class SlidingWindowLimit(_LimitBase):
    """At most ``requests`` in any ``window_s`` (sliding-window counter estimate)."""

    algorithm: Literal["sliding_window"]
    window_s: Seconds = 60.0


RateLimit = Annotated[TokenBucketLimit | SlidingWindowLimit, Field(discriminator="algorithm")]


# --- transforms and CORS ---------------------------------------------------------
class HeaderOps(StrictModel):
    """``remove`` first, then ``set`` (replace), then ``add`` (append)."""

    add: dict[str, str] = Field(default_factory=dict)
    set: dict[str, str] = Field(default_factory=dict)
    remove: list[str] = Field(default_factory=list)

    @field_validator("add", "set")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        return {_header_name(k): check_template(v) for k, v in value.items()}

    @field_validator("remove")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        return [_header_name(v) for v in value]


class Transform(StrictModel):
    request_headers: HeaderOps = HeaderOps()
    response_headers: HeaderOps = HeaderOps()


class Cors(StrictModel):
    """CORS for browsers; preflights are answered at the gateway."""

    enabled: bool = True
    allow_origins: list[str] = Field(
        default_factory=list, description="exact origins, '*' or 'https://*.example.com'"
    )
    allow_methods: list[str] = Field(
        default_factory=lambda: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    )
    allow_headers: list[str] = Field(
        default_factory=lambda: ["authorization", "content-type", "x-api-key", "x-request-id"],
        description="'*' reflects what the browser asks for",
    )
    expose_headers: list[str] = Field(default_factory=list)
    allow_credentials: bool = False
    max_age_s: int = Field(default=600, ge=0, le=86400)

    @field_validator("allow_methods")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [m.upper() for m in value]

    @field_validator("allow_headers", "expose_headers")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v if v == "*" else _header_name(v) for v in value]

    @field_validator("allow_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not re.match(r"^https?://(\*\.)?[A-Za-z0-9.-]+(:\d+)?$", origin):
                raise ValueError(f"origin must be scheme://host[:port] or '*', got {origin!r}")
        return [o.lower() for o in value]

    @model_validator(mode="after")
    def _credentials(self) -> Cors:
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError("allow_credentials cannot be combined with the '*' origin")
        return self


# --- per route and top level ---------------------------------------------------------
class RoutePolicies(StrictModel):
    """The policies of one route; ``None`` inherits ``policies.defaults``."""

    auth: AuthPolicy | None = None
    authz: Authorization | None = None
    rate_limits: list[RateLimit] | None = None
    transform: Transform | None = None
    cors: Cors | None = None

    @field_validator("rate_limits")
    @classmethod
    def _unique_limits(cls, value: list[RateLimit] | None) -> list[RateLimit] | None:
        names = [limit.name for limit in value or []]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate rate limit names: {', '.join(duplicates)}")
        return value

    def merged_over(self, defaults: RoutePolicies) -> RoutePolicies:
        """This route's policies with every unset field taken from ``defaults``."""
        return RoutePolicies(
            auth=self.auth if self.auth is not None else defaults.auth,
            authz=self.authz if self.authz is not None else defaults.authz,
            rate_limits=self.rate_limits if self.rate_limits is not None else defaults.rate_limits,
            transform=self.transform if self.transform is not None else defaults.transform,
            cors=self.cors if self.cors is not None else defaults.cors,
        )


class Policies(StrictModel):
    """Top-level policy settings (``policies:`` in the cluster config)."""

    defaults: RoutePolicies = RoutePolicies()
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="CIDRs whose X-Forwarded-For is believed when finding the client IP",
    )
    ipv6_key_prefix: int = Field(
        default=64, ge=32, le=128, description="rate-limit IPv6 clients by this prefix length"
    )
    api_key_cache_size: int = Field(
        default=10000, ge=0, le=1_000_000, description="verified scrypt-hashed keys remembered"
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or CIDR: {cidr!r}") from None
        return value
