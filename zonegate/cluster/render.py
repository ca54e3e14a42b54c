"""The gateway config as the local cluster runs it (demo endpoints, zones, regions filled in)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zonegate.cluster.spec import ClusterFile

if TYPE_CHECKING:
    from zonegate.cluster.plan import ProcessSpec


def render_gateway(
    file: ClusterFile, backends: Sequence[ProcessSpec], nodes: Sequence[ProcessSpec] = ()
) -> dict[str, Any]:
    """The gateway config as run: demo-service endpoints, zones and regions filled in.

    - a cluster with a demo ``service`` and no endpoints gets that service's instances;
    - without ``zones:``, the local zones (with their nodes as ``static_nodes`` when
      the nodes have an admin listener, so the GLB works even before etcd answers);
    - without ``regions:``, one client region per local region whose ``cidrs`` are
      its zones' loopback ranges (``curl --interface 127.0.3.200`` is a us-east-1
      client), and ``glb.default_region`` the first region.
    """
    doc = dict(file.gateway)
    clusters = []
    for given in doc.get("clusters", []):
        cluster = dict(given)
        service = cluster.get("service")
        if service and not cluster.get("endpoints"):
            cluster["endpoints"] = [
                {"address": b.address, "zone": b.zone} for b in backends if b.service == service
            ]
        clusters.append(cluster)
    doc["clusters"] = clusters
    local = file.local
    if "zones" not in doc:
        doc["zones"] = [{"name": z.name, "region": z.region} for z in local.zones]
    zones = []
    for declared in doc["zones"]:
        zone = dict(declared)
        static = [
            {"id": n.name, "address": n.address, "admin": n.admin}
            for n in nodes
            if n.zone == zone.get("name") and n.admin
        ]
        if static and not zone.get("static_nodes"):
            zone["static_nodes"] = static
        zones.append(zone)
    doc["zones"] = zones
    if "regions" not in doc:
        doc["regions"] = [
            {"name": region, "cidrs": [z.addresses for z in local.zones if z.region == region]}
            for region in local.regions
        ]
    glb = dict(doc.get("glb") or {})
    if "default_region" not in glb and doc["regions"]:
        glb["default_region"] = doc["regions"][0]["name"]
    doc["glb"] = glb
    return doc
