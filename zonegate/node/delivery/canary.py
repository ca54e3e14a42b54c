"""Targeted canary rules compiled for the hot path.

A rule matches when every condition it has holds: a header (present, exact
value or full regex match), a cookie (present or exact value), and the
authenticated consumer (listed by name, or in a listed group). The first
matching rule's cluster wins.
"""

from __future__ import annotations

import re

from zonegate.config.delivery import CanaryRule
from zonegate.node.http import Request, header_values
from zonegate.node.policy.identity import Identity


def cookie_value(req: Request, name: bytes) -> bytes | None:
    """The value of cookie ``name`` (first one) in the request's Cookie headers."""
    prefix = name + b"="
    for header in header_values(req.headers, b"cookie"):
        for raw in header.split(b";"):
            part = raw.strip()
            if part.startswith(prefix):
                return part[len(prefix) :]
    return None


class CompiledCanary:
    """One canary rule, ready to test requests."""

    __slots__ = (
        "cluster",
        "consumers",
        "cookie_exact",
        "cookie_name",
        "groups",
        "header_exact",
        "header_name",
        "header_regex",
        "name",
        "needs_identity",
    )

    def __init__(self, rule: CanaryRule) -> None:
        self.name = rule.name
        self.cluster = rule.cluster
        header = rule.header
        self.header_name = header.name.encode() if header is not None else None
        self.header_exact = (
            header.exact.encode("latin-1") if header is not None and header.exact else None
        )
        self.header_regex = (
            re.compile(header.regex.encode("latin-1"))
            if header is not None and header.regex is not None
            else None
        )
        cookie = rule.cookie
        self.cookie_name = cookie.name.encode() if cookie is not None else None
        self.cookie_exact = (
            cookie.exact.encode("latin-1") if cookie is not None and cookie.exact else None
        )
        self.consumers = frozenset(rule.consumers)
        self.groups = frozenset(rule.consumer_groups)
        self.needs_identity = rule.needs_identity

    def matches(self, req: Request, identity: Identity | None) -> bool:
        if self.header_name is not None:
            value = req.header(self.header_name)
            if value is None:
                return False
            if self.header_exact is not None and value != self.header_exact:
                return False
            if self.header_regex is not None and self.header_regex.fullmatch(value) is None:
                return False
        if self.cookie_name is not None:
            cookie = cookie_value(req, self.cookie_name)
            if cookie is None or (self.cookie_exact is not None and cookie != self.cookie_exact):
                return False
        if self.needs_identity:
            if identity is None:
                return False
            if identity.consumer not in self.consumers and not (identity.groups & self.groups):
                return False
        return True
