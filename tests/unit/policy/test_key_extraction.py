"""Client IP behind trusted proxies, and rate-limit keys built from a request."""

from __future__ import annotations

import pytest

from zonegate.node.context import RequestContext
from zonegate.node.http import Request
from zonegate.node.policy.client_ip import ClientIpResolver, canonical_ip
from zonegate.node.policy.keys import SEPARATOR, ClientKey, compile_key, header_digest

PROXIES = ["10.0.0.0/8", "fd00::/8"]


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        # no XFF, or a peer we do not trust: the peer is the client
        ("203.0.113.9", [], "203.0.113.9"),
        ("203.0.113.9", [b"1.2.3.4"], "203.0.113.9"),
        # one trusted proxy in front
        ("10.0.0.5", [b"198.51.100.7"], "198.51.100.7"),
        # client-forged entries left of the real client are ignored
        ("10.0.0.5", [b"6.6.6.6, 198.51.100.7"], "198.51.100.7"),
        # a chain of trusted proxies is skipped from the right
        ("10.0.0.5", [b"198.51.100.7, 10.1.1.1, 10.2.2.2"], "198.51.100.7"),
        # several XFF header lines are one list, in order
        ("10.0.0.5", [b"6.6.6.6, 198.51.100.7", b"10.1.1.1"], "198.51.100.7"),
        # every hop trusted: the leftmost is as far as we can see
        ("10.0.0.5", [b"10.9.9.9, 10.1.1.1"], "10.9.9.9"),
        # malformed entry: stop at the last trusted hop
        ("10.0.0.5", [b"198.51.100.7, garbage"], "10.0.0.5"),
        ("10.0.0.5", [b"garbage, 10.1.1.1"], "10.1.1.1"),
        # ports, brackets and IPv4-mapped IPv6 are normalised
        ("10.0.0.5", [b"198.51.100.7:4711"], "198.51.100.7"),
        ("10.0.0.5", [b"[2001:db8::1]:443"], "2001:db8::1"),
        ("10.0.0.5", [b"::ffff:198.51.100.7"], "198.51.100.7"),
        ("::ffff:10.0.0.5", [b"198.51.100.7"], "198.51.100.7"),
        ("fd00::1", [b"2001:DB8:0:0::1"], "2001:db8::1"),
    ],
)
def test_resolve_client_ip(peer: str, xff: list[bytes], expected: str) -> None:
    assert ClientIpResolver(PROXIES).resolve(peer, xff) == expected


def test_no_trusted_proxies_ignores_xff() -> None:
    resolver = ClientIpResolver([])
    assert not resolver.enabled
    assert resolver.resolve("10.0.0.5", [b"1.2.3.4"]) == "10.0.0.5"


def test_canonical_ip() -> None:
    assert canonical_ip(" 1.2.3.4 ") == "1.2.3.4"
    assert canonical_ip("not-an-ip") is None
    assert canonical_ip("[::1") is None


def _request(headers: list[tuple[bytes, bytes]], client_ip: str = "203.0.113.9") -> Request:
    return Request("GET", "/x", "", headers, client_ip=client_ip)


def test_key_parts() -> None:
    client = ClientKey(ClientIpResolver(PROXIES))
    ctx = RequestContext()
    ctx.consumer = "alice"
    req = _request(
        [(b"x-forwarded-for", b"198.51.100.7"), (b"x-tenant", b"acme")], client_ip="10.0.0.5"
    )
    assert compile_key(["ip"], "r", client)(ctx, req) == "198.51.100.7"
    assert compile_key(["consumer"], "r", client)(ctx, req) == "alice"
    assert compile_key(["route"], "r", client)(ctx, req) == "r"
    assert compile_key(["header:x-tenant"], "r", client)(ctx, req) == header_digest(b"acme")
    combined = compile_key(["consumer", "ip", "route"], "r", client)(ctx, req)
    assert combined == SEPARATOR.join(["alice", "198.51.100.7", "r"])


def test_header_part_never_holds_the_value_and_is_bounded() -> None:
    client = ClientKey(ClientIpResolver([]))
    secret = b"zg_0123456789abcdef_" + b"s" * 5000
    key = compile_key(["header:x-api-key"], "r", client)(
        RequestContext(), _request([(b"x-api-key", secret)])
    )
    assert "sss" not in key and len(key) == 32
    missing = compile_key(["header:x-api-key"], "r", client)(RequestContext(), _request([]))
    assert missing == ""  # everyone without the header shares one bucket


def test_ipv6_clients_fold_to_prefix() -> None:
    client = ClientKey(ClientIpResolver([]), ipv6_prefix=64)
    get = compile_key(["ip"], "r", client)
    a = get(RequestContext(), _request([], client_ip="2001:db8:1:2::1"))
    b = get(RequestContext(), _request([], client_ip="2001:db8:1:2:ffff::9"))
    c = get(RequestContext(), _request([], client_ip="2001:db8:1:3::1"))
    assert a == b == "2001:db8:1:2::/64"
    assert c != a
    full = ClientKey(ClientIpResolver([]), ipv6_prefix=128)
    assert full(RequestContext(), _request([], client_ip="2001:db8::1")) == "2001:db8::1"
