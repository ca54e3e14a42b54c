"""Affinity cookies (signed, tamper-proof) and region resolution."""

from __future__ import annotations

from zonegate.config.glb import Region
from zonegate.glb.region import RegionResolver
from zonegate.glb.sticky import Affinity, AffinityCookie


def test_cookie_round_trip_and_tampering() -> None:
    cookie = AffinityCookie("prod", b"secret", "zg_affinity", 3600)
    value = cookie.encode(Affinity("eu-west-1a", "node-2"))
    assert cookie.decode(value) == Affinity("eu-west-1a", "node-2")
    tampered = value.replace("eu-west-1a", "us-east-1a")
    assert cookie.decode(tampered) is None
    other_cluster = AffinityCookie("staging", b"secret", "zg_affinity", 3600)
    assert other_cluster.decode(value) is None
    assert cookie.decode("garbage") is None
    assert cookie.decode("a~b~c~" + "x" * 600) is None
    header = b"foo=1; zg_affinity=" + value.encode() + b"; bar=2"
    assert cookie.from_header(header) == Affinity("eu-west-1a", "node-2")
    assert cookie.from_header(b"zg_affinity=nonsense") is None


def test_region_from_header_then_cidr_then_default() -> None:
    regions = [
        Region(name="eu-west", cidrs=["10.1.0.0/16"]),
        Region(name="us-east", cidrs=["10.2.0.0/16", "10.2.3.0/24"]),
    ]
    resolver = RegionResolver(regions, "X-Client-Region", "eu-west")
    assert resolver.resolve(b"US-EAST", "10.1.1.1") == "us-east"
    assert resolver.resolve(b"mars", "10.2.3.4") == "us-east"
    assert resolver.resolve(None, "10.1.9.9") == "eu-west"
    assert resolver.resolve(None, "192.168.1.1") == "eu-west"
    assert resolver.resolve(None, "not-an-ip") == "eu-west"
