"""``zonegate ctl`` targets: names, zones, kinds, services and ZONE/KIND."""

from __future__ import annotations

import pytest

from zonegate.cluster.errors import UnknownTargetError
from zonegate.cluster.targets import Member, resolve

MEMBERS = [
    Member("etcd-a", "etcd", "a"),
    Member("etcd-b", "etcd", "b"),
    Member("orders-a", "backend", "a", "orders"),
    Member("catalog-b", "backend", "b", "catalog"),
    Member("a-1", "node", "a"),
    Member("a-2", "node", "a"),
    Member("b-1", "node", "b"),
    Member("glb-1", "glb", ""),
]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("a-1", ["a-1"]),
        ("a", ["etcd-a", "orders-a", "a-1", "a-2"]),
        ("nodes", ["a-1", "a-2", "b-1"]),
        ("node", ["a-1", "a-2", "b-1"]),
        ("etcd", ["etcd-a", "etcd-b"]),
        ("glb", ["glb-1"]),
        ("orders", ["orders-a"]),
        ("a/nodes", ["a-1", "a-2"]),
        ("b/catalog", ["catalog-b"]),
        ("b/etcd", ["etcd-b"]),
        ("all", [m.name for m in MEMBERS]),
    ],
)
def test_resolve(target: str, expected: list[str]) -> None:
    assert resolve(MEMBERS, target) == expected


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("glb-3", "did you mean 'glb-1'"),
        ("c/nodes", "unknown zone 'c'"),
        ("a/glb", "zone a has no 'glb'"),
        ("", "unknown target"),
    ],
)
def test_unknown_targets_say_what_exists(target: str, message: str) -> None:
    with pytest.raises(UnknownTargetError, match=message):
        resolve(MEMBERS, target)
